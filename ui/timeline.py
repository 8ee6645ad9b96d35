"""The timeline of an answer: every article it was drawn from on a date axis, the cited ones
marked, plus a dated and an undated list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

import qa
from ui import render

_PAD_DAYS = 30  # keeps a lone point (or points on one day) from filling the whole axis
_COLUMNS = ("source", "quote", "date_text", "kind")
CITED, RETRIEVED = "cited", "retrieved, not cited"


@dataclass(frozen=True)
class Point:
    """One article of an answer's search: its marker(s) when cited, else none."""

    label: str  # "[1] outlet" when cited, "outlet" when only retrieved
    source: str | None
    published: str | None
    text: str  # the first quote when cited, else the title
    cited: bool


def points(
    refs: Sequence[render.Ref], retrieved: Sequence[Any] = (), leads: dict[str, str] | None = None
) -> list[Point]:
    """One point per article: those of ``refs`` (cited, in marker order) and then the other
    articles among the ``retrieved`` passages (``qa.Passage``), in rank order."""
    cited: dict[str, list[render.Ref]] = {}
    for r in refs:
        cited.setdefault(r.article_id, []).append(r)
    out = []
    for group in cited.values():
        first = group[0]
        marks = "".join(f"[{r.n}]" for r in group) if first.is_quote else f"(related {first.n})"
        out.append(
            Point(
                f"{marks} {first.source or 'outlet unknown'}",
                first.source,
                first.published,
                first.quote,
                first.is_quote,
            )
        )
    seen = set(cited)
    for p in retrieved:
        if p.article_id in seen:
            continue
        seen.add(p.article_id)
        title = render.title_of(p, leads)
        out.append(Point(p.source or "outlet unknown", p.source, p.published, title, False))
    return out


def empty() -> pd.DataFrame:
    """A frame with the timeline's columns and no rows."""
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns]"),
            **{name: pd.Series([], dtype="str") for name in _COLUMNS},
        }
    )


def frame(found: Sequence[Point]) -> tuple[pd.DataFrame, list[float] | None]:
    """The dated points as plot rows, and x limits (Unix seconds) with some margin.

    Returns:
        Columns date, source (the y axis), quote, date_text and kind (cited or not); and the
        x limits, or None when nothing is dated.
    """
    dated = [(day, p) for p in found if (day := published_day(p.published))]
    if not dated:
        return empty(), None
    days = [day for day, _ in dated]
    data = pd.DataFrame(
        {
            "date": pd.to_datetime(days),
            "source": [render.short(p.label, 32) for _, p in dated],
            "quote": [render.short(p.text, 140) for _, p in dated],
            "date_text": [day.isoformat() for day in days],
            "kind": [CITED if p.cited else RETRIEVED for _, p in dated],
        }
    )
    pad = dt.timedelta(days=_PAD_DAYS)
    return data, [_seconds(min(days) - pad), _seconds(max(days) + pad)]


def listing(found: Sequence[Point]) -> str:
    """Markdown: the dated articles in date order, then those without a date; cited in bold."""
    if not found:
        return "*Ask a question to see the articles of its answer on a timeline.*"
    dated = sorted(
        ((day, p) for p in found if (day := published_day(p.published))), key=lambda x: x[0]
    )
    undated = [p for p in found if not published_day(p.published)]
    lines = [f"- {day.isoformat()} · {_line(p)}" for day, p in dated]
    if undated:
        lines += ["", "**Without a date**", ""] + [f"- {_line(p)}" for p in undated]
    cited = sum(p.cited for p in found)
    lines += ["", f"*{len(found)} articles searched, {cited} cited (in bold).*"]
    return "\n".join(lines)


def published_day(published: str | None) -> dt.date | None:
    """The date of an ISO "published" value, or None when missing or not a date."""
    try:
        return dt.date.fromisoformat(qa.iso_day(published or "", "published"))
    except ValueError:
        return None


def _line(p: Point) -> str:
    where = render.md_escape(p.label)
    text = render.md_escape(render.short(p.text, 120))
    if p.cited:
        return f"**{where}** (cited): “{text}”"
    return f"{where}: {text}"


def _seconds(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
