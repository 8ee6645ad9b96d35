"""Frozen records passed between the stages: articles, chunks, build reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


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
