"""Reading a question: outlets and dates it names, its retrieval text, and its key terms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from qa.text.dates import MONTH_NAMES, WEEKDAY_NAMES, DateRange, find_dates

# Phrases that only introduce an outlet or date; removed from the text that is embedded.
_FILLER = re.compile(
    r"\b(?:(?:as\s+)?(?:reported|published|posted|written|mentioned|covered|according)\s+"
    r"(?:by|in|on|to|from)|an?\s+(?:article|report|story|piece)\s+(?:from|by|in|on)|"
    r"(?:the\s+)?(?:article|report|story|piece)s?\s+(?:from|by)|(?:which|that)\s+was\s+published)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_][\w'’\-]*|\d[\d,.]*")  # letters of any script ("Jerónimo")
_QUESTION_WORDS = {
    "who",
    "whom",
    "whose",
    "what",
    "which",
    "when",
    "where",
    "why",
    "how",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "can",
    "could",
    "would",
    "should",
    "will",
    "according",
    "considering",
    "after",
    "before",
    "between",
    "the",
    "a",
    "an",
    "in",
    "on",
    "of",
    "and",
    "or",
    "to",
    "for",
    "by",
    "from",
    "with",
    "about",
    "that",
    "this",
    "these",
    "those",
    "it",
    "its",
    "their",
    "they",
    "them",
    "he",
    "she",
    "his",
    "her",
    "say",
    "said",
    "tell",
    "told",
    "article",
    "articles",
    "report",
    "reported",
    "reports",
    "story",
    "piece",
    "news",
    "both",
    "also",
    "as",
    "at",
    "be",
    "been",
    "being",
    "any",
    "some",
    "there",
    "than",
    "then",
    "into",
    "over",
    "under",
    "not",
    "no",
    "yes",
    "same",
    "other",
    "another",
    "one",
    "person",
    "name",
    "many",
    "much",
    "more",
    "most",
    "mentioned",
    "published",
    "discussed",
    "described",
    "while",
    "if",
    "whether",
    "like",
    "such",
    "all",
    "each",
    "my",
    "me",
    "i",
    "you",
    "your",
    "we",
    "our",
    "per",
    "via",
    "up",
    "out",
    "so",
    "just",
    "only",
    "us-led",
    "made",
    "make",
    "says",
    "based",
    "am",
    "pm",
    "inc",
    "today",
    "yesterday",
    "week",
    "month",
    "year",
    *(m.lower() for m in MONTH_NAMES),
    *(d.lower() for d in WEEKDAY_NAMES),
}


@dataclass(frozen=True)
class QueryPlan:
    """What retrieval needs to know about a question."""

    question: str
    text: str  # the question without outlet and date phrases, for embedding
    outlets: tuple[str, ...]  # indexed source names the question names, in order of mention
    dates: tuple[DateRange, ...]
    terms: tuple[str, ...]  # content words and names, lower-cased, in order
    names: tuple[str, ...]  # capitalised words not at the start of the question, as written


def outlet_aliases(source: str) -> set[str]:
    """Ways a question may name an outlet: "The Verge | Tech" -> {"The Verge", "Verge"}."""
    base = re.split(r"\s+[|\-–—]\s+", source.strip())[0].strip()
    aliases = {source.strip(), base}
    for name in list(aliases):
        if name.lower().endswith(".com"):
            aliases.add(name[:-4])
    for name in list(aliases):
        if name.lower().startswith("the ") and len(name) > 7:
            aliases.add(name[4:])
    return {a for a in aliases if len(a) >= 3}


class OutletMatcher:
    """Finds the indexed outlets a question names."""

    def __init__(self, sources: Iterable[str]) -> None:
        by_alias: dict[str, set[str]] = {}
        for source in {s for s in sources if s}:
            for alias in outlet_aliases(source):
                by_alias.setdefault(alias.casefold(), set()).add(source)
        # Longest first, so "FOX News - Health" wins over the "FOX News" it contains.
        self._patterns = [
            (re.compile(rf"(?<![\w.]){re.escape(alias)}(?!\w)", re.IGNORECASE), sorted(names))
            for alias, names in sorted(by_alias.items(), key=lambda item: -len(item[0]))
        ]

    def find(self, question: str) -> list[tuple[str, int, int]]:
        """(source, start, end) of each outlet named, first mention first, no overlaps.

        A name shared by several indexed outlets ("FOX News") names each of them.
        """
        hits: list[tuple[str, int, int]] = []
        taken: list[tuple[int, int]] = []
        for pattern, names in self._patterns:
            for m in pattern.finditer(question):
                if any(m.start() < b and a < m.end() for a, b in taken):
                    continue
                if " " not in m.group(0) and not m.group(0)[:1].isupper():
                    continue  # one-word names keep their capital: "Fortune", not "fortune"
                taken.append((m.start(), m.end()))
                hits.extend((name, m.start(), m.end()) for name in names)
        return sorted(hits, key=lambda h: h[1])


def key_terms(text: str) -> tuple[list[str], list[str]]:
    """Content words (lower-cased) and capitalised names of ``text``, question words left out."""
    terms: list[str] = []
    names: list[str] = []
    for i, m in enumerate(_WORD.finditer(text)):
        word = m.group(0).strip("'’-.,")
        low = word.lower()
        if not word or low in _QUESTION_WORDS or len(low) < 2:
            continue
        terms.append(low)
        if i > 0 and word[0].isupper():
            names.append(word)
    return terms, names


def plan_query(question: str, outlets: OutletMatcher) -> QueryPlan:
    """Read ``question``: outlets and dates it names, the rest for embedding, its key terms."""
    named = outlets.find(question)
    dates = find_dates(question)
    spans = sorted([(a, b) for _, a, b in named] + [(a, b) for _, a, b in dates])
    kept, cursor = [], 0
    for a, b in spans:
        kept.append(question[cursor:a])
        cursor = max(cursor, b)
    kept.append(question[cursor:])
    text = _FILLER.sub(" ", " ".join(kept))
    text = re.sub(r"\s+([,.?!;:])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,")
    terms, names = key_terms(" ".join(kept))
    unique_outlets = tuple(dict.fromkeys(source for source, _, _ in named))
    return QueryPlan(
        question=question,
        text=text if len(text) >= 8 else question,
        outlets=unique_outlets,
        dates=tuple(d for d, _, _ in dates),
        terms=tuple(dict.fromkeys(terms)),
        names=tuple(dict.fromkeys(names)),
    )
