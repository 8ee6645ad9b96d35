"""What the browser tests share: Chromium, its marks, a free port and the app over a seed copy."""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000

needs_chromium = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: run `sudo apt-get install -y chromium` "
        "(make test does it when it may)",
    ),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),  # inside gradio 6.31
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def seed_app(root: Path, encoder) -> Iterator[tuple[str, Path]]:
    """(url, corpus folder) of the web chat over a writable copy of the seed corpus, served on
    127.0.0.1 on a free port with no login, and stopped afterwards."""
    from ui.app import build_app
    from ui.server import start

    corpus, index = root / "corpus", root / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    qa.build_index(corpus, index, encoder=encoder)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("QA_AUTH", raising=False)
        app = build_app(index, corpus)
        url = start(app, port=free_port())
    try:
        yield url, corpus
    finally:
        app.close(verbose=False)
