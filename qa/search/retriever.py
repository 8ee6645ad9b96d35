"""Hybrid retrieval through an IndexReader: candidates from each leg, fused, reranked, spread."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np

from qa.config import RetrievalSettings
from qa.embed.encoder import Encoder
from qa.errors import SettingsError
from qa.index.base import Filters, IndexReader
from qa.search.diversify import diversify
from qa.search.fusion import MODES, fuse
from qa.search.hits import Hit, Retrieval
from qa.search.query import OutletMatcher, QueryPlan, plan_query
from qa.search.rerank import KeepOrder, Reranker
from qa.text.tokens import tokenize


class Retriever:
    """Ranks the chunks of one index version for a question."""

    def __init__(
        self,
        index: IndexReader,
        encoder: Encoder,
        *,
        reranker: Reranker | None = None,
        settings: RetrievalSettings = RetrievalSettings(),
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.reranker = reranker or KeepOrder()
        self.settings = settings
        self.outlets = OutletMatcher(index.catalog().sources)

    def search(
        self,
        question: str,
        k: int,
        *,
        filters: Filters = Filters(),
        mode: str = "hybrid",
        context: str = "",
    ) -> Retrieval:
        """The ``k`` best chunks for ``question`` under ``filters``; ``context`` widens it.

        Raises:
            SettingsError: an unknown mode.
        """
        if mode not in MODES:
            raise SettingsError(
                f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}"
            )
        plan = plan_query(question, self.outlets)
        qvec = self.encoder.encode_queries([f"{context} {plan.text}".strip()])[0]
        tokens = tokenize([f"{context} {question}".strip()])[0]
        weights = self.index.term_weights(list(dict.fromkeys(tokens)))
        ids, bm25, dense = self._candidates(plan, tokens, qvec, filters, mode)
        refs = self.index.refs(ids)
        sentence = (
            self.index.best_sentence_scores(ids, weights)
            if mode == "hybrid" and ids
            else np.zeros(len(ids), dtype=np.float32)
        )
        score = fuse(
            plan,
            bm25,
            dense,
            sentence,
            refs.sources,
            refs.published,
            mode=mode,
            settings=self.settings,
        )
        pool = self._pool(ids, score, dense, bm25, k)
        hits = diversify(plan, self.reranker.rerank(plan, pool, k), k, self.settings)
        return Retrieval(plan, tuple(hits), qvec, weights)

    def _candidates(
        self,
        plan: QueryPlan,
        tokens: list[str],
        qvec: np.ndarray,
        filters: Filters,
        mode: str,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Candidate ids in storage order, with their BM25 and dense scores (float32)."""
        s = self.settings
        lexical = self.index.lexical(tokens, s.candidates, filters) if mode != "dense" else {}
        near = self.index.dense(qvec, s.dense_candidates, filters)
        found = set(lexical)
        if mode != "bm25":
            found.update(near)
        if mode == "hybrid":
            for outlet in plan.outlets:
                lane = filters.within(outlet)
                if lane is not None:
                    found |= set(self.index.lexical(tokens, s.outlet_candidates, lane))
        ids = self.index.order(found)
        return ids, self._known(ids, lexical, tokens, None), self._known(ids, near, None, qvec)

    def _known(
        self,
        ids: list[str],
        scores: dict[str, float],
        tokens: list[str] | None,
        qvec: np.ndarray | None,
    ) -> np.ndarray:
        """Each id's score from ``scores``, asking the index for the ones a leg did not return."""
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

    def _pool(
        self,
        ids: Sequence[str],
        score: np.ndarray,
        dense: np.ndarray,
        bm25: np.ndarray,
        k: int,
    ) -> list[Hit]:
        """The best ``max(pool_per_k * k, min_pool)`` candidates as hits, best first."""
        depth = max(k * self.settings.pool_per_k, self.settings.min_pool)
        at = np.argsort(-score, kind="stable")[:depth]
        chosen = [ids[i] for i in at.tolist()]
        chunks = {c.id: c for c in self.index.chunks(chosen)}
        return [
            Hit(chunks[i], s, d, b)
            for i, s, d, b in zip(chosen, score[at].tolist(), dense[at].tolist(), bm25[at].tolist())
            if i in chunks
        ]
