"""Embedding cache: vectors keyed by (model weights + backend, chunk text hash), in SQLite.

Text that was embedded once is never embedded again, across builds and generations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

# A rowid table: a 1.5 kB vector per row is far above the size WITHOUT ROWID tables suit
# (they spill each row to overflow pages: ~4.7 kB a vector on disk instead of ~2.1 kB).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_key TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_key, text_hash)
);
"""
_LEGACY_TABLE = "vectors"  # the WITHOUT ROWID table of earlier versions, still read
_BATCH = 500


class EmbeddingCache:
    """A SQLite file of float32 vectors; each commit is durable, so a killed build keeps work."""

    def __init__(self, path: Path, model_key: str, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._key = model_key
        self._dim = dimension
        legacy = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (_LEGACY_TABLE,)
        ).fetchone()
        self._tables = ["embeddings", _LEGACY_TABLE] if legacy else ["embeddings"]

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors of ``hashes`` under this cache's model key (missing ones left out)."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        for table in self._tables:
            missing = [h for h in wanted if h not in found]
            for begin in range(0, len(missing), _BATCH):
                part = missing[begin : begin + _BATCH]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT text_hash, vector FROM {table} "
                    f"WHERE model_key=? AND text_hash IN ({marks})",
                    [self._key, *part],
                )
                for text_hash, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    # a damaged or poisoned row is a miss: it is embedded again, and replaced
                    if vec.shape == (self._dim,) and np.isfinite(vec).all():
                        found[text_hash] = vec
        return found

    def put_many(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Store vectors (float32, finite: raises ValueError otherwise)."""
        if len(hashes) and not np.isfinite(np.asarray(vectors, dtype=np.float32)).all():
            raise ValueError("refusing to cache a vector with NaN or infinity")
        rows = [
            (self._key, h, np.asarray(v, dtype=np.float32).tobytes())
            for h, v in zip(hashes, vectors)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
