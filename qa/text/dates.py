"""Dates in text: one month table, article dates, dates a question names, ISO day checks."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

MONTH_NAMES = tuple(m for m in calendar.month_name if m)  # "January" ... "December"
WEEKDAY_NAMES = tuple(calendar.day_name)
_ABBREVIATIONS = {9: ("sep", "sept")}
MONTHS: dict[str, int] = {}  # lower-case name or abbreviation -> month number
for _number, _name in enumerate(MONTH_NAMES, start=1):
    MONTHS[_name.lower()] = _number
    for _short in _ABBREVIATIONS.get(_number, (_name[:3].lower(),)):
        MONTHS[_short] = _number
MONTH_ALTERNATION = "|".join(sorted(MONTHS, key=len, reverse=True))  # longest first

# -- dates in article text and metadata ------------------------------------------------------------
_MONTH = rf"(?P<month>{MONTH_ALTERNATION})\.?"
_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?!\d)")
_MDY = re.compile(_MONTH + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)\b", re.I)
_DMY = re.compile(
    r"\b(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<y>(?:19|20)\d\d)\b", re.I
)
_MONTH_ANY = _MONTH.replace("?P<month>", "?:")
DAY_MONTH = re.compile(
    r"\b[0-3]?\d\s+" + _MONTH_ANY + r"(?!\w)|\b" + _MONTH_ANY + r"\s+[0-3]?\d\b", re.I
)

# -- dates a question names ----------------------------------------------------------------------
_Q_DAY_DATE = re.compile(
    rf"\b({MONTH_ALTERNATION})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE
)
_Q_DAY_FIRST = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH_ALTERNATION})\.?,?\s+(\d{{4}})\b",
    re.IGNORECASE,
)
_Q_MONTH_DATE = re.compile(rf"\b({MONTH_ALTERNATION})\.?,?\s+(\d{{4}})\b", re.IGNORECASE)
_Q_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def safe_date(year: int, month: int, day: int) -> dt.date | None:
    """The date, or None when it does not exist (31 February, month 13)."""
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_date(value: object) -> str | None:
    """Parse an ISO or written date ("October 7, 2023", "7 Oct 2023") into YYYY-MM-DD.

    Returns None for anything without a full, valid date.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    day = None
    if m := _ISO.search(value):
        day = safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
    else:
        for pattern in (_MDY, _DMY):
            if m := pattern.search(value):
                month = MONTHS[m["month"].lower().rstrip(".")]
                day = safe_date(int(m["y"]), month, int(m["d"]))
                break
    return day.isoformat() if day else None


def iso_day(value: str, name: str) -> str:
    """``value`` as YYYY-MM-DD (its first ten characters must be an ISO date).

    Raises:
        ValueError: naming the field ``name`` and the expected form.
    """
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"{name}={shown!r} is not a date; use YYYY-MM-DD") from None


def date_words(iso: str | None) -> str:
    """An ISO date as the words a question may use: "March 4 2024 2024-03-04"; "" for None."""
    if not iso:
        return ""
    day = dt.date.fromisoformat(iso)
    return f"{day:%B} {day.day} {day.year} {iso}"


@dataclass(frozen=True)
class DateRange:
    """An inclusive ISO date range named in a question ("October 7, 2023", "March 2024")."""

    first: str
    last: str
    text: str


def find_dates(question: str) -> list[tuple[DateRange, int, int]]:
    """Dates a question names, as ranges with their spans, first mention first."""
    found: list[tuple[DateRange, int, int]] = []

    def add(first: dt.date | None, last: dt.date | None, m: re.Match[str]) -> None:
        if first is None or last is None:
            return
        if any(m.start() < b and a < m.end() for _, a, b in found):
            return
        found.append((DateRange(first.isoformat(), last.isoformat(), m.group(0)), *m.span()))

    for m in _Q_ISO_DATE.finditer(question):
        day = safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        add(day, day, m)
    for m in _Q_DAY_DATE.finditer(question):
        day = safe_date(int(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2)))
        add(day, day, m)
    for m in _Q_DAY_FIRST.finditer(question):
        day = safe_date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
        add(day, day, m)
    for m in _Q_MONTH_DATE.finditer(question):
        year, month = int(m.group(2)), MONTHS[m.group(1).lower()]
        if 1000 <= year <= 9999:
            last = calendar.monthrange(year, month)[1]
            add(dt.date(year, month, 1), dt.date(year, month, last), m)
    return sorted(found, key=lambda f: f[1])
