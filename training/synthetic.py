"""Synthetic unanswerable questions, made from answerable SQuAD train questions.

SQuAD 2.0's unanswerable questions name the paragraph's entities and ask for something it does
not say: an entity or figure swapped, a negation inserted, a word replaced by its opposite
(Rajpurkar et al. 2018, table 2). The 10-article train copy has only 348 of them, so the
answerability head also learns from these edits of answerable questions (deterministic: the
edit and its replacement are chosen by a hash of the question id, no random state):

  entity   a name of the question that its gold sentence holds -> a name of another paragraph
           of the same article that neither the question nor the gold sentence's window holds
  number   a figure or year of the question -> another one
  negation "when did X ..." -> "when didn't X ..." (the first auxiliary verb)
  opposite a word with an opposite in features.ANTONYMS -> its opposite
"""

from __future__ import annotations

import hashlib
import re

import features as F
import squad

_AUX = re.compile(
    r"\b(did|does|do|is|was|were|are|can|could|has|have|had|will|would|should)\b(?!\s+not\b)",
    re.I,
)
_CONTRACTED = {"can": "can't", "will": "won't", "do": "don't"}
_CAPITAL = re.compile(r"\b[A-Z][a-z][\w'-]+")


def _pick(qid: str, salt: str, n: int) -> int:
    return int(hashlib.sha256(f"{qid}:{salt}".encode()).hexdigest()[:8], 16) % n


def _entity(q: squad.Question, pars: list[squad.Paragraph], same_article: list[int]) -> str | None:
    own = pars[q.paragraph]
    window = " ".join(own.sentence(i) for g in q.gold for i in (g - 1, g, g + 1)
                      if 0 <= i < len(own.spans))  # fmt: skip
    mine = [m for m in _CAPITAL.finditer(q.text) if m.start() > 0 and m.group(0) in window
            and m.group(0).lower() not in F.STOP]  # fmt: skip
    others = sorted({m.group(0) for p in same_article if p != q.paragraph
                     for m in _CAPITAL.finditer(pars[p].text)
                     if m.group(0) not in window and m.group(0) not in q.text
                     and m.group(0).lower() not in F.STOP and m.start() > 0})  # fmt: skip
    if not mine or not others:
        return None
    m = mine[_pick(q.qid, "which", len(mine))]
    new = others[_pick(q.qid, "with", len(others))]
    return q.text[: m.start()] + new + q.text[m.end() :]


def _number(q: squad.Question) -> str | None:
    m = re.search(r"\b\d{1,4}\b", q.text)
    if not m:
        return None
    value = int(m.group(0))
    delta = 1 + _pick(q.qid, "delta", 9)
    new = value + delta if _pick(q.qid, "sign", 2) or value <= delta else value - delta
    return q.text[: m.start()] + str(new) + q.text[m.end() :]


def _negation(q: squad.Question) -> str | None:
    m = _AUX.search(q.text)
    if not m:
        return None
    aux = m.group(0)
    neg = _CONTRACTED.get(aux.lower(), aux + "n't")
    return q.text[: m.start()] + (neg.capitalize() if aux[0].isupper() else neg) + q.text[m.end() :]


def _opposite(q: squad.Question) -> str | None:
    for m in re.finditer(r"\b\w+\b", q.text):
        others = sorted(F._OPPOSITE.get(m.group(0).lower(), ()))
        if others:
            new = others[_pick(q.qid, "opp", len(others))]
            return q.text[: m.start()] + new + q.text[m.end() :]
    return None


def make(paragraphs: list[squad.Paragraph], questions: list[squad.Question],
         article_of: list[int]) -> list[tuple[int, str, str]]:  # fmt: skip
    """(question index, edited text, edit kind) for each answerable question that can be edited.

    Each question gets one edit: the hash-chosen kind when it applies, else the first that
    applies of entity, number, opposite, negation.
    """
    by_article: dict[int, list[int]] = {}
    for p, a in enumerate(article_of):
        by_article.setdefault(a, []).append(p)
    out = []
    kinds = ("entity", "number", "negation", "opposite")
    for qi, q in enumerate(questions):
        if not q.answerable or not q.gold:
            continue
        first = kinds[_pick(q.qid, "kind", len(kinds))]
        for kind in dict.fromkeys((first, "entity", "number", "opposite", "negation")):
            if kind == "entity":
                text = _entity(q, paragraphs, by_article[article_of[q.paragraph]])
            elif kind == "number":
                text = _number(q)
            elif kind == "negation":
                text = _negation(q)
            else:
                text = _opposite(q)
            if text and text != q.text:
                out.append((qi, text, kind))
                break
    return out
