"""Frozen records passed between the stages: articles, chunks, build reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NO_HEADLINE = "(no headline)"


def display_title(title: str | None, lead: str | None = None) -> str:
    """What to call an article: its title, or its lead sentence marked "(no headline)".

    A missing title stays None in every record; this is only how it is shown.
    """
    if title:
        return title
    return f"{lead} {NO_HEADLINE}" if lead else NO_HEADLINE


def _to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


@dataclass(frozen=True)
class Article:
    """A cleaned article: the text that is stored, cited and shown, plus its metadata."""

    id: str
    text: str
    title: str | None = None
    source: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) or None when unknown
    url: str | None = None
    author: str | None = None
    path: str | None = None  # file the article came from, relative to the corpus root
    date_text: str | None = None  # a date phrase found in the text that has no full date
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Chunk:
    """A span of an article: ``article.text[start:end] == text`` always holds."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    text_hash: str

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Skipped:
    """An input that was not indexed, and why."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class BuildReport:
    """What one ``build_index`` run did."""

    index_dir: str
    generation: str
    articles: int
    chunks: int
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    full_rebuild_reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.full_rebuild_reason)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: ``assistant.article(article_id).text[start:end] == text``."""

    article_id: str
    title: str | None
    source: str | None
    published: str | None
    url: str | None
    path: str | None
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Citation(Passage):
    """A quoted sentence: ``article.text[quote_start:quote_end] == quote``, inside passage n.

    A Passage (the one the quote comes from) with the quote and its number in the answer.
    """

    n: int = 0
    quote: str = ""
    quote_start: int = 0
    quote_end: int = 0


@dataclass(frozen=True)
class Answer:
    """An extractive answer with numbered citations, or an abstention with related passages."""

    question: str
    text: str
    abstained: bool
    reason: str | None = None
    citations: tuple[Citation, ...] = ()
    related: tuple[Passage, ...] = ()
    notices: tuple[str, ...] = ()
    # The reader's probability that its best sentence answers (the trained reader; None for
    # readers that give none); abstentions keep theirs, so answered share vs precision can be
    # drawn at any threshold.
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    def to_markdown(self, *, leads: Mapping[str, str] | None = None) -> str:
        """The answer as Markdown: the question, the answer, then per citation the quote,
        title, outlet, date, URL when known and ``file:start-end`` (the quote's characters).

        Args:
            leads: Lead sentences of articles without a title, by article id
                (``Assistant.leads(answer)``), shown in place of the missing title.
        """
        leads = leads or {}
        lines = [f"### {_flat(self.question)}", ""]
        lines += [f"> Note: {_flat(n)}" for n in self.notices] + ([""] if self.notices else [])
        if not self.abstained:
            lines += [_flat(self.text), "", "**Sources**", ""]
            for c in self.citations:
                lines.append(f"{c.n}. “{_flat(c.quote)}”  ")
                lines.append(f"   {_where_md(c, leads, c.quote_start, c.quote_end)}")
            return "\n".join(lines).rstrip() + "\n"
        plain = self.text or "The corpus does not contain an answer to this question."
        lines += [_flat(plain) + (f" ({_flat(self.reason)})" if self.reason else ""), ""]
        if self.related:
            lines += ["**Closest passages (not an answer)**", ""]
            for n, p in enumerate(self.related, start=1):
                lines.append(f"{n}. {_flat(p.text)[:280]}  ")
                lines.append(f"   {_where_md(p, leads, p.start, p.end)}")
        return "\n".join(lines).rstrip() + "\n"


def _flat(text: str) -> str:
    """One line: Markdown structure (headings, lists) cannot come from article text."""
    return " ".join(text.split())


def _where_md(p: Passage, leads: Mapping[str, str], start: int, end: int) -> str:
    parts = [
        f"*{_flat(display_title(p.title, leads.get(p.article_id)))}*",
        _flat(p.source or "outlet unknown"),
        p.published or "date unknown",
    ]
    if p.url and p.url.strip().lower().startswith(("http://", "https://")):
        parts.append(f"<{_flat(p.url)}>")  # only web links: no javascript: link in a paste
    parts.append(f"`{p.path or p.article_id}:{start}-{end}`")
    return " · ".join(parts)


@dataclass(frozen=True)
class ArticleSummary:
    """One row of the archive listing: an indexed article's metadata, without its text."""

    id: str
    title: str | None
    source: str | None
    published: str | None
    path: str | None
    passages: int
    lead: str = ""  # the lead sentence, trimmed: what to show when there is no title

    @property
    def headline(self) -> str:
        return display_title(self.title, self.lead)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class ArticlePage:
    """A page of the archive listing, with totals and counts over every matching article."""

    rows: tuple[ArticleSummary, ...]
    total: int  # articles matching the query (all pages)
    offset: int
    by_month: tuple[tuple[str, int], ...] = ()  # ("YYYY-MM", articles), oldest first
    by_source: tuple[tuple[str, int], ...] = ()  # (outlet, articles), most first; "" unknown
    undated: int = 0  # matching articles without a date (not in by_month)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)
