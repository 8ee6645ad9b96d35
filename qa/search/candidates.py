"""The candidates of a question: the union of the retrieval legs, with each leg's score.

Any IndexReader gives them through its id-keyed methods (``IdCandidates``). An index may also
offer them whole (a ``candidates`` method, see ``FastCandidates``): the local index keeps them
as rows and makes chunk ids only for the few that reach the pool. Both give the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Protocol, runtime_checkable

import numpy as np

from qa.config import RetrievalSettings
from qa.index.base import Filters, IndexReader, StoredChunk
from qa.search.query import QueryPlan


class Candidates(Protocol):
    """Candidates in storage order, with their leg scores and what fusion reads of them."""

    bm25: np.ndarray  # float32 per candidate
    dense: np.ndarray  # float32 cosine per candidate
    sources: np.ndarray  # outlet, "" when unknown
    published: np.ndarray  # ISO day, "" when unknown

    def __len__(self) -> int: ...

    def sentence_scores(self, weights: dict[str, float]) -> np.ndarray:
        """BM25 of each candidate's best sentence (float32)."""
        ...

    def chunks(self, positions: Sequence[int]) -> list[StoredChunk | None]:
        """The stored chunks at ``positions`` (None where a chunk is gone), in that order."""
        ...


@runtime_checkable
class FastCandidates(Protocol):
    """An index that gathers a question's candidates itself (same values as ``IdCandidates``)."""

    def candidates(
        self,
        terms: Sequence[str],
        vector: np.ndarray,
        filters: Filters,
        *,
        lexical_k: int,
        dense_k: int,
        lanes: Sequence[Filters],
        lane_k: int,
        use_lexical: bool,
        use_dense: bool,
    ) -> Candidates: ...


def gather(
    index: IndexReader,
    plan: QueryPlan,
    tokens: list[str],
    qvec: np.ndarray,
    filters: Filters,
    mode: str,
    settings: RetrievalSettings,
) -> Candidates:
    """The candidates of BM25 (unless ``mode`` is dense), dense (unless bm25) and, in hybrid
    mode, BM25 within each outlet the question names."""
    s = settings
    lanes = []
    if mode == "hybrid":
        lanes = [lane for lane in map(filters.within, plan.outlets) if lane is not None]
    if isinstance(index, FastCandidates):
        return index.candidates(
            tokens,
            qvec,
            filters,
            lexical_k=s.candidates,
            dense_k=s.dense_candidates,
            lanes=lanes,
            lane_k=s.outlet_candidates,
            use_lexical=mode != "dense",
            use_dense=mode != "bm25",
        )
    return IdCandidates(index, tokens, qvec, filters, lanes, mode, s)


class IdCandidates:
    """Candidates through the id-keyed IndexReader methods (every engine has them)."""

    def __init__(
        self,
        index: IndexReader,
        tokens: list[str],
        qvec: np.ndarray,
        filters: Filters,
        lanes: Sequence[Filters],
        mode: str,
        s: RetrievalSettings,
    ) -> None:
        self.index = index
        lexical = index.lexical(tokens, s.candidates, filters) if mode != "dense" else {}
        near = index.dense(qvec, s.dense_candidates, filters)
        found = set(lexical)
        if mode != "bm25":
            found.update(near)
        for lane in lanes:
            found |= set(index.lexical(tokens, s.outlet_candidates, lane))
        self.ids = index.order(found)
        self.bm25 = self._known(lexical, tokens, None)
        self.dense = self._known(near, None, qvec)
        refs = index.refs(self.ids)
        self.sources, self.published = refs.sources, refs.published

    def __len__(self) -> int:
        return len(self.ids)

    def sentence_scores(self, weights: dict[str, float]) -> np.ndarray:
        return self.index.best_sentence_scores(self.ids, weights)

    def chunks(self, positions: Sequence[int]) -> list[StoredChunk | None]:
        chosen = [self.ids[i] for i in positions]
        found = {c.id: c for c in self.index.chunks(chosen)}
        return list(map(found.get, chosen))

    def _known(
        self,
        scores: dict[str, float],
        tokens: list[str] | None,
        qvec: np.ndarray | None,
    ) -> np.ndarray:
        """Each id's score from ``scores``, asking the index for the ones a leg did not return."""
        ids = self.ids
        # NaN marks an id the leg did not return (a leg's scores are numbers: cosines, BM25)
        found = np.fromiter(map(scores.get, ids, repeat(np.nan)), np.float64, len(ids))
        out = found.astype(np.float32)
        missing = np.flatnonzero(np.isnan(found))
        if len(missing):
            rest = list(map(ids.__getitem__, missing.tolist()))
            if tokens is not None:
                out[missing] = self.index.lexical_scores(tokens, rest)
            else:
                out[missing] = self.index.cosines(qvec, rest)
        return out
