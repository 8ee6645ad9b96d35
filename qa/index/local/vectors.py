"""Dense vector index (FAISS, inner product over unit vectors, so scores are cosines).

Up to ``APPROXIMATE_FROM`` vectors the index is exact (IndexFlatIP): a brute-force scan of 50,000
384-d vectors takes a few milliseconds. Above it, an HNSW graph over the same full-precision
vectors (IndexHNSWFlat) keeps a query at a millisecond or two at 200,000 chunks, at a recall@10
against exact search of about 0.99 (bench/run.py measures it). HNSW stores the vectors as they
are, so ``vectors_at`` (reconstruct) still returns exact cosines for any row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

APPROXIMATE_FROM = 50_000  # vectors; below this, exact search
HNSW_M = 32  # graph neighbours per node: ~256 bytes of links per vector on top of 4*d
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256  # raised to k when a search asks for more (retrieval asks for 600)


class VectorIndex:
    """A FAISS index whose ids are chunk rows of the store."""

    def __init__(self, index: Any) -> None:
        self._index = index
        if self.kind == "IndexHNSWFlat":
            index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(
        cls, vectors: np.ndarray, dimension: int, *, approximate_from: int = APPROXIMATE_FROM
    ) -> VectorIndex:
        """Exact index for up to ``approximate_from`` vectors, HNSW above.

        Args:
            vectors: Unit-length float32 rows; row ``i`` gets id ``i``.
            dimension: Vector size.
            approximate_from: Size from which the approximate index is used.
        """
        import faiss

        if len(vectors) and not np.isfinite(vectors).all():
            raise ValueError("refusing to index a vector with NaN or infinity")
        if len(vectors) >= approximate_from:
            index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, *, dimension: int | None = None) -> VectorIndex:
        """Read a saved index, checked: the expected dimension, and no NaN or infinite row.

        Raises:
            ValueError: what is wrong with the file.
        """
        import faiss

        index = cls(faiss.read_index(str(path)))
        if dimension is not None and index.dimension != dimension:
            raise ValueError(f"vectors of dimension {index.dimension}, the model makes {dimension}")
        index.check_finite()
        return index

    def check_finite(self, step: int = 50_000) -> None:
        """Raise ValueError when a stored vector holds NaN or infinity (read ``step`` at a time)."""
        for begin in range(0, self.size, step):
            rows = np.arange(begin, min(begin + step, self.size), dtype=np.int64)
            if not np.isfinite(self.vectors_at(rows)).all():
                raise ValueError("a stored vector holds NaN or infinity")

    @property
    def kind(self) -> str:
        """The FAISS index type, for the manifest ("IndexFlatIP" or "IndexHNSWFlat")."""
        return type(self._index).__name__

    @property
    def settings(self) -> dict[str, object]:
        """What the manifest records of this index: its real type and, for HNSW, its graph."""
        out: dict[str, object] = {"engine": "faiss", "type": self.kind, "metric": "cosine"}
        if self.kind == "IndexHNSWFlat":
            out.update(
                hnsw_m=int(self._index.hnsw.nb_neighbors(1)),
                ef_construction=int(self._index.hnsw.efConstruction),
                ef_search=HNSW_EF_SEARCH,
            )
        return out

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
        if self.kind == "IndexHNSWFlat":
            import faiss

            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
            return self._index.search(q, k, params=params)
        scores, rows = self._index.search(q, k)
        return scores, rows

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (one per row, in order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(rows), dtype=np.float32)
