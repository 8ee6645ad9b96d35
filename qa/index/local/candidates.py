"""A question's candidates as rows of a LocalIndex: chunk ids made only for those asked for.

What ``LocalIndex.candidates`` returns (the ``Candidates`` of ``qa.search.candidates``): the
same scores the id-keyed reader methods give, without a dictionary or an id per candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qa.index.base import StoredChunk


class RowCandidates:
    """Candidates in storage (row) order with their leg scores and fusion's metadata."""

    def __init__(
        self,
        rows: np.ndarray,
        bm25: np.ndarray,
        dense: np.ndarray,
        sources: np.ndarray,
        published: np.ndarray,
        sentences: Callable[[np.ndarray, dict[str, float]], np.ndarray],
        chunks: Callable[[list[int]], list[StoredChunk]],
        ids: np.ndarray,
    ) -> None:
        self.rows = rows
        self.bm25 = bm25
        self.dense = dense
        self.sources = sources
        self.published = published
        self._sentences = sentences
        self._chunks = chunks
        self._ids = ids  # chunk id per global row

    def __len__(self) -> int:
        return len(self.rows)

    def sentence_scores(self, weights: dict[str, float]) -> np.ndarray:
        return self._sentences(self.rows, weights)

    def chunks(self, positions: Sequence[int]) -> list[StoredChunk | None]:
        rows = self.rows[np.asarray(positions, dtype=np.int64)]
        found = {c.id: c for c in self._chunks(rows.tolist())}
        return list(map(found.get, self._ids[rows].tolist()))


def known_cosines(
    rows: np.ndarray,
    near: np.ndarray | None,
    near_scores: np.ndarray,
    compute: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The cosine of each of ``rows``: the dense leg's where it returned the row (``near``,
    ``near_scores``), else ``compute(rows it did not return)`` (float32)."""
    out = np.empty(len(rows), dtype=np.float32)
    known = np.zeros(len(rows), dtype=bool)
    if near is not None and len(near) and len(rows):
        order = np.argsort(near, kind="stable")
        sorted_near = near[order]
        # the last of equal rows, as a {row: score} dict of the leg would keep
        at = np.maximum(np.searchsorted(sorted_near, rows, side="right") - 1, 0)
        known = sorted_near[at] == rows
        out[known] = near_scores[order[at[known]]]
    missing = ~known
    if missing.any():
        out[missing] = compute(rows[missing])
    return out
