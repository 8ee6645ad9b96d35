"""A passage reranker on the trained reader's sentence scores: a passage is as good as its best
sentence at answering, added to its fused score.

It lives in qa/answer/ because it needs the reader's analysis, features and weights, and
qa/search must not import qa/answer; it implements qa.search.rerank.Reranker, so the retriever
never names it. Only the top ``RerankSettings.top_n`` fused candidates are read (each sentence
encoded once, cached per chunk as the reader does); the rest keep their fused order below them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from qa.answer.features import Candidate, candidate_features
from qa.answer.scorer import WEIGHTS_DIR, SentenceScorer
from qa.answer.sentence_tokens import shared_cache
from qa.config import AnswerSettings, ReaderSettings, RerankSettings
from qa.embed.encoder import Encoder
from qa.search.hits import Hit
from qa.search.query import QueryPlan


class SentenceReranker:
    """Reorders the top fused passages by ``fused + weight * best sentence logit``."""

    def __init__(
        self,
        encoder: Encoder,
        settings: RerankSettings | None = None,
        reader: ReaderSettings | None = None,
        answer: AnswerSettings | None = None,
    ) -> None:
        self.settings = settings or RerankSettings()
        reader, answer = reader or ReaderSettings(), answer or AnswerSettings()
        self.scorer = SentenceScorer.load(WEIGHTS_DIR / reader.weights, reader.weights_sha256)
        self._encoder = encoder
        self.sentences = shared_cache(
            encoder,
            reader.weights_sha256,
            self.scorer.sentence,
            reader.token_vector_bytes,
            answer.min_quote_words,
        )

    def passage_logits(self, plan: QueryPlan, hits: Sequence[Hit]) -> np.ndarray:
        """The best sentence logit of each hit (-inf for a hit with no quotable sentence)."""
        by_chunk = self.sentences.of([h.chunk for h in hits])
        cands, owner = [], []
        for i, h in enumerate(hits):
            packed = by_chunk[h.chunk.id]
            for pos, (pooled, rows, text) in enumerate(
                zip(packed.pooled, packed.token_rows(), packed.texts)
            ):
                cands.append(Candidate(pooled, rows.astype(np.float32), text, i, pos))
                owner.append(i)
        out = np.full(len(hits), -np.inf)
        if not cands:
            return out
        q = self.scorer.question(plan.question, _pool_idf(cands, len(hits)))
        qv = self._encoder.encode_tokens([plan.question])[0]
        x = candidate_features(q, qv.pooled, qv.tokens, qv.offsets, cands)
        logits = self.scorer.ranker.logit(x)
        np.maximum.at(out, np.array(owner), logits)
        return out

    def rerank(self, plan: QueryPlan, hits: Sequence[Hit], k: int) -> list[Hit]:
        n = min(self.settings.top_n, len(hits))
        if n < 2:
            return list(hits)
        head, rest = list(hits[:n]), list(hits[n:])
        best = self.passage_logits(plan, head)
        floor = float(np.min(best[np.isfinite(best)])) if np.isfinite(best).any() else 0.0
        best = np.where(np.isfinite(best), best, floor)
        scores = [h.score + self.settings.weight * float(b) for h, b in zip(head, best)]
        order = sorted(range(n), key=lambda i: -scores[i])  # stable: ties keep the fused order
        out = [dataclasses.replace(head[i], score=float(scores[i])) for i in order]
        if rest:  # below the reranked head, in their fused order and spacing
            shift = min(scores) - rest[0].score - 1e-3
            out += [dataclasses.replace(h, score=h.score + shift) for h in rest]
        return out


def _pool_idf(cands: Sequence[Candidate], n_passages: int):  # noqa: ANN202
    """IDF of a stem over the passages read (no index at hand: the Reranker sees only hits)."""
    df: dict[str, int] = {}
    seen: dict[int, set[str]] = {}
    for c in cands:
        seen.setdefault(c.doc, set()).update(c.text.stems)
    for stems in seen.values():
        for s in stems:
            df[s] = df.get(s, 0) + 1

    def idf(stem: str) -> float:
        return math.log(1.0 + (n_passages + 0.5) / (df.get(stem, 0) + 0.5))

    return idf
