"""Shared fixtures: the real bundled model loaded once, a seed index built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
MULTIHOP = SHARED / "data" / "multihop-rag"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def encoder():
    """The default encoder: OpenVINO int8, exported into the user cache on first use."""
    from qa.embed.encoder import open_encoder

    return open_encoder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, encoder) -> Path:
    """A built index of the five seed articles (read-only for tests)."""
    import qa

    index = tmp_path_factory.mktemp("seed") / "index"
    qa.build_index(SEED, index, encoder=encoder)
    return index


@pytest.fixture()
def seed_copy(tmp_path) -> Path:
    """A writable copy of the seed corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEED, dest)
    return dest


def multihop_articles() -> Path:
    path = MULTIHOP / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"benchmark data not found at {path}")
    return path
