"""Does the sentence reranker (qa/answer/rerank.py) help evidence retrieval? Fit and held-out.

For each answerable MultiHop-RAG dev question with evidence facts: the fused pool once (the
default retriever), the best sentence logit of its top N passages once, then every weight of a
grid by reranking and diversifying that pool (the retriever's own two last stages, pure), scored
as the data set's README says (MRR@10, Hits@4, Hits@10: a passage containing a fact). The weight
is picked on the even-numbered questions and reported on the odd ones.

    python bench/rerank_eval.py INDEX QUESTIONS [--count 200] [--top-n 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import numpy as np

import qa
from qa.answer.rerank import SentenceReranker
from qa.config import RerankSettings
from qa.search.diversify import diversify

WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


class _Keep:
    """KeepOrder that remembers the pool it was given."""

    def rerank(self, plan, hits, k):  # noqa: ANN001, ANN201
        self.plan, self.pool = plan, list(hits)
        return list(hits)


def _squash(text: str) -> str:
    return "".join(text.split())


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {
        "mrr@10": sum(0 if r is None else 1 / (r + 1) for r in ranks) / n,
        "hits@4": sum(r is not None and r < 4 for r in ranks) / n,
        "hits@10": sum(r is not None for r in ranks) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("index")
    ap.add_argument("questions")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--top-n", type=int, default=20)
    args = ap.parse_args()
    with open(args.questions, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    items = [q for q in items if q.get("evidence")]
    step = max(1, len(items) // args.count)
    items = items[::step][: args.count]
    keep = _Keep()
    assistant = qa.Assistant.open(args.index, reranker=keep)
    reranker = SentenceReranker(assistant.encoder, RerankSettings(top_n=args.top_n))
    settings = assistant.retrieval
    saved, t_fused, t_rerank = [], [], []
    for item in items:
        t0 = time.perf_counter()
        assistant.retrieve(item["question"], k=10)
        t1 = time.perf_counter()
        logits = reranker.passage_logits(keep.plan, keep.pool[: args.top_n])
        t2 = time.perf_counter()
        t_fused.append(t1 - t0)
        t_rerank.append(t2 - t1)
        facts = [_squash(e["fact"]) for e in item["evidence"]]
        saved.append((keep.plan, keep.pool, logits, facts))
    print(f"{len(saved)} questions, top_n {args.top_n}")
    print(
        f"retrieve p50 {statistics.median(t_fused):.3f}s; reranker extra p50 "
        f"{statistics.median(t_rerank):.3f}s (first read of each chunk, cache cold)"
    )
    for w in WEIGHTS:
        ranks = {0: [], 1: []}
        for n, (plan, pool, logits, facts) in enumerate(saved):
            best = np.where(
                np.isfinite(logits),
                logits,
                np.nanmin(np.where(np.isfinite(logits), logits, np.nan))
                if np.isfinite(logits).any()
                else 0.0,
            )
            head = [
                dataclasses.replace(h, score=h.score + w * float(b)) for h, b in zip(pool, best)
            ]
            head.sort(key=lambda h: -h.score)
            rest = pool[len(head) :]
            if rest:
                shift = min(h.score for h in head) - rest[0].score - 1e-3
                rest = [dataclasses.replace(h, score=h.score + shift) for h in rest]
            top = diversify(plan, head + rest, 10, settings)
            hit = next(
                (i for i, h in enumerate(top) if any(f in _squash(h.chunk.text) for f in facts)),
                None,
            )
            ranks[n % 2].append(hit)
        fit, held = _metrics(ranks[0]), _metrics(ranks[1])
        print(
            f"w={w:<5} fit(even) "
            + " ".join(f"{k} {v:.3f}" for k, v in fit.items())
            + " | held-out(odd) "
            + " ".join(f"{k} {v:.3f}" for k, v in held.items())
        )


if __name__ == "__main__":
    main()
