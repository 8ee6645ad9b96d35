"""Metadata from text: front matter and careful heuristics for plain-text pages.

Every heuristic returns None rather than guess: an unknown title, outlet or date stays unknown.
"""

from __future__ import annotations

import re

from qa.text.dates import DAY_MONTH, parse_date

# "BAGHDAD, 5 January —" or "IRBIL:" at the start of a paragraph.
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z .'-]{2,40})(?:,\s*(?P<rest>[^—–:-]{3,40}?))?\s*[—–:-]\s", re.M
)
_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<body>.*?)\n---\s*(?:\n|\Z)", re.S)
_FOOTER_SOURCE = [
    re.compile(r"^(?P<name>[A-Z][\w&.' -]{1,40}?) moderates (?:all )?comments", re.M),
    re.compile(
        r"(?:©|\(c\)|copyright)\s*(?:(?:19|20)\d\d\s*)?(?P<name>[A-Z][\w&.' -]{1,40}?)"
        r"(?:\.|,|\s+all rights|\s*$)",
        re.I | re.M,
    ),
]
_SITE_DATE_LINE = re.compile(r"^date\s+(?P<date>\S+)\s+(?P<name>[A-Z][\w&.' -]{1,40})$", re.M)
_BYLINE_DATE = re.compile(r"^(?P<name>[A-Z][\w&.' ]{1,40}?)\s+[–—-]\s+(?P<date>.{6,30})$")
_CAPTION = re.compile(r"\b(?:photo|photograph|image|picture|credit)s?\s*:", re.I)
_TITLE_WORDS = (4, 30)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading ``---`` block of ``key: value`` lines from the body."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    fields: dict[str, str] = {}
    for line in m["body"].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[m.end() :]


def _header_lines(text: str, limit: int = 10) -> list[str]:
    """Short lines before the first body paragraph."""
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if len(line) > 220 or _DATELINE.match(line):
            break
        lines.append(line)
        if len(lines) >= limit:
            break
    return lines


def guess_title(text: str) -> str | None:
    """The headline: the first headline-like line before the body, or None."""
    for line in _header_lines(text):
        if line.startswith(("•", "* ", "- ", "– ")):
            continue  # summary bullets
        words = line.lstrip("# ").split()
        if not _TITLE_WORDS[0] <= len(words) <= _TITLE_WORDS[1]:
            continue
        if line.endswith((".", ":")) or _CAPTION.search(line) or parse_date(line):
            continue
        if line.lower().startswith(("date ", "updated", "published", "by ")):
            continue
        return " ".join(words)
    return None


def guess_published(text: str) -> tuple[str | None, str | None]:
    """(ISO date, date phrase) from the header or the dateline.

    A dateline without a year ("BAGHDAD, 5 January") gives no ISO date, only the phrase.
    """
    for line in _header_lines(text):
        if _CAPTION.search(line):
            continue
        if iso := parse_date(line):
            return iso, None
    for m in _DATELINE.finditer(text[:2000]):
        rest = m["rest"] or ""
        if iso := parse_date(rest):
            return iso, None
        if dm := DAY_MONTH.search(rest):
            return None, dm.group(0)
        break
    return None, None


def guess_source(text: str) -> str | None:
    """The outlet, when the page names itself (header site line, footer, or byline)."""
    header = "\n".join(_header_lines(text))
    if m := _SITE_DATE_LINE.search(header):
        return m["name"].strip()
    tail = text[-3000:]
    for pattern in _FOOTER_SOURCE:
        if m := pattern.search(tail):
            return m["name"].strip()
    for line in _header_lines(text):
        if (m := _BYLINE_DATE.match(line)) and parse_date(m["date"]):
            return m["name"].strip()
    return None
