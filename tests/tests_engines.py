"""The engines the contract suite runs against; registering the test-only ones."""

from __future__ import annotations

from engines.memory import ENGINE as MEMORY

from qa.index.factory import register_engine

register_engine("memory", MEMORY)  # the one factory line a new engine needs
ENGINES = ["local", "memory"]
