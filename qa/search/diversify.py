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
    present = {h.chunk.source or "" for h in pool}
    outlets = [o for o in plan.outlets if o in present]
    taken: list[Hit] = []
    per_article: Counter[str] = Counter()
    per_outlet: Counter[str] = Counter()
    seen_words: list[set[str]] = []
    while len(taken) < k and pool:
        lane = None
        if taken and len(outlets) >= 2:
            lane = min(outlets, key=lambda o: (per_outlet[o], outlets.index(o)))
        best = _best(pool, lane, per_article, settings.same_article_penalty)
        if best is None and lane is None:
            break  # nothing comparable is left (scores that are not numbers)
        if best is None:  # this outlet has nothing left: fall back to everyone
            outlets = [o for o in outlets if o != lane]
            continue
        pool.remove(best)
        words = set(best.chunk.text.lower().split())
        if any(len(words & w) > settings.near_copy * max(len(words), 1) for w in seen_words):
            continue  # a near-copy of a passage already taken
        seen_words.append(words)
        taken.append(best)
        per_article[best.chunk.article_id] += 1
        per_outlet[best.chunk.source or ""] += 1
    return taken


def _best(
    pool: list[Hit], lane: str | None, per_article: Counter[str], penalty: float
) -> Hit | None:
    """The hit of ``pool`` (in ``lane``, if any) whose score less its article's penalty is
    highest; the first of equals."""
    best, best_value = None, np.float32(-np.inf)
    for hit in pool:
        if lane is not None and (hit.chunk.source or "") != lane:
            continue
        # in float32, as the fused scores are: equal candidates stay equal
        value = np.float32(hit.score) - np.float32(penalty * per_article[hit.chunk.article_id])
        if value > best_value:
            best, best_value = hit, value
    return best
