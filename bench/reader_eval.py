"""The trained reader against today's scoring on the three dev sets, and its threshold fitted.

    .venv/bin/python bench/reader_eval.py --workdir /tmp/reader-eval       # all three sets
    .venv/bin/python bench/reader_eval.py --workdir DIR --sets seed,squad  # some of them

Sets: "seed" (tests/data, the five seed articles), "squad" (SQuAD 2.0 dev, the 10 articles in
../shared/data/squad2-partial, one paragraph a document), "multihop" (the MultiHop-RAG dev
questions over its 609 articles). Indexes are built once under --workdir and reused. Each set
is answered by "none" (today's scoring), by "trained" and by "joint" (trained + the joint model,
qa/answer/joint.py) with no threshold (every question the
gates and rules let through is answered, and its confidence kept), so any threshold can be
scored afterwards from the same run: the table gives, per threshold on the answerability logit,
each set's answerable and unanswerable abstained and gold answer in the first quote.
For "joint" the threshold is on its combined logit (ReaderSettings.joint_min_logit).

    .venv/bin/python bench/reader_eval.py --workdir DIR --speed 40  # ask() p50 of the three
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SQUAD_DEV = DATA / "squad2-partial" / "dev-10-articles.json"
MULTIHOP = DATA / "multihop-rag"
THRESHOLDS = (-4.0, -3.0, -2.5, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.5)


def squad_inputs(
    workdir: Path, source: Path = SQUAD_DEV, name: str = "squad-dev"
) -> tuple[Path, Path]:
    """SQuAD (dev by default) as a corpus (one paragraph an article) and a question file,
    written once."""
    corpus, questions = workdir / f"{name}.jsonl", workdir / f"{name}-questions.jsonl"
    if corpus.is_file() and questions.is_file():
        return corpus, questions
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    articles, items = [], []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = f"squad-{a:02d}-{p:03d}"
            articles.append({"id": pid, "title": article["title"], "body": paragraph["context"]})
            for qa_item in paragraph["qas"]:
                answerable = not qa_item.get("is_impossible")
                items.append(
                    {
                        "id": qa_item["id"],
                        "question": qa_item["question"],
                        "gold_article_ids": [pid] if answerable else [],
                        "answers": sorted({x["text"] for x in qa_item["answers"]}),
                        "answerable": answerable,
                        "question_type": "squad" if answerable else "squad_unanswerable",
                    }
                )
    corpus.write_text("".join(json.dumps(x) + "\n" for x in articles), encoding="utf-8")
    questions.write_text("".join(json.dumps(x) + "\n" for x in items), encoding="utf-8")
    return corpus, questions


def inputs(name: str, workdir: Path) -> tuple[Path, Path]:
    if name == "seed":
        return ROOT / "corpus", ROOT / "tests" / "data" / "seed_questions.jsonl"
    if name == "squad":
        return squad_inputs(workdir)
    return MULTIHOP / "articles.jsonl", MULTIHOP / "dev_questions.jsonl"


def ensure_index(name: str, corpus: Path, workdir: Path) -> Path:
    import qa

    index = workdir / f"index-{name}"
    if not (index / "CURRENT").is_file():
        print(f"building {index} ...", file=sys.stderr)
        qa.build_index(corpus, index)
    return index


def measure(
    name: str, workdir: Path, every: int, variants: list[str], only: str = ""
) -> dict[str, list[dict]]:
    """Per-question rows of both readers on one set."""
    import qa
    from qa.answer.extractive import ExtractiveReader
    from qa.answer.trained import TrainedReader
    from qa.config import ReaderSettings

    corpus, questions = inputs(name, workdir)
    if every > 1:
        lines = [x for x in questions.read_text(encoding="utf-8").splitlines() if x.strip()]
        questions = workdir / f"{name}-every-{every}.jsonl"
        questions.write_text("\n".join(lines[::every]) + "\n", encoding="utf-8")
    assistant = qa.Assistant.open(ensure_index(name, corpus, workdir))
    free = ReaderSettings(min_logit=-math.inf, joint_min_logit=-math.inf)
    makers = {
        "none": lambda: ExtractiveReader(assistant.encoder),
        "trained": lambda: TrainedReader(assistant.encoder, free),
        "joint": lambda: TrainedReader(assistant.encoder, free, joint=True),
    }
    chosen = only.split(",") if only else list(makers)
    readers = {k: make() for k, make in makers.items() if k in chosen}
    for variant in variants:
        key, _, value = variant.partition("=")
        setting = type(getattr(free, key))(json.loads(value))
        joint = "joint" in chosen  # variants of the joint reader when it is measured
        changed = dataclasses.replace(free, **{key: setting})
        reader = TrainedReader(assistant.encoder, changed, joint=joint)
        readers[f"{'joint' if joint else 'trained'}+{variant}"] = reader
    out = {"long": sorted(long_questions(questions, free.max_question_words))}
    for reader_name, reader in readers.items():
        started = time.perf_counter()
        result = qa.evaluate(assistant, questions, reader=reader)
        print(f"{name} {reader_name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        print(f"\n== {name}, reader {reader_name}\n{result.table()}\n{result.curve_table()}")
        out[reader_name] = result.rows
    return out


def long_questions(path: Path, most: int) -> set[str]:
    """Ids of the questions the threshold does not apply to (over ``most`` content words)."""
    from qa.answer.analysis import analyse_question, default_stem
    from qa.evaluation import load_questions

    stem = default_stem()
    questions = load_questions(path)
    return {q["id"] for q in questions if len(analyse_question(q["question"], stem).stems) > most}


def at_threshold(rows: list[dict], threshold: float, long: set[str]) -> dict[str, float]:
    """The set's abstention and first-quote numbers had the reader abstained below ``threshold``
    (questions in ``long`` exempt, as the reader does)."""

    def abstains(r: dict) -> bool:
        if r["abstained"] or threshold == -math.inf or r["id"] in long:
            return r["abstained"]
        return r["confidence"] is None or _logit(r["confidence"]) < threshold

    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    quoted = [r for r in ans if "first_quote" in r]
    return {
        "ans_abst": sum(map(abstains, ans)) / max(len(ans), 1),
        "una_abst": sum(map(abstains, una)) / max(len(una), 1),
        "first_quote": sum(r["first_quote"] and not abstains(r) for r in quoted)
        / max(len(quoted), 1),
        "mrr@10": _mean([r["mrr@10"] for r in ans if "mrr@10" in r]),
    }


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", type=Path, required=True, help="indexes and inputs (reused)")
    p.add_argument("--sets", default="seed,squad,multihop")
    p.add_argument("--every", type=int, default=1, help="every n-th question only")
    p.add_argument(
        "--variant",
        action="append",
        help="also a trained reader with SETTING=VALUE (ReaderSettings), e.g. contradiction=true;"
        " a joint one when --readers names joint",
    )
    p.add_argument(
        "--readers", default="", help="only these readers, e.g. none,joint (default: all three)"
    )
    p.add_argument("--speed", type=int, help="only ask() latency of the readers, N news questions")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.speed:
        return speed(args.workdir, args.speed)
    rows = {}
    for name in args.sets.split(","):
        rows[name] = measure(name, args.workdir, args.every, args.variant or [], args.readers)
        (args.workdir / f"rows-{name}.json").write_text(json.dumps(rows[name]), encoding="utf-8")
    print("\nthreshold on the answerability logit (trained reader; 'none' for comparison)")
    print(f"{'set':10}{'threshold':>10}{'ans. abst.':>12}{'unans. abst.':>14}{'first quote':>13}")
    for name, by_reader in rows.items():
        long = set(by_reader["long"])
        if "none" in by_reader:
            base = at_threshold(by_reader["none"], -math.inf, long)
            print(f"{name:10}{'none':>10}" + _cells(base))
        for reader_name, reader_rows in by_reader.items():
            if reader_name in ("none", "long"):
                continue
            print(f"  {reader_name}")
            for t in THRESHOLDS:
                print(f"{name:10}{t:>10.2f}" + _cells(at_threshold(reader_rows, t, long)))
    return 0


def speed(workdir: Path, count: int) -> int:
    """ask() p50/p95 of the three readers on the news corpus, side by side: one Assistant, each
    reader with its own empty caches, the order of the readers rotated question by question."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_corpus import news_questions
    from bench_parts import percentile_ms, timed

    import qa
    from qa.answer.extractive import ExtractiveReader
    from qa.answer.trained import TrainedReader
    from qa.config import DEFAULT_ANSWER_K, ReaderSettings

    corpus, _ = inputs("multihop", workdir)
    assistant = qa.Assistant.open(ensure_index("multihop", corpus, workdir))
    encoder = assistant.encoder
    # The trained and joint readers share one word-piece cache per encoder and settings
    # (sentence_tokens.shared_cache): a budget one byte larger gives the joint reader its own,
    # so neither reads sentences the other has just encoded.
    own_cache = ReaderSettings(token_vector_bytes=ReaderSettings().token_vector_bytes + 1)
    readers = {
        "none": ExtractiveReader(encoder),
        "trained": TrainedReader(encoder),
        "joint": TrainedReader(encoder, own_cache, joint=True),
    }
    questions = news_questions(MULTIHOP / "dev_questions.jsonl", count)
    k = DEFAULT_ANSWER_K
    assistant.respond(questions[0], k=k, answer_k=k, reader=readers["trained"])  # lazy export
    times: dict[str, list[float]] = {name: [] for name in readers}
    names = list(readers)
    for n, q in enumerate(questions):
        for name in names[n % 3 :] + names[: n % 3]:
            r = readers[name]
            _, seconds = timed(lambda q=q, r=r: assistant.respond(q, k=k, answer_k=k, reader=r))
            times[name].append(seconds)
    print(f"ask() p50 | p95 over {len(questions)} questions, cold caches, rotated:")
    p50 = {name: percentile_ms(v, 50) for name, v in times.items()}
    for name, values in times.items():
        print(f"  reader {name:8} {p50[name]:6.0f} | {percentile_ms(values, 95):6.0f} ms")
    for name in ("trained", "joint"):
        print(f"  p50 ratio {name} / none: {p50[name] / p50['none']:.2f}x")
    return 0


def _cells(m: dict[str, float]) -> str:
    return f"{m['ans_abst']:>12.3f}{m['una_abst']:>14.3f}{m['first_quote']:>13.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
