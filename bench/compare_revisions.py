"""Behaviour and speed before and after a change, side by side in one run.

Runs this working tree and a git revision (default HEAD) as two worker processes over the same
index and the same questions, one question to each in turn (so machine load hits both alike),
and prints how many questions got identical top-k hits (chunk ids, and scores to 1e-6) and
identical answers (``Answer.to_dict()``, on the fields both revisions have), with the latency of
each side and their ratio. With a clean tree and the default ``--baseline HEAD`` both sides run
the same code: the ratios then show the noise of the machine.

    .venv/bin/python bench/compare_revisions.py INDEX --baseline 64ec567
    .venv/bin/python bench/compare_revisions.py INDEX --synthetic 200000 --count 200
    .venv/bin/python bench/compare_revisions.py INDEX --questions tests/data/seed_questions.jsonl

The index must be readable by both revisions, or each side gets its own index of the same corpus
(``--baseline-index``, built by the baseline's code from a copy of the embedding cache).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_corpus import synthetic_questions  # noqa: E402
from bench_measure import percentile_ms  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "multihop-rag" / "dev_questions.jsonl"

_WORKER = r"""
import json, os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import qa
assistant = qa.Assistant.open(sys.argv[1])
k = int(sys.argv[2])
print(json.dumps({"ready": qa.__file__}), flush=True)
for line in sys.stdin:
    q = json.loads(line)["q"]
    t0 = time.perf_counter()
    hits = assistant.retriever.search(q, k).hits
    t1 = time.perf_counter()
    passages = assistant.retrieve(q, k=k)
    t2 = time.perf_counter()
    answer = assistant.ask(q)
    t3 = time.perf_counter()
    print(json.dumps({
        "ids": [h.chunk.id for h in hits], "scores": [h.score for h in hits],
        "passages": [[p.article_id, p.start, p.end, p.score] for p in passages],
        "answer": answer.to_dict(),
        "search": t1 - t0, "retrieve": t2 - t1, "ask": t3 - t2,
    }), flush=True)
"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("index", help="index location (read only)")
    p.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    p.add_argument(
        "--baseline-index",
        help="the baseline's own index of the same corpus, when the on-disk format changed "
        "(build it with the baseline's code and a copy of the embedding cache)",
    )
    p.add_argument("--questions", type=Path, default=DEV, help="JSONL with a 'question' field")
    p.add_argument("--synthetic", type=int, help="ask bench_corpus questions for N briefs instead")
    p.add_argument("--count", type=int, help="number of questions (default: all)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", type=Path, help="write the differing questions here (JSONL)")
    return p.parse_args(argv)


def _questions(args: argparse.Namespace) -> list[str]:
    if args.synthetic:
        return synthetic_questions(args.synthetic, args.count or 200)
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return questions[: args.count] if args.count else questions


def _export(revision: str) -> Path:
    """The tree of ``revision`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="qa-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "qa"],
        check=True,
        capture_output=True,
    ).stdout
    tar = folder / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(folder, filter="data")
    tar.unlink()
    return folder


def _start(tree: Path, index: str, k: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, index, str(k)],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready = json.loads(proc.stdout.readline())
    print(f"  worker on {ready['ready']}", flush=True)
    return proc


def _ask(proc: subprocess.Popen, question: str) -> dict:
    proc.stdin.write(json.dumps({"q": question}) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def _same_hits(a: dict, b: dict) -> bool:
    return a["ids"] == b["ids"] and all(
        abs(x - y) <= 1e-6 for x, y in zip(a["scores"], b["scores"])
    )


def _same_answer(a: dict, b: dict) -> bool:
    """Equal on the answer fields both revisions have (a newer one may add a field)."""
    shared = sorted(a["answer"].keys() & b["answer"].keys())
    return json.dumps([a["answer"][key] for key in shared], sort_keys=True) == json.dumps(
        [b["answer"][key] for key in shared], sort_keys=True
    )


def _one_sided(old: list[dict], new: list[dict]) -> list[str]:
    """Answer fields only one side has (left out of the comparison)."""
    keys = [(set(a["answer"]), set(b["answer"])) for a, b in zip(old, new)]
    return sorted({key for x, y in keys for key in x ^ y})


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    questions = _questions(args)
    print(f"{len(questions)} questions, baseline {args.baseline} vs working tree", flush=True)
    baseline_index = args.baseline_index or args.index
    workers = {"baseline": _start(_export(args.baseline), baseline_index, args.k)}
    workers["current"] = _start(ROOT, args.index, args.k)
    results: dict[str, list[dict]] = {name: [] for name in workers}
    started = time.perf_counter()
    for n, question in enumerate(questions):
        order = list(workers) if n % 2 == 0 else list(reversed(workers))
        for name in order:
            results[name].append(_ask(workers[name], question))
    for proc in workers.values():
        proc.stdin.close()
        proc.wait()
    old, new = results["baseline"], results["current"]
    hits = sum(_same_hits(a, b) for a, b in zip(old, new))
    passages = sum(a["passages"] == b["passages"] for a, b in zip(old, new))
    answers = sum(_same_answer(a, b) for a, b in zip(old, new))
    worst = max(
        (abs(x - y) for a, b in zip(old, new) for x, y in zip(a["scores"], b["scores"])),
        default=0.0,
    )
    print(f"identical top-{args.k} ids and scores (1e-6): {hits}/{len(questions)}")
    print(f"identical retrieve() passages:            {passages}/{len(questions)}")
    print(f"identical ask() answers:                   {answers}/{len(questions)}")
    if one_sided := _one_sided(old, new):
        print(f"  (answer fields only one side has, not compared: {', '.join(one_sided)})")
    print(f"largest score difference among same ranks: {worst:.2e}")
    print(
        f"{'ms':10}{'baseline p50':>14}{'p95':>8}{'current p50':>14}{'p95':>8}"
        f"{'p50 ratio':>11}{'p95 ratio':>11}"
    )
    for key in ("search", "retrieve", "ask"):
        a = [r[key] for r in old]
        b = [r[key] for r in new]
        print(
            f"{key:10}{percentile_ms(a, 50):>14.1f}{percentile_ms(a, 95):>8.1f}"
            f"{percentile_ms(b, 50):>14.1f}{percentile_ms(b, 95):>8.1f}"
            f"{percentile_ms(b, 50) / percentile_ms(a, 50):>11.3f}"
            f"{percentile_ms(b, 95) / percentile_ms(a, 95):>11.3f}"
        )
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.out:
        with args.out.open("w", encoding="utf-8") as fh:
            for q, a, b in zip(questions, old, new):
                if not (_same_hits(a, b) and _same_answer(a, b)):
                    fh.write(json.dumps({"question": q, "baseline": a, "current": b}) + "\n")
    return 0 if hits == answers == len(questions) else 1


if __name__ == "__main__":
    sys.exit(main())
