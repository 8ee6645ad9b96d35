"""What the trained reader reads in a question's and a sentence's text, before any vector.

Pure ``re`` and stems (PyStemmer, the Snowball stemmer BM25 uses). A sentence is analysed once
(`analyse_sentence`, cacheable with its chunk), a question once (`analyse_question`): its content
words and their IDF weights, its focus (names, numbers, dates), the answer kind it asks for, its
negation and its speaker ("what did X say", "according to X"). Ported from the training
prototype (training/, issue 11); the shipped weights were trained on exactly these analyses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qa.answer.kinds import asked_clause
from qa.text.tokens import fold_accents

Stem = Callable[[list[str]], list[str]]

# Not content: question words, the 33 bm25s English stop words, and other function words.
STOP = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with who whom whose what which when where why how did does
    do were has have had can could would should may might must shall been being am its his her
    hers him he she we our you your my me i us them those than also about from after before
    during over under between while both each all any some other another same one ones more most
    much many very so just only upon within without onto via per s t say says said tell told
    according since whether""".split()  # noqa: SIM905
)
# bm25s' token pattern, plus single digits and dotted acronyms ("U.S." is one word, "US")
_WORD = re.compile(r"\b(?:[A-Za-z]\.){2,}|\w\w+|\d", re.UNICODE)
_MONTHS = (  # noqa: SIM905
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
_NUMBER_WORDS = frozenset(
    """two three four five six seven eight nine ten eleven twelve thirteen fifteen twenty thirty
    forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands million millions
    billion billions trillion dozen dozens half percent several single once twice triple double
    few""".split()  # noqa: SIM905
)
_DATE_RE = re.compile(
    r"\b(?:1\d{3}|20\d\d)s?\b|\b\d{1,2}(?:st|nd|rd|th)\s+centur(?:y|ies)\b|\bcentur(?:y|ies)\b|"
    r"\b(?:" + "|".join(_MONTHS + _DAYS) + r")\b|\b(?:yesterday|today|tonight|decades?|era|"
    r"morning|afternoon|evening|night|noon|midnight|dawn|dusk|spring|summer|autumn|winter|"
    r"(?:fir|seco|thi|four|fif|six|seven|eigh|nin|ten|eleven|twelf|twent)\w*th\s+centur\w+|"
    r"first|second|third|BC|AD|BCE|CE)\b|\b\d{3,4}\b",
    re.I,
)
_NUMBER_RE = re.compile(r"\d[\d,.]*|\b(?:" + "|".join(sorted(_NUMBER_WORDS)) + r")\b", re.I)
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|neither|nor|without|cannot|unable)\b|n['’]t\b",
    re.I,
)
# Speech cues. "saying" and "adding" since 2026-12-04: the seed's "The Iraqi prime minister's
# office has condemned airstrikes ..., saying the operations ... can undermine cooperation" is
# the office's statement ("What did the Iraqi prime minister's office say ...?" had abstained).
_SPEECH = re.compile(
    r"\b(?:said|says|say|saying|told|tells|tell|stated|states|statement|announced|announces|"
    r"claimed|claims|according|added|adding|noted|warned|wrote|declared|denied|denies|insisted|"
    r"argued|described|called|urged|confirmed|reported|quoted|spokesman|spokeswoman|spokesperson)\b",
    re.I,
)
_SAY_QUESTION = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|had)\s+(?P<who>(?:\S+\s+){0,5}?\S+)\s+(?:say|said|tell|"
    r"told|state|announce|claim|write|wrote|argue|warn|report|reveal|deny|think|believe)\b",
    re.I,
)
_ACCORDING = re.compile(r"\baccording\s+to\s+(?P<who>(?:[^\s,?]+\s+){0,5}?[^\s,?]+)\s*[,?]", re.I)
KINDS = ("person", "place", "entity", "number", "date", "other", "yesno")
_KIND_PATTERNS = (
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|large|big|long|old|far|tall|often|high|few)\b|"
            r"\bwhat\s+(?:number|percentage|percent|share|amount|size|proportion)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\W*when\b|\bwhen\s+(?:did|does|do|was|were|is|are|will|would|has|"
            r"have|had)\b|\bwhat\s+(?:year|years|date|day|month|century|decade|time|"
            r"period|era)\b|\bin\s+which\s+(?:year|century|decade)\b|\bsince\s+when\b",
            re.I,
        ),
    ),
    ("person", re.compile(r"\b(?:who|whom|whose)\b", re.I)),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhat\s+(?:country|city|state|region|place|town)\b|"
            r"\bwhich\s+(?:country|city|state|region|place|town)\b",
            re.I,
        ),
    ),
    (
        "entity",
        re.compile(
            r"\bwhich\b|\bwhat\s+(?:is|was|are|were)\s+the\s+name\b|"
            r"\bname\s+(?:of|the)\b",
            re.I,
        ),
    ),
)
_MEASURE = re.compile(r"\bhow\s+(?:long|old|far|often|large|big|tall|high)\b", re.I)
_YES_NO = re.compile(
    r"^\s*(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should)\b", re.I
)
# Opposites: a sentence that has one where the question has the other does not answer it
# ("who identified themselves as French" vs "... identified themselves as English" is caught by
# the missing word; these catch "least" vs "most", "before" vs "after"). Compared as stems.
ANTONYMS = (
    ("less", "more"), ("least", "most"), ("fewer", "more"), ("smaller", "larger"),
    ("smallest", "largest"), ("lower", "higher"), ("lowest", "highest"), ("first", "last"),
    ("before", "after"), ("earlier", "later"), ("early", "late"), ("increase", "decrease"),
    ("rise", "fall"), ("gain", "loss"), ("positive", "negative"), ("above", "below"),
    ("inside", "outside"), ("minimum", "maximum"), ("older", "newer"), ("oldest", "newest"),
    ("old", "new"), ("young", "old"), ("youngest", "oldest"), ("start", "end"), ("begin", "end"),
    ("win", "lose"), ("won", "lost"), ("success", "failure"), ("accept", "reject"),
    ("allow", "forbid"), ("allow", "prohibit"), ("support", "oppose"), ("import", "export"),
    ("north", "south"), ("east", "west"), ("male", "female"), ("men", "women"),
    ("major", "minor"), ("strong", "weak"), ("long", "short"), ("wide", "narrow"),
    ("past", "future"), ("past", "present"), ("modern", "ancient"), ("public", "private"),
    ("internal", "external"), ("domestic", "foreign"), ("legal", "illegal"),
    ("common", "rare"), ("same", "different"), ("true", "false"), ("right", "wrong"),
    ("easy", "difficult"), ("easy", "hard"), ("cheap", "expensive"), ("rich", "poor"),
    ("day", "night"), ("light", "dark"), ("heavy", "light"), ("high", "low"), ("top", "bottom"),
    ("confirm", "deny"), ("admit", "deny"), ("agree", "disagree"), ("like", "dislike"),
    ("self", "nonself"), ("before", "since"),
)  # fmt: skip


def default_stem() -> Stem:
    """Snowball English stems (PyStemmer), as the product's BM25 tokenizer uses."""
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    return lambda words: stemmer.stemWords(words)


def answer_kind(question: str) -> str:
    """One of KINDS: what sort of answer the question asks for (a leading "when ..." clause
    that sets the scene does not count: ``kinds.asked_clause``)."""
    question = asked_clause(question)
    if _YES_NO.match(question):
        return "yesno"
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


def _words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end); dotted acronyms lose their dots ("U.S." -> "US")."""
    return [(m.group(0).replace(".", ""), m.start(), m.end()) for m in _WORD.finditer(text)]


def _stems(words: list[tuple[str, int, int]], stem: Stem) -> list[str]:
    """The stems of ``_words`` output, lower-cased and accents folded ("Möngke" ~ "Mongke")."""
    return stem([fold_accents(w.lower()) for w, _, _ in words])


def _is_stop(word: str) -> bool:
    """A function word; an all-capitals word ("US", "IT") never is one."""
    return word.lower() in STOP and not (word.isupper() and len(word) >= 2)


def _is_name(text: str, word: str, start: int) -> bool:
    """Capitalised (or a digit-led token) and not a function word ("The", "When")."""
    return (word[0].isupper() or word[0].isdigit()) and not _is_stop(word)


_MONTH_RE = "|".join(_MONTHS)
_DAY_MONTH = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_RE})\b\.?|"
    rf"\b(?:{_MONTH_RE})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    re.I,
)


def _numbers(text: str) -> set[str]:
    """Figures in ``text``, day-and-month dates blanked ("5 January" is a date, not a count;
    a bare "1990" stays a figure too)."""
    blank = _DAY_MONTH.sub(" ", text)
    return {m.group(0).lower().rstrip(".,") for m in _NUMBER_RE.finditer(blank)}


def _dates(text: str) -> set[str]:
    return {m.group(0).lower() for m in _DATE_RE.finditer(text)}


@dataclass
class SentenceText:
    """What the features need from a sentence's text (cacheable per sentence)."""

    stems: frozenset[str]
    prefixes: frozenset[str]  # 5-letter stem prefixes ("kurdish" ~ "kurdistan")
    names: frozenset[str]  # stems of capitalised words
    numbers: frozenset[str]
    dates: frozenset[str]
    negated: bool
    speech: bool
    statement: bool
    n_words: int
    words: frozenset[str] = frozenset()  # lower-cased surface words, "non-self" -> "nonself"


def analyse_sentence(text: str, stem: Stem) -> SentenceText:
    words = _words(text)
    stems = _stems(words, stem)
    names = {s for (w, a, _), s in zip(words, stems) if _is_name(text, w, a)}
    return SentenceText(
        stems=frozenset(stems),
        prefixes=frozenset(s[:5] for s in stems if len(s) >= 5),
        names=frozenset(names),
        numbers=frozenset(_numbers(text)),
        dates=frozenset(_dates(text)),
        negated=bool(_NEGATION.search(text)),
        speech=bool(_SPEECH.search(text)),
        statement=text.rstrip()[-1:] in ".!?\"'”’)",
        n_words=len(words),
        words=frozenset(w.lower() for w, _, _ in words) | _joined(text),
    )


def _joined(text: str) -> frozenset[str]:
    """Hyphenated prefixes joined ("non-self" -> "nonself"), for opposite checks."""
    return frozenset(m.group(1).lower() + m.group(2).lower()
                     for m in re.finditer(r"\b(non|un|in|anti)-(\w+)", text, re.I))  # fmt: skip


@dataclass
class QuestionText:
    """The question's content words (stems, spans, IDF weights) and its focus."""

    text: str
    kind: str
    stems: list[str]  # content words, in order, unique
    spans: list[tuple[int, int]]  # their first character span in the question
    focus: np.ndarray  # bool per content word: a name, number or date
    numbers: frozenset[str]
    dates: frozenset[str]
    negated: bool
    speaker: list[str]  # stems of X in "what did X say" / "according to X"
    speaker_cue: bool = False  # "what did X say": the sentence must also hold a speech cue
    measure: bool = False  # "how long/old/far ...": a date or period answers too
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # IDF, set by with_idf
    surface: set[str] = field(default_factory=set)  # lower-cased words of the question


def analyse_question(text: str, stem: Stem) -> QuestionText:
    words = [(w, a, b) for w, a, b in _words(text) if not _is_stop(w)]
    stems = _stems(words, stem)
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):
        seen.setdefault(s, i)
    order = sorted(seen.values())
    date_words = {w for d in _dates(text) for w in d.split()}
    speaker, cue = _speaker(text, stem)
    focus = [
        _is_name(text, words[i][0], words[i][1]) or words[i][0].lower() in date_words for i in order
    ]
    return QuestionText(
        text=text,
        kind=answer_kind(text),
        stems=[stems[i] for i in order],
        spans=[(words[i][1], words[i][2]) for i in order],
        focus=np.array(focus, dtype=bool),
        numbers=frozenset(_numbers(text)),
        dates=frozenset(_dates(text)),
        negated=bool(_NEGATION.search(text)),
        speaker=speaker,
        speaker_cue=cue,
        measure=bool(_MEASURE.search(text)),
        surface={w.lower() for w, _, _ in _words(text)},
    )


def _speaker(text: str, stem: Stem) -> tuple[list[str], bool]:
    """Stems of X in "what did X say" (speech cue required) or "according to X, ..." (not)."""
    m = _SAY_QUESTION.search(text)
    cue = bool(m)
    m = m or _ACCORDING.search(text)
    if not m:
        return [], False
    return _stems([w for w in _words(m.group("who")) if not _is_stop(w[0])], stem), cue


def with_idf(q: QuestionText, idf: Callable[[str], float]) -> QuestionText:
    """``q`` with each content word weighted by ``idf(stem)`` (document frequency based)."""
    q.weights = np.array([max(idf(s), 1e-3) for s in q.stems], dtype=np.float64)
    return q


def _has(sent: SentenceText, stem: str) -> bool:
    return stem in sent.stems or (len(stem) >= 5 and stem[:5] in sent.prefixes)


OPPOSITE: dict[str, set[str]] = {}
for _a, _b in ANTONYMS:
    OPPOSITE.setdefault(_a, set()).add(_b)
    OPPOSITE.setdefault(_b, set()).add(_a)


def has_stem(sent: SentenceText, stem: str) -> bool:
    """``stem`` or a stem sharing its first five letters is in the sentence."""
    return _has(sent, stem)


def speaker_phrase(text: str) -> str | None:
    """X of "what did X say" / "according to X", as the question writes it, or None."""
    m = _SAY_QUESTION.search(text) or _ACCORDING.search(text)
    return m.group("who").strip() if m else None


def focus_words(q: QuestionText) -> list[str]:
    """The question's focus words (names, numbers, dates) as it writes them."""
    return [q.text[a:b] for (a, b), f in zip(q.spans, q.focus.tolist()) if f]
