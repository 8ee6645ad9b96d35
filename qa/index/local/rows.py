"""Chunk ids and rows of a LocalIndex: the id <-> row map, the rows a thread's legs just
returned.

A row is a chunk's position in the index's global row space (FAISS ids, bm25s documents,
sentence-index rows, ``chunks.row``); callers of the reader only ever see chunk ids.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from qa.memo import Memo

_MEMO = 8  # row lists kept: one question asks for its candidates' rows several times
_RECENT_LEGS = 64  # legs remembered for the next order() (a search asks two, plus one per outlet)


class ChunkRows:
    """The chunk id of every row and the row of every live chunk id; thread-safe."""

    def __init__(self, ids: Sequence[str], live: np.ndarray) -> None:
        self.ids = np.array(ids, dtype=object)  # chunk id per row (deleted rows too)
        self._row = {cid: row for row, cid in enumerate(ids) if live[row]}
        self._recent = _Recent()
        self._memo = Memo(_MEMO)

    def returned(self, rows: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """{chunk id: score} of a leg, the rows remembered for this thread's next order()."""
        ids = self.ids[rows].tolist()
        legs = self._recent.legs
        if len(legs) >= _RECENT_LEGS:  # legs asked without an order() after them
            legs.clear()
        legs.append(rows)
        return dict(zip(ids, scores.tolist()))

    def order(self, ids: Sequence[str]) -> list[str]:
        """``ids`` in row order (KeyError for an id that is not a live chunk)."""
        given = list(ids)
        recent = self._recent
        legs, recent.legs = recent.legs, []
        ordered = None
        if legs:
            # ``ids`` are usually what this thread's legs just returned: their rows are at hand
            # (a cold lookup in the map of every chunk id costs ~1 ms a search at 200k chunks)
            rows = np.unique(np.concatenate(legs))
            asked = ids if isinstance(ids, (set, frozenset)) else set(given)
            if len(rows) == len(asked) == len(given):
                ordered = self.ids[rows].tolist()
                if not asked.issuperset(ordered):  # the same ids (unique rows, equal counts)
                    ordered = None
        if ordered is None:
            rows = np.fromiter(map(self._row.__getitem__, given), np.int64, len(given))
            at = np.argsort(rows, kind="stable")
            ordered, rows = list(map(given.__getitem__, at.tolist())), rows[at]
        recent.ordered, recent.rows, recent.position = ordered, rows, None
        self._memo.get(tuple(ordered), lambda: rows)  # what the next calls will ask
        return ordered

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """The rows of ``ids`` (a question asks this of its candidates several times: kept;
        KeyError for an id that is not a live chunk)."""
        key = tuple(ids)
        return self._memo.get(key, lambda: _lookup(self._recent.near(), self._row, key))

    def live_rows(self, ids: Sequence[str]) -> list[int]:
        """The rows of those of ``ids`` that are live chunks, in order."""
        near, every = self._recent.near(), self._row
        return [r for r in (near.get(i) or every.get(i) for i in ids) if r is not None]


class _Recent(threading.local):
    """Per thread: the rows of the legs of its current search (``legs``) and its last
    ``order()``, where the rows of a question's candidates are found without touching the map
    of every chunk id."""

    def __init__(self) -> None:
        self.legs: list[np.ndarray] = []
        self.ordered: list[str] = []
        self.rows = np.zeros(0, dtype=np.int64)
        self.position: dict[str, int] | None = None

    def near(self) -> dict[str, int]:
        """{chunk id: row} of the last ``order()`` (made on first use)."""
        if self.position is None:
            self.position = dict(zip(self.ordered, self.rows.tolist()))
        return self.position


def _lookup(near: dict[str, int], every: dict[str, int], ids: Sequence[str]) -> np.ndarray:
    """The rows of ``ids`` from ``near`` when it holds them all, else from ``every``
    (KeyError for an id that is not a live chunk)."""
    try:
        return np.fromiter(map(near.__getitem__, ids), np.int64, len(ids))
    except KeyError:
        return np.fromiter(map(every.__getitem__, ids), np.int64, len(ids))


def top(values: np.ndarray, n: int) -> np.ndarray:
    """Rows of the ``n`` largest values, those above zero only (in no particular order)."""
    n = min(n, len(values))
    rows = np.argpartition(-values, n - 1)[:n] if n else np.zeros(0, dtype=np.int64)
    return rows[values[rows] > 0]
