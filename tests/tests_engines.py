"""The engines the contract suite runs against; registering the test-only ones."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import pytest
from engines.memory import ENGINE as MEMORY

from qa.index.factory import register_engine

register_engine("memory", MEMORY)  # the one factory line a new engine needs

MILVUS = all(importlib.util.find_spec(m) for m in ("pymilvus", "milvus_lite"))
needs_milvus = pytest.mark.skipif(
    not MILVUS, reason="pymilvus and milvus-lite are not installed (pip install '.[scale]')"
)
ENGINES = ["local", "memory", pytest.param("milvus-lite", marks=needs_milvus)]


def location(engine: str, folder: Path) -> str:
    """A new, empty index location of ``engine`` (files, if any, under ``folder``)."""
    if engine == "local":
        return str(folder / "index")
    if engine == "milvus-lite":
        return f"milvus-lite:{folder / 'index.db'}"
    return f"{engine}:seed-{secrets.token_hex(4)}"
