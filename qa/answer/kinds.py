"""The kind of answer a question asks for (a figure, a date, a name) and whether text holds one."""

from __future__ import annotations

import re

from qa.text.dates import MONTH_NAMES, WEEKDAY_NAMES

_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|several|half"
)
_MONTHS = "|".join(MONTH_NAMES)
# "When B cells begin to replicate, what do some of their offspring become?": a leading "when"
# clause that is no question ("when" not followed by an auxiliary), then the wh-word that asks.
_LEADING_CLAUSE = re.compile(
    r"^\W*(?:when|while|once|after|before|if)\s+(?!(?:exactly\s+|again\s+)?(?:did|does|do|was|"
    r"were|is|are|will|would|should|must|has|have|had|can|could)\b)[^?]*?"
    r"(?=\b(?:what|which|who|whom|whose|where|how)\b)",
    re.I,
)
_TYPES = (
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|large|big|long|old)\b|\bwhat (?:number|percentage|"
            r"share|amount|size)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            # "When ...?", "... when did/was ...", "do you know when ...", not the conjunction
            # ("did they change it when the rankings came out?")
            r"^\W*when\b|\bwhen(?:'s|’s| (?:exactly |again )?(?:did|does|do|was|were|is|are|"
            r"will|would|should|must|has|have|had|can|could)\b)|"
            r"\b(?:know|tell me|say|says|said|ask|asks|wonder|find out) when\b|"
            r"\bwhat (?:year|date|day|month|time)\b|\bsince when\b",
            re.I,
        ),
    ),
    (
        "name",
        re.compile(r"\b(?:who|whom|whose|where)\b|\bwhich\b|\bwhat (?:is|was) the name\b", re.I),
    ),
)
_YES_NO = re.compile(
    r"\s*(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should)\b", re.I
)
HAS = {
    "number": re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I),
    "date": re.compile(
        rf"\b(?:1[89]|20)\d\d\b|\b(?:{_MONTHS}|{'|'.join(WEEKDAY_NAMES)}|"
        r"yesterday|last (?:week|month|year))\b"
    ),
}
# Day-and-month dates and years: "5 January" is a date, not a count.
DATE_PARTS = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+\d{{1,2}}\b|"
    r"\b(?:1[89]|20)\d\d\b"
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’\-]+")


def asked_clause(question: str) -> str:
    """The question without a leading "when ..." clause that only sets the scene ("When B cells
    begin to replicate, what do ..." asks "what do ..."); else the question itself."""
    return _LEADING_CLAUSE.sub("", question, count=1)


def expected_type(question: str) -> str | None:
    """What kind of answer a question wants: "number", "date", "name" or None (also yes/no)."""
    question = asked_clause(question)
    for kind, pattern in _TYPES:
        if kind == "name" and _YES_NO.match(question):
            return None  # "Did the outlet that ... change its advice?" asks yes or no
        if pattern.search(question):
            return kind
    return None


def is_strict(kind: str | None) -> bool:
    """Whether only a sentence holding the asked-for figure or date can answer."""
    return kind in ("number", "date")


def holds(kind: str, text: str) -> bool:
    """Whether ``text`` holds a figure (not part of a date: "5 January" is no count) or a date."""
    if kind == "number":
        return bool(HAS["number"].search(DATE_PARTS.sub(" ", text)))
    return bool(HAS["date"].search(text))


def type_fit(kind: str | None, sentence: str, question_words: set[str]) -> float:
    """+1 when the sentence holds the kind of answer asked for and something new, else 0 or -1."""
    if kind in HAS:
        return 1.0 if HAS[kind].search(sentence) else -1.0
    new_names = [m for m in _NAME.findall(sentence) if m.lower() not in question_words]
    if kind == "name":
        return 1.0 if new_names else -1.0
    return 0.5 if new_names or re.search(r"\d", sentence) else 0.0
