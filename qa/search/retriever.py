"""Hybrid retrieval through an IndexReader: candidates from each leg, fused, reranked, spread."""

from __future__ import annotations

import numpy as np

from qa.config import RetrievalSettings
from qa.embed.encoder import Encoder
from qa.errors import SettingsError
from qa.index.base import Filters, IndexReader
from qa.search.candidates import Candidates, gather
from qa.search.diversify import diversify
from qa.search.fusion import MODES, fuse
from qa.search.hits import Hit, Retrieval
from qa.search.query import OutletMatcher, plan_query
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
        found = gather(self.index, plan, tokens, qvec, filters, mode, self.settings)
        sentence = (
            found.sentence_scores(weights)
            if mode == "hybrid" and len(found)
            else np.zeros(len(found), dtype=np.float32)
        )
        score = fuse(
            plan,
            found.bm25,
            found.dense,
            sentence,
            found.sources,
            found.published,
            mode=mode,
            settings=self.settings,
        )
        pool = self._pool(found, score, k)
        hits = diversify(plan, self.reranker.rerank(plan, pool, k), k, self.settings)
        return Retrieval(plan, tuple(hits), qvec, weights)

    def _pool(self, found: Candidates, score: np.ndarray, k: int) -> list[Hit]:
        """The best ``max(pool_per_k * k, min_pool)`` candidates as hits, best first."""
        depth = max(k * self.settings.pool_per_k, self.settings.min_pool)
        at = np.argsort(-score, kind="stable")[:depth]
        chunks = found.chunks(at.tolist())
        return [
            Hit(c, s, d, b)
            for c, s, d, b in zip(
                chunks, score[at].tolist(), found.dense[at].tolist(), found.bm25[at].tolist()
            )
            if c is not None
        ]
