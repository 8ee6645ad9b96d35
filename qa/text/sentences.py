"""Sentence spans in article text, for quoting: exact offsets, news-aware abbreviations."""

from __future__ import annotations

import re

# Abbreviations that end with a period but rarely end a sentence in news copy.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "lt",
    "col",
    "maj",
    "capt",
    "sgt",
    "adm",
    "gov",
    "sen",
    "rep",
    "st",
    "mt",
    "no",
    "vs",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "inc",
    "corp",
    "co",
    "ltd",
    "jr",
    "sr",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "approx",
    "est",
    "dept",
    "fig",
    "al",
}
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then space.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_MIN_CHARS = 12
_MAX_CHARS = 600


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the period ending at ``end`` closes an abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[max(0, end - 12) : end])
    if not word:
        return False
    token = word.group(1).lower()
    return token in _ABBREVIATIONS or len(token) == 1  # "John F. Kirby"


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text[start:end]``, stripped, never empty.

    Paragraphs, headlines, datelines and list items end sentences; lines that a file merely
    wraps are read as one sentence. Overlong sentences are cut at clause punctuation so a quote
    stays readable.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for base, stop in _blocks(text, start, end):
        block = text[base:stop]
        cursor = 0
        for m in _BOUNDARY.finditer(block):
            if _is_abbreviation(block, m.end()):
                continue
            spans.append((base + cursor, base + m.end()))
            cursor = m.end()
        spans.append((base + cursor, stop))
    return [s for s in (_strip(text, a, b) for a, b in spans) for s in _cut_long(text, *s) if s]


_BLOCK_END = re.compile(r"[.!?:;…\"'”’)\]]$")
# A list item, or a dateline ("ERBIL, Kurdistan Region -", "BAGHDAD, 5 January —", "IRBIL:").
_BLOCK_START = re.compile(
    r"^(?:[•·*\-–—]|\d+[.)]\s|[A-Z][A-Z'’.\-]{2,}(?:\s[A-Z][A-Z'’.\-]+)*[,:])"
)
_SHORT_LINE = 50  # a line this short is a headline, dateline or byline, not a wrapped line


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of text in which a line break does not end a sentence (wrapped lines joined)."""
    blocks: list[tuple[int, int]] = []
    previous = ""
    for m in re.finditer(r"[^\n]+", text[start:end]):
        a, b = start + m.start(), start + m.end()
        line = m.group(0).strip()
        if not line:
            continue
        wrapped = (
            blocks
            and text[blocks[-1][1] : a].count("\n") == 1
            and len(previous) >= _SHORT_LINE
            and not _BLOCK_END.search(previous)
            and not _BLOCK_START.match(line)
        )
        if wrapped:
            blocks[-1] = (blocks[-1][0], b)
        else:
            blocks.append((a, b))
        previous = line
    return blocks


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _cut_long(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """``text[a:b]`` in pieces of at most ``_MAX_CHARS``, cut after "; ", ", " or a space."""
    pieces: list[tuple[int, int]] = []
    while b - a > _MAX_CHARS:  # a loop, not recursion: a 1 MB run of text is 4,000 pieces
        cut = max(text.rfind(sep, a, a + _MAX_CHARS) for sep in ("; ", ", ", " "))
        if cut <= a:
            cut = a + _MAX_CHARS
        pieces.append(_strip(text, a, cut + 1))
        a, b = _strip(text, cut + 1, b)
    if b - a >= _MIN_CHARS or text[a:b].strip():
        pieces.append((a, b))
    return pieces


_LEAD_WORDS = 6  # shorter lines at the top are kickers ("Iraq") or section names, not a lead
_LEAD_CHARS = 90
_CREDIT = re.compile(r"^(?:photo|photograph|image|picture|credit)s?\s*:", re.IGNORECASE)


def lead_sentence(text: str, limit: int = _LEAD_CHARS) -> str:
    """The article's first real sentence, trimmed to ``limit`` characters ("" when none).

    What to show for an article without a headline: lines of fewer than six words (kickers,
    section names) and photo captions (a sentence followed by "Photo: ...") are passed over.
    """
    head = text[:4000]
    spans = sentence_spans(head)
    for i, (a, b) in enumerate(spans):
        sentence = " ".join(head[a:b].split())
        followed_by_credit = i + 1 < len(spans) and _CREDIT.match(head[spans[i + 1][0] :])
        if len(sentence.split()) < _LEAD_WORDS or _CREDIT.match(sentence) or followed_by_credit:
            continue
        return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
    return ""
