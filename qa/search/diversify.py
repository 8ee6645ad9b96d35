"""Choosing k passages from a ranked pool: near-copies out, articles and named outlets spread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from qa.config import RetrievalSettings
from qa.search.hits import Hit
from qa.search.query import QueryPlan


def diversify(
    plan: QueryPlan,
    pool: Sequence[Hit],
    k: int,
    settings: RetrievalSettings = RetrievalSettings(),
) -> list[Hit]:
    """The top ``k`` of ``pool`` (best first) with near-copies dropped, spread over articles.

    Each further passage of an article costs ``same_article_penalty``. The best passage leads;
    after it, when the question names two or more outlets, the named outlet with the fewest
    passages so far gets the next slot, so a question about two outlets sees both early.
    """
    pool = list(pool)
    scores = np.array([h.score for h in pool], dtype=np.float32)
    article_of = {a: n for n, a in enumerate(dict.fromkeys(h.chunk.article_id for h in pool))}
    article = np.array([article_of[h.chunk.article_id] for h in pool], dtype=np.int64)
    sources = np.array([h.chunk.source or "" for h in pool], dtype=object)
    per_article = np.zeros(len(article_of), dtype=np.int64)
    alive = np.ones(len(pool), dtype=bool)
    present = set(sources.tolist())
    outlets = [o for o in plan.outlets if o in present]
    taken: list[Hit] = []
    per_outlet: Counter[str] = Counter()
    seen_words: list[set[str]] = []
    while len(taken) < k and alive.any():
        lane = None
        if taken and len(outlets) >= 2:
            lane = min(outlets, key=lambda o: (per_outlet[o], outlets.index(o)))
        allowed = alive if lane is None else alive & (sources == lane)
        best = _best(scores, per_article[article], allowed, settings.same_article_penalty)
        if best is None and lane is None:
            break  # nothing comparable is left (scores that are not numbers)
        if best is None:  # this outlet has nothing left: fall back to everyone
            outlets = [o for o in outlets if o != lane]
            continue
        alive[best] = False
        hit = pool[best]
        words = set(hit.chunk.text.lower().split())
        if any(len(words & w) > settings.near_copy * max(len(words), 1) for w in seen_words):
            continue  # a near-copy of a passage already taken
        seen_words.append(words)
        taken.append(hit)
        per_article[article[best]] += 1
        per_outlet[hit.chunk.source or ""] += 1
    return taken


def _best(
    scores: np.ndarray, earlier: np.ndarray, allowed: np.ndarray, penalty: float
) -> int | None:
    """The position whose score less ``penalty`` per earlier passage of its article is highest
    among ``allowed``; the first of equals; None when no value compares (NaN).

    In float32, as the fused scores are, so equal candidates stay equal.
    """
    values = scores - (penalty * earlier).astype(np.float32)
    values = np.where(allowed & ~np.isnan(values), values, np.float32(-np.inf))
    best = int(np.argmax(values)) if len(values) else 0
    return None if not len(values) or values[best] == -np.inf else best
