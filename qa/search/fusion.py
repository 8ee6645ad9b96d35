"""Fusing the legs of hybrid retrieval into one score per candidate: pure functions."""

from __future__ import annotations

import numpy as np

from qa.config import RetrievalSettings
from qa.search.query import QueryPlan

MODES = ("hybrid", "bm25", "dense")


def fuse(
    plan: QueryPlan,
    bm25: np.ndarray,
    dense: np.ndarray,
    sentence: np.ndarray,
    sources: np.ndarray,
    days: np.ndarray,
    *,
    mode: str = "hybrid",
    settings: RetrievalSettings = RetrievalSettings(),
) -> np.ndarray:
    """The fused float32 score of each candidate.

    Each leg is scaled to the candidates' best (dense from their median), so the weights mean
    the same for every question; outlets and dates the question names add a boost.

    Args:
        plan: The reading of the question (its outlets and dates).
        bm25: BM25 over prefixed chunks, per candidate.
        dense: Cosine of question and chunk.
        sentence: BM25 of the chunk's best sentence (only read in hybrid mode).
        sources: The candidate's outlet ("" when unknown).
        days: The candidate's ISO publication day ("" when unknown).
        mode: "hybrid", or "bm25"/"dense" to rank by one leg alone.
        settings: The weights.
    """
    if mode == "bm25":
        return bm25.astype(np.float32)
    if mode == "dense" or not len(bm25):
        return dense
    s = settings
    score = s.w_bm25 * bm25 / max(float(bm25.max()), 1e-9)
    median, top = float(np.median(dense)), float(dense.max())
    score += s.w_dense * (dense - median) / max(top - median, 1e-6)
    score += s.w_sentence * sentence / max(float(sentence.max()), 1e-9)
    if plan.outlets:
        score += s.outlet_boost * np.isin(sources, plan.outlets)
    for date in plan.dates:
        score += s.date_boost * ((days >= date.first) & (days <= date.last) & (days != ""))
    return score.astype(np.float32)
