"""What every index engine speaks: chunk ids and scores, filters as a value, records out.

Retrieval, answering and the build talk to an engine only through these two protocols, so a
second engine (a server, a cluster) is one module behind ``qa.index.factory``. Positions (rows,
array offsets) never cross them: an engine may shard, page or renumber freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from qa.config import Manifest
from qa.errors import SettingsError
from qa.records import Article, ArticlePage, ArticleSummary, Chunk
from qa.text.dates import iso_day


@dataclass(frozen=True)
class Filters:
    """Which articles a search may return; engines push these down where they can.

    ``sources`` match outlet names case-insensitively; ``since``/``until`` are inclusive ISO
    days and leave out undated articles.
    """

    sources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    @classmethod
    def of(
        cls,
        sources: Sequence[str] | str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Filters:
        """Checked filters from user input.

        Raises:
            SettingsError: a date that is not YYYY-MM-DD.
        """
        if isinstance(sources, str):
            sources = [sources]
        try:
            first = iso_day(since, "since") if since else None
            last = iso_day(until, "until") if until else None
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        return cls(tuple(s for s in sources or () if s), first, last)

    def allows(self, source: str | None, published: str | None) -> bool:
        """Whether an article from ``source`` published on ``published`` passes."""
        if not self.allows_source(source):
            return False
        day = (published or "")[:10]
        if self.since and not (day and day >= self.since):
            return False
        return not (self.until and not (day and day <= self.until))

    def allows_source(self, source: str | None) -> bool:
        return not self.sources or (source or "").casefold() in {s.casefold() for s in self.sources}

    def within(self, source: str) -> Filters | None:
        """These filters narrowed to one outlet, or None when they leave that outlet out."""
        if not self.allows_source(source):
            return None
        return Filters((source,), self.since, self.until)


ARTICLE_SORTS = ("published", "title", "source", "passages", "id")
MAX_ARTICLE_PAGE = 500  # rows one listing call may return: a page, never the whole archive


@dataclass(frozen=True)
class ArticleQuery:
    """A page of the archive listing: which articles, in what order, which slice.

    ``text`` matches the title or the file path, ignoring the case of ASCII letters (as
    SQLite's ``lower`` does, so every engine agrees). Sorting puts missing values (no title,
    outlet or date) last in either direction and breaks ties by article id.
    """

    text: str = ""
    filters: Filters = Filters()
    sort: str = "published"
    descending: bool = True
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.sort not in ARTICLE_SORTS:
            raise SettingsError(
                f"cannot sort articles by {self.sort!r}; choose one of {', '.join(ARTICLE_SORTS)}"
            )
        if not (0 <= self.limit <= MAX_ARTICLE_PAGE and self.offset >= 0):
            raise SettingsError(
                f"a page is 0 to {MAX_ARTICLE_PAGE} articles from offset 0 or more "
                f"(got {self.limit} from {self.offset})"
            )

    @property
    def needle(self) -> str:
        """``text`` as compared: stripped, ASCII letters lower-cased."""
        return ascii_lower(self.text.strip())


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as SQLite's ``lower()`` does."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def select_articles(rows: Iterable[ArticleSummary], query: ArticleQuery) -> ArticlePage:
    """``query`` over summaries held in memory (engines that keep every article's metadata).

    The summaries' ``lead`` is kept as given; an engine fills it for the page it returns.
    """
    f, needle = query.filters, query.needle
    hits = [
        r
        for r in rows
        if f.allows(r.source, r.published)
        and (
            not needle
            or needle in ascii_lower(r.title or "")
            or needle in ascii_lower(r.path or "")
        )
    ]
    months: dict[str, int] = {}
    sources: dict[str, int] = {}
    for r in hits:
        if r.published:
            months[r.published[:7]] = months.get(r.published[:7], 0) + 1
        sources[r.source or ""] = sources.get(r.source or "", 0) + 1
    key = _SORT_KEYS[query.sort]
    present = sorted((r for r in hits if key(r) is not None), key=lambda r: r.id)
    present.sort(key=key, reverse=query.descending)  # stable: ties stay in id order
    ordered = present + sorted((r for r in hits if key(r) is None), key=lambda r: r.id)
    return ArticlePage(
        rows=tuple(ordered[query.offset : query.offset + query.limit]),
        total=len(hits),
        offset=query.offset,
        by_month=tuple(sorted(months.items())),
        by_source=tuple(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
        undated=sum(1 for r in hits if not r.published),
    )


_SORT_KEYS: dict[str, Any] = {
    "published": lambda r: r.published[:10] if r.published else None,
    "title": lambda r: ascii_lower(r.title) if r.title else None,
    "source": lambda r: ascii_lower(r.source) if r.source else None,
    "passages": lambda r: r.passages,
    "id": lambda r: r.id,
}


@dataclass(frozen=True)
class StoredChunk:
    """A stored chunk with its article's metadata: ``article.text[start:end] == text``."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    title: str | None = None
    source: str | None = None
    published: str | None = None
    url: str | None = None
    path: str | None = None


class ChunkRef(NamedTuple):
    """The little fusion needs of a candidate chunk: its article, outlet and date."""

    article_id: str
    source: str
    published: str  # ISO day, "" when unknown


@dataclass(frozen=True)
class ChunkRefs:
    """``ChunkRef`` of several chunks as columns (numpy string arrays, in the order asked):
    fusion asks for several hundred per question and scores them as arrays."""

    article_ids: np.ndarray
    sources: np.ndarray  # "" when unknown
    published: np.ndarray  # ISO day, "" when unknown

    @classmethod
    def of(cls, refs: Sequence[ChunkRef]) -> ChunkRefs:
        columns = list(zip(*refs)) or [(), (), ()]
        return cls(*(np.array(list(c), dtype=str) for c in columns))

    def __len__(self) -> int:
        return len(self.article_ids)

    def __iter__(self) -> Iterator[ChunkRef]:
        rows = zip(self.article_ids.tolist(), self.sources.tolist(), self.published.tolist())
        return (ChunkRef(*row) for row in rows)


@dataclass(frozen=True)
class Catalog:
    """What an index holds, in numbers and names (cheap: no per-article rows)."""

    articles: int
    chunks: int
    sources: tuple[str, ...]  # outlet names, sorted
    published_min: str | None
    published_max: str | None
    name: str  # the version being read (a generation), changes with every publish
    built_at: str | None = None


@dataclass(frozen=True)
class StoredArticle:
    """A build's view of an article already indexed: metadata, text hash and chunk spans."""

    meta: dict[str, Any]  # the Article fields except text
    chunks: tuple[tuple[int, int, str, str], ...]  # (start, end, chunk id, text hash)


@dataclass(frozen=True)
class IndexState:
    """What a writer finds before a build: the live manifest and articles, if any."""

    manifest: Manifest
    articles: Mapping[str, StoredArticle]  # an engine may read records lazily
    chunks: int
    name: str
    complete: bool = True  # False: written by an older version; rewrite even when unchanged
    rebuild: str | None = None  # why nothing stored can be kept (an older engine layout)


@dataclass(frozen=True)
class IndexChanges:
    """What a build changes: the added or changed articles with all their chunks, and the ids
    of removed articles. Row ``i`` of ``vectors`` and ``lexical_texts`` belongs to
    ``chunks[i]``; every chunk belongs to one of ``articles``."""

    articles: Sequence[Article]
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    lexical_texts: Sequence[str]
    removed: tuple[str, ...] = ()
    replace: bool = False  # the articles given are everything (first build or full re-index)


class IndexReader(Protocol):
    """A read-only, thread-safe view of one version of an index."""

    manifest: Manifest

    def dense(self, vector: np.ndarray, k: int, filters: Filters) -> dict[str, float]:
        """Up to ``k`` chunks nearest to ``vector`` (cosine) that pass ``filters``."""
        ...

    def lexical(self, terms: Sequence[str], k: int, filters: Filters) -> dict[str, float]:
        """Up to ``k`` chunks with a positive BM25 score for ``terms`` that pass ``filters``."""
        ...

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[str]) -> np.ndarray:
        """BM25 score of each chunk in ``ids`` for ``terms`` (float32, 0 for no match)."""
        ...

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        """Cosine of ``vector`` and each chunk's stored vector (float32)."""
        ...

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 IDF of each term the index knows (unknown terms left out)."""
        ...

    def best_sentence_scores(self, ids: Sequence[str], weights: dict[str, float]) -> np.ndarray:
        """Per chunk, the BM25 score of its best sentence for terms weighted by ``weights``."""
        ...

    def order(self, ids: Sequence[str]) -> list[str]:
        """``ids`` in the index's storage order: how fusion breaks exact ties, reproducibly."""
        ...

    def refs(self, ids: Sequence[str]) -> ChunkRefs:
        """Article, outlet and date of each chunk, in order (as columns)."""
        ...

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks, in order (unknown ids, and chunks of deleted articles, left out)."""
        ...

    def article(self, article_id: str) -> Article | None: ...

    def catalog(self) -> Catalog: ...

    def articles(self, query: ArticleQuery) -> ArticlePage:
        """A page of the indexed articles (``lead`` filled for the page's rows), the number
        matching and their counts by month and outlet; never every row at once."""
        ...

    def stale(self) -> bool:
        """Whether a newer version was published since this one was opened."""
        ...

    def close(self) -> None: ...


class IndexWriter(Protocol):
    """Writes new versions of one index; a context manager holding its build lock."""

    location: str

    def __enter__(self) -> IndexWriter: ...

    def __exit__(self, *exc: object) -> None: ...

    def previous(self, *, verify: bool = False) -> IndexState | None:
        """The live version's state, or None when there is none or it is damaged (then the
        build writes a complete new version); ``verify`` checks its content thoroughly."""
        ...

    def cache_path(self) -> Any:
        """Where the embedding cache of this index lives (a local file)."""
        ...

    def publish(self, changes: IndexChanges, manifest: Manifest) -> str:
        """Apply ``changes`` to the live version as a new version, live atomically; its name.

        With ``changes.replace`` the articles given are the whole new version (a first build,
        or everything re-indexed); otherwise the new version is the live one with
        ``changes.articles`` added or replacing the stored article of the same id (its old
        chunks go) and ``changes.removed`` left out. ``manifest.counts`` are the new totals.
        """
        ...

    def optimize(self) -> str | None:
        """Fold the live version's pieces (segments) together for speed; the new version's
        name, or None when there is nothing to fold (or the engine has no pieces)."""
        ...
