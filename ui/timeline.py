"""The timeline of an answer's sources: points on a date axis plus a dated and undated list."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import qa
from ui import render

_PAD_DAYS = 30  # keeps a lone point (or points on one day) from filling the whole axis
_COLUMNS = ("source", "quote", "date_text")


def empty() -> pd.DataFrame:
    """A frame with the timeline's columns and no rows."""
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns]"),
            **{name: pd.Series([], dtype="str") for name in _COLUMNS},
        }
    )


def frame(refs: list[render.Ref]) -> tuple[pd.DataFrame, list[float] | None]:
    """The dated references as plot rows, and x limits (Unix seconds) with some margin.

    Args:
        refs: The references of the current answer.

    Returns:
        Columns date, source ("[n] outlet", the y axis), quote and date_text; and the x limits,
        or None when nothing is dated.
    """
    dated = [(day, r) for r in refs if (day := published_day(r.published))]
    if not dated:
        return empty(), None
    days = [day for day, _ in dated]
    data = pd.DataFrame(
        {
            "date": pd.to_datetime(days),
            "source": [
                render.short(f"[{r.n}] {r.source or 'outlet unknown'}", 32) for _, r in dated
            ],
            "quote": [render.short(r.quote, 140) for _, r in dated],
            "date_text": [day.isoformat() for day in days],
        }
    )
    pad = dt.timedelta(days=_PAD_DAYS)
    return data, [_seconds(min(days) - pad), _seconds(max(days) + pad)]


def listing(refs: list[render.Ref]) -> str:
    """Markdown: the dated references in date order, then those without a date."""
    if not refs:
        return "*Ask a question to see its sources on a timeline.*"
    dated = sorted(
        ((day, r) for r in refs if (day := published_day(r.published))), key=lambda x: x[0]
    )
    undated = [r for r in refs if not published_day(r.published)]
    lines = [f"- {day.isoformat()} · {_line(r)}" for day, r in dated]
    if undated:
        lines += ["", "**Without a date**", ""] + [f"- {_line(r)}" for r in undated]
    return "\n".join(lines)


def published_day(published: str | None) -> dt.date | None:
    """The date of an ISO "published" value, or None when missing or not a date."""
    try:
        return dt.date.fromisoformat(qa.iso_day(published or "", "published"))
    except ValueError:
        return None


def _line(r: render.Ref) -> str:
    where = render.md_escape(f"[{r.n}] {r.source or 'outlet unknown'}")
    return f"{where}: “{render.md_escape(render.short(r.quote, 120))}”"


def _seconds(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
