"""Retrieval before and after a change, side by side: same top-k? how fast?

Runs the working tree's ``Retriever.search`` and the one of a git revision (default HEAD) on the
same opened index, question by question, alternating which goes first, and prints how many
questions got the same hits in the same order with the same scores, and p50/p95 latency of each
(search plus turning hits into passages, as ``Assistant.retrieve`` does).

    .venv/bin/python bench/bench_retrieval.py /tmp/mhr-index
    .venv/bin/python bench/bench_retrieval.py INDEX --synthetic 200000 --count 200
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from bench_corpus import synthetic_questions  # noqa: E402
from bench_measure import percentile_ms  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "multihop-rag" / "dev_questions.jsonl"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("index", type=Path, help="index folder (read only)")
    p.add_argument("--baseline", default="HEAD", help="git revision of qa/retrieval.py to compare")
    p.add_argument("--questions", type=Path, default=DEV, help="JSONL with a 'question' field")
    p.add_argument("--synthetic", type=int, help="ask bench_corpus questions for N briefs instead")
    p.add_argument("--count", type=int, help="number of questions (default: all)")
    p.add_argument("--k", type=int, default=10)
    return p.parse_args(argv)


def _baseline(revision: str) -> ModuleType:
    """qa/retrieval.py as it was at ``revision``, imported under another name."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:qa/retrieval.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_retrieval.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_retrieval", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _questions(args: argparse.Namespace) -> list[str]:
    if args.synthetic:
        return synthetic_questions(args.synthetic, args.count or 200)
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return questions[: args.count] if args.count else questions


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    from qa import store
    from qa.answering import passage_of
    from qa.embedding import Embedder
    from qa.retrieval import Retriever

    questions = _questions(args)
    generation = store.open_generation(args.index)
    embedder = Embedder(backend=generation.manifest["model"]["backend"])
    saved = generation.has_saved_sentences
    started = time.perf_counter()
    new = Retriever(generation, embedder)
    opened = time.perf_counter() - started
    old = _baseline(args.baseline).Retriever(generation, embedder)
    sentences = generation.sentences()
    print(
        f"{generation.chunk_count:,} chunks; Retriever opened in {opened:.2f} s, its sentence "
        f"index {'loaded' if saved else 'computed from the chunks'}: "
        f"{sentences.settings['sentences']:,} sentences, {sentences.settings['nonzeros']:,} "
        f"nonzeros, {sentences.nbytes / 1e6:.1f} MB = "
        f"{sentences.nbytes / max(generation.chunk_count, 1):.0f} bytes/chunk"
    )

    def run(retriever, question):
        result = retriever.search(question, args.k)
        [passage_of(h, result) for h in result.hits]
        return result.hits

    for question in questions[:3]:  # lazy imports and first-call costs
        run(old, question), run(new, question)
    seconds = {"old": [], "new": []}
    same_rows = same_scores = 0
    worst = 0.0
    for i, question in enumerate(questions):
        order = [("old", old), ("new", new)] if i % 2 == 0 else [("new", new), ("old", old)]
        hits = {}
        for name, retriever in order:
            t0 = time.perf_counter()
            hits[name] = run(retriever, question)
            seconds[name].append(time.perf_counter() - t0)
        rows = [[h.chunk.row for h in hits[n]] for n in ("old", "new")]
        if rows[0] == rows[1]:
            same_rows += 1
            a, b = (np.array([h.score for h in hits[n]]) for n in ("old", "new"))
            worst = max(worst, float(np.abs(a - b).max(initial=0.0)))
            same_scores += bool(np.allclose(a, b, rtol=1e-6, atol=1e-6))
        else:
            print(f"  differs: {question!r}\n    old {rows[0]}\n    new {rows[1]}")
    n = len(questions)
    print(
        f"identical top-{args.k} rows and order: {same_rows}/{n}; scores within 1e-6: "
        f"{same_scores}/{n} (largest difference {worst:.2e})"
    )
    for name in ("old", "new"):
        label = f"{args.baseline} " if name == "old" else "working tree"
        print(
            f"{name} ({label.strip()}): search+passages p50 {percentile_ms(seconds[name], 50):.1f}"
            f" ms, p95 {percentile_ms(seconds[name], 95):.1f} ms over {n} questions"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
