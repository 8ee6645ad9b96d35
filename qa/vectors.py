"""Dense vector index (FAISS, inner product over unit vectors, so scores are cosines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class VectorIndex:
    """A FAISS index whose ids are chunk rows of the store."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, dimension: int) -> VectorIndex:
        import faiss

        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        import faiss

        return cls(faiss.read_index(str(path)))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the ``k`` nearest rows per query; rows are -1 past the end."""
        k = max(1, min(k, self.size))
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, rows = self._index.search(q, k)
        return scores, rows

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (one per row, in order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(rows), dtype=np.float32)
