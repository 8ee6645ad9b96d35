"""Sentence spans, copied verbatim from qa/sentences.py (commit 64ec567) so that training does not
import the product package while it is restructured. Keep in sync: the reader is trained on the
sentences the product quotes."""

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


def enclosing_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences overlapping ``text[start:end]``, extended to whole sentences of the article."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return [(a, b) for a, b in sentence_spans(text, line_start, line_end) if b > start and a < end]
