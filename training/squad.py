"""SQuAD 2.0 (official JSON format) as reader examples: paragraphs split into product sentences.

One paragraph is one document. A question's gold sentences are those that contain one of its
gold answers (the answer_start offset falls inside the sentence, or, failing that, the answer
text occurs in it). Works on the official train-v2.0.json / dev-v2.0.json and on the partial
copies in /work/shared/data/squad2-partial/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.text.sentences import sentence_spans  # the splitter the product quotes with


@dataclass
class Paragraph:
    title: str
    text: str
    spans: list[tuple[int, int]]  # product sentence spans
    first: int = 0  # index of its first sentence in the split's sentence list

    def sentence(self, i: int) -> str:
        a, b = self.spans[i]
        return self.text[a:b]


@dataclass
class Question:
    qid: str
    text: str
    paragraph: int
    answerable: bool
    answers: list[str]  # gold answers (plausible answers for unanswerable ones)
    gold: list[int] = field(default_factory=list)  # sentence indices inside the paragraph


def squash(text: str) -> str:
    """Lower-cased, punctuation squashed to spaces (the scoring rule of the README)."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def answer_in(sentence: str, answers: list[str]) -> bool:
    """A gold answer text (squashed) is inside the sentence (squashed), on word boundaries."""
    s = f" {squash(sentence)} "
    return any(f" {squash(a)} " in s for a in answers if squash(a))


def load(path: str | Path) -> tuple[list[Paragraph], list[Question]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    first = 0
    for article in data:
        for p in article["paragraphs"]:
            par = Paragraph(article.get("title", ""), p["context"], sentence_spans(p["context"]))
            par.first = first
            first += len(par.spans)
            paragraphs.append(par)
            for qa in p["qas"]:
                questions.append(_question(qa, len(paragraphs) - 1, par))
    return paragraphs, questions


def _question(qa: dict, index: int, par: Paragraph) -> Question:
    impossible = bool(qa.get("is_impossible", False))
    key = "plausible_answers" if impossible else "answers"
    answers = [a for a in qa.get(key, []) if a.get("text")]
    gold: set[int] = set()
    for a in answers:
        for i, (s, e) in enumerate(par.spans):
            if s <= a["answer_start"] < e and answer_in(par.text[s:e], [a["text"]]):
                gold.add(i)
    if not gold:
        texts = [a["text"] for a in answers]
        gold = {i for i in range(len(par.spans)) if answer_in(par.sentence(i), texts)}
    return Question(
        qid=qa["id"],
        text=qa["question"].strip(),
        paragraph=index,
        answerable=not impossible,
        answers=[a["text"] for a in answers],
        gold=sorted(gold),
    )


def all_sentences(paragraphs: list[Paragraph]) -> list[str]:
    return [p.sentence(i) for p in paragraphs for i in range(len(p.spans))]
