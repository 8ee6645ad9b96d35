"""Tampered and poisoned indexes: each damage is refused in one line, then `qa index` repairs it.

For `make stress` (bench/stress.py) and tests/test_damage.py. Every trial copies a good index,
damages one file, and runs the real command line: `qa ask` must answer or refuse in one line
(no traceback, no hang), `qa index` on the same corpus must repair it, and `qa ask` must then
answer with sources.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Q = "who denied cooperation in the Palestine Street strike?"


def live(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def truncate_sqlite(index: Path) -> None:
    path = live(index) / "meta.sqlite"
    path.write_bytes(path.read_bytes()[:1000])


def random_sqlite(index: Path) -> None:
    path = live(index) / "meta.sqlite"
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def empty_sqlite(index: Path) -> None:
    (live(index) / "meta.sqlite").write_bytes(b"")


def drop_chunks_table(index: Path) -> None:
    _sql(index, "DROP TABLE chunks")


def orphan_chunk_rows(index: Path) -> None:
    _sql(index, "UPDATE chunks SET article_id = 'no-such-article' WHERE row = 0")


def nan_vectors(index: Path) -> None:
    import faiss

    path = live(index) / "vectors.faiss"
    stored = faiss.read_index(str(path))
    rows = stored.reconstruct_n(0, stored.ntotal)
    rows[[0, 1]] = np.nan
    poisoned = faiss.IndexFlatIP(rows.shape[1])
    poisoned.add(rows)
    faiss.write_index(poisoned, str(path))


def other_dimension(index: Path) -> None:
    import faiss

    stored = faiss.read_index(str(live(index) / "vectors.faiss"))
    other = faiss.IndexFlatIP(8)
    other.add(np.eye(8, dtype="float32")[:1].repeat(stored.ntotal, axis=0))
    faiss.write_index(other, str(live(index) / "vectors.faiss"))


def nan_cache_and_lost_generation(index: Path) -> None:
    db = sqlite3.connect(index / "cache" / "embeddings.sqlite")
    db.execute("UPDATE embeddings SET vector = ?", (np.full(384, np.nan, "float32").tobytes(),))
    db.commit()
    db.close()
    shutil.rmtree(live(index))


def manifest_model_as_text(index: Path) -> None:
    path = live(index) / "manifest.json"
    path.write_text(path.read_text().replace('"model": {', '"model": "MiniLM", "x": {', 1))


def flipped_byte(index: Path) -> None:
    path = live(index) / "bm25" / "counts.npz"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def grown_file(index: Path) -> None:
    with (live(index) / "sentences" / "vocab.json").open("a") as fh:
        fh.write(" ")


def _sql(index: Path, statement: str) -> None:
    db = sqlite3.connect(live(index) / "meta.sqlite")
    db.execute(statement)
    db.commit()
    db.close()


# (name, damage, needs --verify to be found)
DAMAGES: list[tuple[str, Callable[[Path], None], bool]] = [
    ("meta.sqlite truncated", truncate_sqlite, False),
    ("meta.sqlite random bytes", random_sqlite, False),
    ("meta.sqlite empty", empty_sqlite, False),
    ("meta.sqlite table dropped", drop_chunks_table, False),
    ("meta.sqlite chunk rows of no article", orphan_chunk_rows, False),
    ("vectors.faiss with NaN rows", nan_vectors, False),
    ("vectors.faiss of another dimension", other_dimension, False),
    ("embedding cache of NaN, generation lost", nan_cache_and_lost_generation, False),
    ("manifest model as text", manifest_model_as_text, False),
    ("a flipped byte, same size", flipped_byte, True),
    ("a file grown by a byte", grown_file, False),
]


@dataclass
class TamperResult:
    trials: int = 0
    hangs: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)
    refused_in_one_line: int = 0


def _qa(*args: str, timeout: float) -> subprocess.CompletedProcess | None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "qa.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return None


def run_tamper(
    work: Path,
    good_index: Path,
    corpus: Path,
    *,
    damages: list[tuple[str, Callable[[Path], None], bool]] = DAMAGES,
    timeout: float = 120,
) -> TamperResult:
    """Each of ``damages`` on a copy of ``good_index`` (built from ``corpus``)."""
    result = TamperResult()
    for name, damage, needs_verify in damages:
        index = work / name.replace(" ", "-").replace(",", "")
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(good_index, index)
        before = (index / "CURRENT").read_text()
        damage(index)
        result.trials += 1
        asked = _qa("ask", Q, "--index", str(index), timeout=timeout)
        if asked is None:
            result.hangs.append(f"{name}: qa ask")
            continue
        if "Traceback" in asked.stderr:
            result.tracebacks.append(f"{name}: qa ask: {asked.stderr.strip().splitlines()[-1]}")
        lines = asked.stderr.strip().splitlines()
        if asked.returncode == 1 and len(lines) == 1 and lines[0].startswith("qa ask: error:"):
            result.refused_in_one_line += 1
        verify = ["--verify"] if needs_verify else []
        built = _qa(
            "index", str(corpus), "--index", str(index), "--quiet", *verify, timeout=timeout
        )
        again = _qa("ask", Q, "--index", str(index), timeout=timeout)
        if built is None or again is None:
            result.hangs.append(f"{name}: repair")
        elif built.returncode or again.returncode or "Sources:" not in again.stdout:
            tail = (built.stderr + again.stderr).strip().splitlines()[-1:] or ["no answer"]
            result.unrepaired.append(f"{name}: {tail[0]}")
        elif (index / "CURRENT").read_text() == before:
            result.unrepaired.append(f"{name}: `qa index` kept the damaged generation")
    return result
