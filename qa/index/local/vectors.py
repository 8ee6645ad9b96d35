"""Dense vector index (FAISS, inner product over unit vectors, so scores are cosines); exact.

Every search returns the exact top ``k``, at any size, so a segmented index ranks as a fresh
build of the same corpus does, and a merge changes nothing (issue 13). The vectors are stored
as they are (IndexFlatIP). Each search makes the same two steps:

1. A **scan** finds candidates: FAISS's own brute-force scan below ``CODES_FROM`` vectors; from
   there, a scan of float16 codes of the vectors (half the bytes, split over ``SCAN_SHARDS``
   threads). The codes are saved beside the vectors (``codes/``: one FAISS
   IndexScalarQuantizer file a shard and ``bound.json``); an index saved without them (before
   2026-12-03) makes them in memory when it loads.
2. The candidates are **rescored** exactly (float64 dot products of the stored vectors, rounded
   to float32: a row's score does not depend on the segment or the batch it is in). The scan's
   error is bounded: a code's cosine is within its residual norm of the true one
   (Cauchy-Schwarz: |q.(x - code)| <= |x - code| for a unit q), FAISS's float32 scan within
   ``FLOAT_ERROR``. If the ``k``-th exact score beats every unscanned row's bound (the last
   candidate's scan score plus the bound), the top ``k`` is proved; otherwise the scan is
   repeated with ``RETRY_GROWTH`` times the candidates, up to every row.

Why not HNSW (used up to 2026-12-02 above 50,000 vectors): a graph depends on the order the
vectors were added, so a segmented index and a fresh build, or two fresh builds, ranked
differently (65/200 synthetic questions identical at 200,000 chunks), and building the graph
cost most of a merge. Old index files holding an HNSW graph still load; they are searched the
same exact way (the graph's storage holds the full vectors). The cost, measured in bench/ (README
"Speed"): a scan of 200,000 codes takes about 10 ms more than an HNSW search, and the codes take
768 bytes a vector in memory (HNSW's links took ~256). An exact scan grows with the archive: past
a few million chunks a question waits on it (docs/scale-out.md: Milvus).

Scan codes compared on 200,000 synthetic chunks (stand-in vectors, 600 nearest, one process,
alternating, 2026-12-02, a loaded machine): 8-bit uniform codes (bound 0.0128) could not prove
the top 600 from 1,500 candidates for 42 of 60 questions (the 600th and the 1,500th cosines were
0.012-0.013 apart) and scanned again; float16 codes (bound 0.00035) proved every one at once:
p50 / p95 13.0 / 17.1 ms, against 18.3 / 22.9 ms for 8-bit codes and 2,400 candidates.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

# Sizes and margins of the scan (measured on 200,000 synthetic chunks, README "Speed"):
CODES_FROM = 50_000  # vectors; below this FAISS's float32 scan of the vectors is a few ms
SCAN_SHARDS = 2  # threads of the code scan (the 2-core machines this runs on)
FIRST_CANDIDATES = 1.5  # times k rescored first from the codes (k=600: 900); see above
MIN_CANDIDATES = 64  # at least this many; and k + this many from the float32 scan
RETRY_GROWTH = 4  # an unproved top k scans again with this many times the candidates
FLOAT_ERROR = 1e-4  # bound on float32 rounding in a 384-d scan (~384 * 2**-24 * |q||x| = 2.3e-5)
_ENCODE_STEP = 50_000  # vectors encoded at a time when the codes are built (bounds memory)
_RESCORE_STEP = 256  # rows rescored at a time


class VectorIndex:
    """A FAISS index whose ids are chunk rows of the store, searched exactly."""

    def __init__(self, index: Any, *, codes_from: int | None = None) -> None:
        self._index = index
        self._codes_from = CODES_FROM if codes_from is None else codes_from
        self._codes: Any = None  # the float16 scan (read or made at load)
        self._bound = 0.0
        self._view: np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, vectors: np.ndarray, dimension: int) -> VectorIndex:
        """An index of ``vectors`` (unit-length float32 rows; row ``i`` gets id ``i``)."""
        import faiss

        if len(vectors) and not np.isfinite(vectors).all():
            raise ValueError("refusing to index a vector with NaN or infinity")
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    def save(self, path: Path, codes: Path | None = None) -> None:
        """Write the vectors to ``path`` and, for an index that scans codes, the codes into the
        new folder ``codes``."""
        import faiss

        faiss.write_index(self._index, str(path))
        if codes is None or not self.scans_codes:
            return
        shards, bound = self._ready_codes()
        codes.mkdir()
        sizes = []
        for i in range(shards.count()):
            shard = shards.at(i)
            faiss.write_index(shard, str(codes / f"{i}.faiss"))
            sizes.append(int(shard.ntotal))
        record = {"bound": bound, "shards": sizes, "dimension": self.dimension}
        (codes / "bound.json").write_text(json.dumps(record), encoding="utf-8")

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        dimension: int | None = None,
        codes: Path | None = None,
        codes_from: int | None = None,
    ) -> VectorIndex:
        """Read a saved index, checked: the expected dimension, and no NaN or infinite row; and
        ready to search: its codes read from ``codes`` (made when the folder is missing).

        Raises:
            ValueError: what is wrong with the files.
        """
        import faiss

        index = cls(faiss.read_index(str(path)), codes_from=codes_from)
        if dimension is not None and index.dimension != dimension:
            raise ValueError(f"vectors of dimension {index.dimension}, the model makes {dimension}")
        index.check_finite()
        if index.scans_codes and codes is not None and (codes / "bound.json").is_file():
            index._codes, index._bound = index._read_codes(codes)
        index._scanner()
        return index

    def _read_codes(self, folder: Path) -> tuple[Any, float]:
        """The saved code shards and bound, checked against the vectors."""
        import faiss

        record = json.loads((folder / "bound.json").read_text(encoding="utf-8"))
        shards = faiss.IndexShards(self.dimension, True, True)
        for i, expected in enumerate(record["shards"]):
            shard = faiss.read_index(str(folder / f"{i}.faiss"))
            if shard.ntotal != expected or shard.d != self.dimension:
                raise ValueError(f"{folder / f'{i}.faiss'} does not match bound.json")
            shards.add_shard(shard)
        if shards.ntotal != self.size or not 0 <= float(record["bound"]) < 1:
            raise ValueError(f"the codes in {folder} do not match the {self.size} vectors")
        return shards, float(record["bound"])

    def check_finite(self, step: int = 50_000) -> None:
        """Raise ValueError when a stored vector holds NaN or infinity (read ``step`` at a time)."""
        for begin in range(0, self.size, step):
            rows = np.arange(begin, min(begin + step, self.size), dtype=np.int64)
            if not np.isfinite(self.vectors_at(rows)).all():
                raise ValueError("a stored vector holds NaN or infinity")

    @property
    def kind(self) -> str:
        """The FAISS index type, for the manifest ("IndexFlatIP"; "IndexHNSWFlat" in old files)."""
        return type(self._index).__name__

    @property
    def settings(self) -> dict[str, object]:
        """What the manifest records of this index: its real type and how it is searched."""
        return {
            "engine": "faiss",
            "type": self.kind,
            "metric": "cosine",
            "search": "exact",
            "codes_from": self._codes_from,
        }

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def scans_codes(self) -> bool:
        """Whether searches scan float16 codes first (large indexes, and any old HNSW file)."""
        return self.size >= self._codes_from or self.kind != "IndexFlatIP"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the exact ``k`` nearest rows per query, best first (ties: lower
        row first); rows are -1 and scores -inf past the end."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.size))
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        rows = np.full((len(q), k), -1, dtype=np.int64)
        if not self.size:
            return scores, rows
        for i, query in enumerate(q):
            found_scores, found = self._exact_top(query, k)
            scores[i, : len(found)], rows[i, : len(found)] = found_scores, found
        return scores, rows

    def _exact_top(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The proved top ``k`` of one query (the module docstring's two steps)."""
        scan, bound = self._scanner()
        # the float32 scan is all but exact: a few more than k; the codes need a margin
        first = k * FIRST_CANDIDATES if self.scans_codes else k + MIN_CANDIDATES
        wanted = min(self.size, max(MIN_CANDIDATES, int(np.ceil(first))))
        while True:
            approx, found = scan(query[None], wanted)
            keep = found[0] >= 0
            approx, found = approx[0][keep], found[0][keep]
            exact = self.scores_of(found, query)
            order = np.lexsort((found, -exact))[:k]
            if wanted >= self.size or len(found) < wanted:
                return exact[order], found[order]
            # every row the scan did not return scans at or below its last candidate
            if approx[-1] + bound < exact[order[-1]]:
                return exact[order], found[order]
            wanted = min(self.size, wanted * RETRY_GROWTH)

    def _scanner(self) -> tuple[Any, float]:
        """The candidate scan (a callable like FAISS ``search``) and its error bound."""
        if not self.scans_codes:
            return self._index.search, FLOAT_ERROR
        shards, bound = self._ready_codes()
        return shards.search, bound

    def _ready_codes(self) -> tuple[Any, float]:
        """The code shards and their bound, made now if they were neither read nor made."""
        with self._lock:
            if self._codes is None:
                self._codes, self._bound = self._build_codes()
            return self._codes, self._bound

    def _build_codes(self) -> tuple[Any, float]:
        """Float16 codes of every vector in ``SCAN_SHARDS`` threaded shards, and the bound:
        the largest residual norm plus ``FLOAT_ERROR``."""
        import faiss

        shards = faiss.IndexShards(self.dimension, True, True)  # threaded, ids in order
        parts = np.array_split(np.arange(self.size), max(1, min(SCAN_SHARDS, self.size)))
        worst = 0.0
        for part in parts:
            shard = faiss.IndexScalarQuantizer(
                self.dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
            for begin in range(int(part[0]), int(part[-1]) + 1, _ENCODE_STEP):
                rows = np.arange(begin, min(begin + _ENCODE_STEP, int(part[-1]) + 1))
                vectors = self.vectors_at(rows)
                shard.add(vectors)
                decoded = shard.sa_decode(shard.sa_encode(vectors))
                worst = max(worst, float(np.linalg.norm(vectors - decoded, axis=1).max()))
            shards.add_shard(shard)  # FAISS's wrapper keeps the shard alive with the shards
        return shards, worst + FLOAT_ERROR

    def scores_of(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Exact cosines of ``rows`` to ``query``: float64 dot products rounded to float32.

        Computed ``_RESCORE_STEP`` rows at a time by numpy's own loop (einsum, no BLAS): a row's
        value never depends on the rows beside it, and no BLAS thread pool wakes up (a 1,500-row
        float64 product through BLAS took ~10 ms on a loaded 2-core machine, 0.2 ms this way).
        """
        rows = np.asarray(rows, dtype=np.int64)
        q = np.asarray(query, dtype=np.float64).ravel()
        out = np.empty(len(rows), dtype=np.float32)
        for begin in range(0, len(rows), _RESCORE_STEP):
            part = self.vectors_at(rows[begin : begin + _RESCORE_STEP]).astype(np.float64)
            out[begin : begin + len(part)] = np.einsum("ij,j->i", part, q)
        return out

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (one per row, in order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._stored()[rows]

    def _stored(self) -> np.ndarray:
        """Every stored vector, as a read-only numpy view of FAISS's own array (no copy)."""
        if self._view is None or len(self._view) != self.size:
            import faiss

            flat = self._index
            if not isinstance(flat, faiss.IndexFlat):  # an old HNSW file: its storage is flat
                flat = faiss.downcast_index(flat.storage)
            view = faiss.rev_swig_ptr(flat.get_xb(), self.size * self.dimension)
            self._view = view.reshape(self.size, self.dimension)
            self._view.flags.writeable = False
        return self._view
