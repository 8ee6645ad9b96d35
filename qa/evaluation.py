"""`qa eval`: retrieval and answer quality on a question file with gold articles and evidence."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.answer.base import Reader
from qa.assistant import Assistant
from qa.config import DEFAULT_ANSWER_K, DEFAULT_RETRIEVE_K
from qa.errors import QAError
from qa.records import Answer, Passage

# Metric name, label, which questions it is averaged over.
METRICS = (
    ("top1", "top-1 cited article right", "answerable"),
    ("recall@5", "article recall@5", "answerable"),
    ("recall@k", "article recall@k", "answerable"),
    ("mrr", "article MRR@k", "answerable"),
    ("all_gold@k", "all gold articles in top k", "answerable"),
    ("answer_hit", "answer contains gold answer", "answered_gold"),
    ("first_quote", "gold answer in the first quote", "answered_gold"),
    ("abstained", "abstained", "each"),
    ("hits@4", "evidence Hits@4", "evidence"),
    ("hits@10", "evidence Hits@10", "evidence"),
    ("mrr@10", "evidence MRR@10", "evidence"),
)


@dataclass(frozen=True)
class EvalResult:
    """Per-question rows and their averages, overall and per question type."""

    k: int
    rows: list[dict[str, Any]]
    seconds: float
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict, repr=False)  # question id -> Answer

    def table(self) -> str:
        """A plain-text table: one line per metric, columns overall then question types."""
        groups = ["all", *sorted({r["question_type"] for r in self.rows})]
        counts = {g: sum(1 for r in self.rows if g in ("all", r["question_type"])) for g in groups}
        width = max(12, *(len(g) + 2 for g in groups))
        head = f"{'metric':34}" + "".join(f"{g:>{width}}" for g in groups)
        lines = [head, f"{'questions':34}" + "".join(f"{counts[g]:>{width}}" for g in groups)]
        for key, label, _ in METRICS:
            label = label.replace("@k", f"@{self.k}").replace(" k", f" {self.k}")
            if key == "recall@5" and self.k == 5:
                continue
            for variant in ("", "_answerable", "_unanswerable") if key == "abstained" else ("",):
                cells = [self.summary.get(g, {}).get(key + variant) for g in groups]
                if all(c is None for c in cells):
                    continue
                name = f"{label} ({variant[1:]})" if variant else label
                lines.append(
                    f"{name:34}"
                    + "".join(f"{'-' if c is None else f'{c:.3f}':>{width}}" for c in cells)
                )
        lines.append(f"({len(self.rows)} questions in {self.seconds:.1f} s)")
        return "\n".join(lines)

    def curve(self, steps: int = 10) -> list[tuple[float, float]]:
        """Reliability: (share answered, precision) when answering the most confident first.

        Questions are sorted by the reader's confidence (an abstention without one counts as
        least confident); precision is the share of those answered that are answerable and
        answered right (the gold answer in the first quote, else an evidence fact or a gold
        article in the first citation). Questions whose rightness cannot be told are left out.
        """
        scored = [r for r in self.rows if "correct" in r]
        if all(r["confidence"] is None for r in scored):
            return []  # a reader without confidences has one operating point, no curve
        scored.sort(key=lambda r: -(r["confidence"] if r["confidence"] is not None else -1.0))
        out = []
        for step in range(1, steps + 1):
            n = max(1, round(len(scored) * step / steps))
            if scored:
                out.append((n / len(scored), sum(r["correct"] for r in scored[:n]) / n))
        return out

    def operating_point(self) -> tuple[float, float] | None:
        """(share answered, precision) at the reader's own threshold, over the curve's rows."""
        scored = [r for r in self.rows if "correct" in r]
        answered = [r for r in scored if not r["abstained"]]
        if not scored:
            return None
        precision = sum(r["correct"] for r in answered) / len(answered) if answered else 0.0
        return len(answered) / len(scored), precision

    def curve_table(self) -> str:
        """The reliability curve as two lines of text, and the operating point."""
        points, point = self.curve(), self.operating_point()
        if not point:
            return "(no question with a known right answer: no reliability curve)"
        here = f"answered {point[0]:.3f}, precision {point[1]:.3f}"
        if not points:
            return f"{here} (the reader gives no confidences: no curve)"
        lines = [
            f"{'answered share':34}" + "".join(f"{s:>7.2f}" for s, _ in points),
            f"{'precision':34}" + "".join(f"{p:>7.3f}" for _, p in points),
        ]
        lines.append(f"at the reader's threshold: {here}")
        return "\n".join(lines)


def load_questions(path: str | Path) -> list[dict[str, Any]]:
    """Question lines: id, question, gold_article_ids, and optionally answer(s), evidence."""
    path = Path(path)
    if not path.is_file():
        raise QAError(f"question file not found: {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise QAError(
                f'{path}:{n}: not a question line ({exc}); need at least {{"question": ...}}'
            ) from None
        gold = item.get("gold_article_ids") or []
        answers = item.get("answers") or ([item["answer"]] if item.get("answer") else [])
        out.append(
            {
                "id": item.get("id", f"line-{n}"),
                "question": question,
                "gold": list(gold),
                "answers": [a for a in answers if isinstance(a, str)],
                "answerable": bool(item.get("answerable", bool(gold))),
                "question_type": item.get("question_type") or "all",
                "facts": [e["fact"] for e in item.get("evidence") or [] if e.get("fact")],
            }
        )
    return out


def evaluate(
    assistant: Assistant,
    questions: str | Path,
    *,
    k: int = DEFAULT_RETRIEVE_K,
    answer_k: int = DEFAULT_ANSWER_K,
    mode: str = "hybrid",
    out: str | Path | None = None,
    reader: Reader | None = None,
) -> EvalResult:
    """Retrieve ``k`` passages and answer from the first ``answer_k`` for every question.

    Each question takes the path of ``Assistant.ask`` (question cleaning, k checks), through
    ``Assistant.respond``, which also returns the passages it ranked.

    Args:
        assistant: An open ``qa.Assistant``.
        questions: JSONL file (the MultiHop-RAG dev question format works as is).
        k: Passages retrieved per question for the retrieval metrics.
        answer_k: Passages the answer is drawn from.
        mode: Retrieval mode ("hybrid", "bm25", "dense").
        out: Optional JSONL file for per-question results.
        reader: Answer with this reader instead of the assistant's (to compare readers).
    """
    items = load_questions(questions)
    started = time.perf_counter()
    rows = []
    answers = {}
    for item in items:
        response = assistant.respond(
            item["question"], k=k, answer_k=answer_k, mode=mode, reader=reader
        )
        rows.append(_score(item, list(response.passages), response.answer, k))
        answers[item["id"]] = response.answer
    seconds = time.perf_counter() - started
    if out:
        with Path(out).open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return EvalResult(k=k, rows=rows, seconds=seconds, summary=_summarise(rows), answers=answers)


def _plain(text: str) -> str:
    """Lower case, punctuation squashed to single spaces, padded (SQuAD's answer matching)."""
    words = re.sub(r"[^\w]+", " ", text.casefold()).split()
    return " " + " ".join(words) + " "


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _score(item: dict[str, Any], chunks: list[Passage], answer: Answer, k: int) -> dict[str, Any]:
    ranked = [c.article_id for c in chunks]
    gold = set(item["gold"])
    row: dict[str, Any] = {
        "id": item["id"],
        "question_type": item["question_type"],
        "answerable": item["answerable"],
        "abstained": answer.abstained,
        "reason": answer.reason,
        "answer": answer.text,
        "cited": [c.article_id for c in answer.citations],
        "retrieved": ranked,
        "confidence": answer.confidence,
    }
    first_quote = _plain(answer.citations[0].quote) if answer.citations else ""
    if item["answerable"] and gold:
        first = next((i for i, a in enumerate(ranked) if a in gold), None)
        # The cited article whose passage ranked highest (citations themselves go in date order).
        best = max(answer.citations, key=lambda c: c.score, default=None)
        row["top1"] = float(best is not None and best.article_id in gold)
        row["recall@5"] = len(gold & set(ranked[:5])) / len(gold)
        row["recall@k"] = len(gold & set(ranked[:k])) / len(gold)
        row["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
        row["all_gold@k"] = float(gold <= set(ranked[:k]))
    if item["answerable"] and item["answers"] and not _yes_no(item["answers"]):
        text = answer.text.casefold()
        row["answer_hit"] = float(any(a.casefold() in text for a in item["answers"]))
        row["first_quote"] = float(any(_plain(a) in first_quote for a in item["answers"]))
    if item["facts"]:
        facts = [_squash(f) for f in item["facts"]]
        hit = next(
            (i for i, c in enumerate(chunks[:10]) if any(f in _squash(c.text) for f in facts)), None
        )
        row["hits@4"] = float(hit is not None and hit < 4)
        row["hits@10"] = float(hit is not None)
        row["mrr@10"] = 0.0 if hit is None else 1.0 / (hit + 1)
    row.update(_correct(item, answer, row))
    return row


def _correct(item: dict[str, Any], answer: Answer, row: dict[str, Any]) -> dict[str, float]:
    """{"correct": 0/1} when it can be told whether the answer (or abstention) is right."""
    if not item["answerable"]:
        return {"correct": 0.0}
    if "first_quote" in row:
        return {"correct": row["first_quote"]}
    if not answer.citations:
        return {"correct": 0.0} if item["facts"] or item["gold"] else {}
    first = answer.citations[0]
    if item["facts"]:
        text = _squash(first.text)
        return {"correct": float(any(_squash(f) in text for f in item["facts"]))}
    if item["gold"]:
        return {"correct": float(first.article_id in set(item["gold"]))}
    return {}


def _yes_no(answers: list[str]) -> bool:
    # "Yes"/"No" answers cannot occur in an extractive answer; the evidence metrics score them.
    return all(a.strip().casefold() in {"yes", "no", "insufficient information."} for a in answers)


def _summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups["all"].append(row)
        groups[row["question_type"]].append(row)
    summary = {}
    for name, members in groups.items():
        values: dict[str, float] = {}
        for key, _, _ in METRICS:
            scored = [r[key] for r in members if key in r]
            if scored:
                values[key] = sum(scored) / len(scored)
        for variant, wanted in (("_answerable", True), ("_unanswerable", False)):
            scored = [float(r["abstained"]) for r in members if r["answerable"] is wanted]
            if scored:
                values["abstained" + variant] = sum(scored) / len(scored)
        values.pop("abstained", None)
        summary[name] = values
    return summary
