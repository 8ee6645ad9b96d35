"""How much each retrieval and answer setting matters: the dev metrics with one value changed.

Every constant in qa/config.py says where its value comes from; for the ones set by hand this
measures them. One index, one loaded model; for each setting, the default and each variant are
evaluated on the same questions in the same run, and the metric changes are printed.

    .venv/bin/python bench/sweep_settings.py INDEX            # retrieval settings, dev questions
    .venv/bin/python bench/sweep_settings.py INDEX --answers  # answer settings
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "multihop-rag" / "dev_questions.jsonl"

# (setting, variants): values around the default, one lower and one higher where it is cheap
RETRIEVAL = [
    ("candidates", [150, 600]),
    ("dense_candidates", [300, 1200]),
    ("outlet_candidates", [50, 200]),
    ("pool_per_k", [4, 16]),
    ("near_copy", [0.6, 0.95]),
]
ANSWERS = [
    ("min_cosine", [0.1, 0.3]),
    ("min_term_support", [0.05, 0.3]),
    ("w_overlap", [0.15, 0.6]),
    ("w_rank", [0.2, 0.8]),
    ("headline_penalty", [0.0, 0.3]),
    ("name_penalty", [0.1, 0.4]),
    ("statement_margin", [0.85, 0.97]),
    ("runner_up_margin", [0.6, 0.9]),
]
METRICS = (
    "hits@4",
    "hits@10",
    "mrr@10",
    "answer_hit",
    "abstained_answerable",
    "abstained_unanswerable",
    "top1",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("index")
    p.add_argument("--questions", type=Path, default=DEV)
    p.add_argument("--answers", action="store_true", help="sweep the answer settings instead")
    p.add_argument("--count", type=int, help="N questions spread over the file (every M-th)")
    args = p.parse_args(argv)
    if args.count:
        lines = [x for x in args.questions.read_text(encoding="utf-8").splitlines() if x.strip()]
        step = max(len(lines) // args.count, 1)
        subset = Path(tempfile.mkdtemp()) / "questions.jsonl"
        subset.write_text("\n".join(lines[::step][: args.count]) + "\n", encoding="utf-8")
        args.questions = subset
    import qa
    from qa.answer.extractive import ExtractiveReader
    from qa.config import AnswerSettings, RetrievalSettings

    base = qa.Assistant.open(args.index)
    encoder = base.encoder
    sweep = ANSWERS if args.answers else RETRIEVAL

    def run(retrieval: RetrievalSettings, answers: AnswerSettings) -> dict[str, float]:
        assistant = qa.Assistant(
            args.index, encoder, reader=ExtractiveReader(encoder, answers), retrieval=retrieval
        )
        summary = qa.evaluate(assistant, args.questions).summary["all"]
        return {m: summary[m] for m in METRICS if m in summary}

    started = time.perf_counter()
    default = run(RetrievalSettings(), AnswerSettings())
    shown = [m for m in METRICS if m in default]
    width = {m: max(10, len(m) + 2) for m in shown}
    print(f"{'setting':28}" + "".join(f"{m:>{width[m]}}" for m in shown))
    print(f"{'defaults':28}" + "".join(f"{default[m]:>{width[m]}.3f}" for m in shown), flush=True)
    for name, values in sweep:
        for value in values:
            if args.answers:
                got = run(
                    RetrievalSettings(), dataclasses.replace(AnswerSettings(), **{name: value})
                )
            else:
                got = run(
                    dataclasses.replace(RetrievalSettings(), **{name: value}), AnswerSettings()
                )
            cells = "".join(f"{got[m] - default[m]:>+{width[m]}.3f}" for m in shown)
            print(f"{f'{name}={value}':28}" + cells, flush=True)
    print(f"(changes against the defaults; {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
