"""One immutable segment of a local index: the chunks one build or update wrote, and their data.

A segment lives in the folder of the generation that wrote it (``meta.sqlite``, ``vectors.faiss``,
``bm25/``, ``sentences/``) and is never modified: later generations list it again and record
which of its articles they deleted. Its parts load lazily, so a writer that only needs the
metadata (which rows an article has) never reads its vectors. Open segments are shared between
the readers of successive generations of one process (``open_segment``): refreshing an index
after an update reads only the new segment.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.model import file_sha256
from qa.errors import IndexCorruptError
from qa.index.base import StoredChunk
from qa.index.local.bm25 import TermCounts
from qa.index.local.sentence_terms import SentenceIndex
from qa.index.local.vectors import VectorIndex
from qa.records import Article, Chunk

SENTENCES = "sentences"
ARTICLE_FIELDS = (
    "id",
    "title",
    "source",
    "published",
    "url",
    "author",
    "path",
    "date_text",
    "sha256",
)
SCHEMA_SQL = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT, source TEXT, published TEXT, url TEXT, author TEXT,
    path TEXT, date_text TEXT, sha256 TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, text_hash TEXT NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id);
"""
CODES = "codes"  # the 8-bit codes of a large segment's vectors (qa.index.local.vectors)
SEGMENT_FILES = ("meta.sqlite", "vectors.faiss", CODES, "bm25", SENTENCES)


def write_segment(
    folder: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    dimension: int,
    *,
    lexical_texts: list[str] | None = None,
    terms: TermCounts | None = None,
    sentences: SentenceIndex | None = None,
) -> dict[str, Any]:
    """Write a segment's files into ``folder``; returns its vector and sentence settings.

    ``terms`` and ``sentences`` may come ready (a merge folds them from older segments);
    otherwise they are made from ``lexical_texts`` and the chunk texts.
    """
    _write_sqlite(folder / "meta.sqlite", articles, chunks)
    vector_index = VectorIndex.build(vectors, dimension)
    vector_index.save(folder / "vectors.faiss", folder / CODES)
    (terms or TermCounts.build(lexical_texts or [])).save(folder / "bm25")
    sentences = sentences or SentenceIndex.build(c.text for c in chunks)
    sentences.save(folder / SENTENCES)
    return {"vectors": vector_index.settings, "sentences": sentences.settings}


def _write_sqlite(path: Path, articles: list[Article], chunks: list[Chunk]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA_SQL)
        db.executemany(
            f"INSERT INTO articles ({', '.join(ARTICLE_FIELDS)}, text) VALUES "
            f"({', '.join('?' * (len(ARTICLE_FIELDS) + 1))})",
            [tuple(getattr(a, f) for f in ARTICLE_FIELDS) + (a.text,) for a in articles],
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
            [(i, c.id, c.article_id, c.start, c.end, c.text_hash) for i, c in enumerate(chunks)],
        )
        db.commit()
    finally:
        db.close()


def file_records(folder: Path, names: tuple[str, ...] = SEGMENT_FILES) -> dict[str, dict]:
    """Size and sha256 of every file of the named parts under ``folder``, by relative path."""
    out = {}
    for name in names:
        part = folder / name
        paths = sorted(part.rglob("*")) if part.is_dir() else [part] if part.exists() else []
        for path in paths:
            if path.is_file():
                rel = str(path.relative_to(folder))
                out[rel] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    return out


def _connect(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    db.execute("SELECT 1 FROM articles, chunks LIMIT 1").fetchall()  # both tables are there
    return db


class Segment:
    """A read-only view of one segment; its parts load on first use, thread-safely."""

    def __init__(self, path: Path, files: dict[str, Any], dimension: int | None) -> None:
        self.path = path
        self.files = files
        self._dimension = dimension
        self._lock = threading.RLock()
        self._loaded: dict[str, Any] = {}
        damaged = self.damaged(hashes=False)
        if damaged:
            raise IndexCorruptError(f"the index file {path / damaged} is damaged; {self.fix}")
        uri = f"file:{path / 'meta.sqlite'}?mode=ro&immutable=1"
        self._db = self._part("meta.sqlite", lambda: _connect(uri))
        self.chunk_count = int(self._one("SELECT COUNT(*) FROM chunks")[0])

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def fix(self) -> str:
        return f"`qa index CORPUS --index {self.path.parent}` rebuilds it"

    def damaged(self, *, hashes: bool) -> str | None:
        """The first file whose size (and with ``hashes``, sha256) differs from the record."""
        for name, record in self.files.items():
            path = self.path / name
            try:
                size = path.stat().st_size
            except OSError:
                return name
            if size != record.get("bytes") or (hashes and file_sha256(path) != record["sha256"]):
                return name
        return None

    def _part(self, name: str, load: Callable[[], Any]) -> Any:
        """``load()``, or IndexCorruptError naming the damaged file and the fix (and a mark
        that makes the next `qa index` check every file's sha256)."""
        try:
            return load()
        except Exception as exc:
            mark_damaged(self.path.parent)
            raise IndexCorruptError(
                f"the index file {self.path / name} is damaged ({exc}); {self.fix}"
            ) from exc

    def _lazy(self, name: str, load: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        with self._lock:
            if name not in self._loaded:
                value = self._part(name, load)
                if size(value) != self.chunk_count:
                    raise IndexCorruptError(
                        f"index segment {self.path} is inconsistent ({self.chunk_count} chunks, "
                        f"{size(value)} rows in {name}); {self.fix}"
                    )
                self._loaded[name] = value
            return self._loaded[name]

    @property
    def vectors(self) -> VectorIndex:
        return self._lazy(
            "vectors.faiss",
            lambda: VectorIndex.load(
                self.path / "vectors.faiss", dimension=self._dimension, codes=self.path / CODES
            ),
            lambda v: v.size,
        )

    def check_vectors(self) -> None:
        """Load and check the vectors (no NaN, the dimension), keeping them only if they were
        loaded already: a writer checks without holding every segment's vectors at once."""
        with self._lock:
            loaded = "vectors.faiss" in self._loaded
            self.vectors  # noqa: B018
            if not loaded:
                del self._loaded["vectors.faiss"]

    @property
    def terms(self) -> TermCounts:
        return self._lazy("bm25", lambda: TermCounts.load(self.path / "bm25"), lambda t: t.size)

    @property
    def sentences(self) -> SentenceIndex:
        return self._lazy(
            SENTENCES, lambda: SentenceIndex.load(self.path / SENTENCES), lambda s: s.size
        )

    # -- metadata ----------------------------------------------------------------------------

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        with self._lock:
            return self._part("meta.sqlite", lambda: self._db.execute(sql, args).fetchone())

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._part("meta.sqlite", lambda: self._db.execute(sql, args).fetchall())

    def select(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query of this segment's meta.sqlite."""
        return self._all(sql, args)

    def article(self, article_id: str) -> Article | None:
        row = self._one(
            f"SELECT {', '.join(ARTICLE_FIELDS)}, text FROM articles WHERE id=?", (article_id,)
        )
        if row is None:
            return None
        return Article(**dict(zip(ARTICLE_FIELDS, row[:-1])), text=row[-1])

    def article_rows(self) -> list[dict[str, Any]]:
        """Metadata of every article of the segment (no text), ordered by id (read once)."""

        def read() -> list[dict[str, Any]]:
            rows = self._all(f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles ORDER BY id")
            return [dict(zip(ARTICLE_FIELDS, r)) for r in rows]

        return self._memo("article_rows", read)

    def chunk_layout(self) -> tuple[list[str], list[str]]:
        """(chunk id, article id) of every chunk row, indexed by row (read once)."""

        def read() -> tuple[list[str], list[str]]:
            rows = self._all("SELECT id, article_id FROM chunks ORDER BY row")
            return [r[0] for r in rows], [r[1] for r in rows]

        return self._memo("chunk_layout", read)

    def _memo(self, name: str, read: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = read()
            return self._loaded[name]

    def article_count(self) -> int:
        """How many articles the segment holds (one COUNT, no rows read)."""
        return int(self._one("SELECT COUNT(*) FROM articles")[0])

    def article_hashes(self) -> list[tuple[str, str]]:
        """(id, text sha256) of every article of the segment."""
        return self._all("SELECT id, sha256 FROM articles")

    def article_meta(self, article_id: str) -> dict[str, Any] | None:
        row = self._one(
            f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles WHERE id=?", (article_id,)
        )
        return None if row is None else dict(zip(ARTICLE_FIELDS, row))

    def spans_of(self, article_id: str) -> tuple[tuple[int, int, str, str], ...]:
        """(start, end, chunk id, text hash) of an article's chunks, in order."""
        rows = self._all(
            "SELECT start_char, end_char, id, text_hash FROM chunks WHERE article_id=? "
            "ORDER BY row",
            (article_id,),
        )
        return tuple(tuple(r) for r in rows)

    def chunks_of_articles(self, ids: Sequence[str]) -> int:
        """How many chunks the given articles have here."""
        total = 0
        ids = list(ids)
        for begin in range(0, len(ids), 900):
            part = tuple(ids[begin : begin + 900])
            marks = ",".join("?" * len(part))
            total += self._one(f"SELECT COUNT(*) FROM chunks WHERE article_id IN ({marks})", part)[
                0
            ]
        return int(total)

    def orphan_chunks(self) -> int:
        """Chunk rows that name no article of the segment (0 unless damaged)."""
        sql = "SELECT COUNT(*) FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)"
        return int(self._one(sql)[0])

    def chunk_hashes(self) -> dict[str, list[tuple[int, int, str, str]]]:
        """Per article: (start, end, chunk id, text hash) of its chunks, in order."""
        out: dict[str, list[tuple[int, int, str, str]]] = {}
        rows = self._all(
            "SELECT article_id, start_char, end_char, id, text_hash FROM chunks ORDER BY row"
        )
        for article_id, start, end, cid, text_hash in rows:
            out.setdefault(article_id, []).append((start, end, cid, text_hash))
        return out

    def chunks_at(self, rows: list[int]) -> list[StoredChunk]:
        """Chunks at the given rows, in the same order (unknown rows are left out)."""
        if not rows:
            return []
        found: dict[int, StoredChunk] = {}
        for begin in range(0, len(rows), 900):  # SQLite's bound-parameter limit
            part = tuple(rows[begin : begin + 900])
            found.update(self._chunks(f"c.row IN ({','.join('?' * len(part))})", part))
        return [found[r] for r in rows if r in found]

    def chunk_texts_at(self, rows: list[int]) -> dict[int, tuple[str, str, int, int, str]]:
        """(id, article id, start, end, text) of the chunks at ``rows``, by row (unknown rows
        left out): what a reader holding the articles' metadata still needs."""
        found = {}
        for begin in range(0, len(rows), 900):  # SQLite's bound-parameter limit
            part = tuple(rows[begin : begin + 900])
            sql = (
                "SELECT c.row, c.id, c.article_id, c.start_char, c.end_char, "
                "substr(a.text, c.start_char + 1, c.end_char - c.start_char) "
                "FROM chunks c JOIN articles a ON a.id = c.article_id "
                f"WHERE c.row IN ({','.join('?' * len(part))})"
            )
            found.update((r[0], r[1:]) for r in self._all(sql, part))
        return found

    def chunk_texts(self, step: int = 5000) -> list[str]:
        out: list[str] = []
        for begin in range(0, self.chunk_count, step):
            found = self._chunks("c.row >= ? AND c.row < ? ORDER BY c.row", (begin, begin + step))
            out.extend(c.text for _, c in found)
        return out

    def _chunks(self, where: str, args: tuple[Any, ...]) -> list[tuple[int, StoredChunk]]:
        sql = (
            "SELECT c.row, c.id, c.article_id, c.start_char, c.end_char, "
            "substr(a.text, c.start_char + 1, c.end_char - c.start_char), "
            "a.title, a.source, a.published, a.url, a.path "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        )
        return [(r[0], StoredChunk(*r[1:])) for r in self._all(sql, args)]

    def articles_full(self, ids: list[str]) -> list[Article]:
        """The stored articles (with text) of ``ids`` (a merge copies them)."""
        out = [self.article(i) for i in ids]
        return [a for a in out if a is not None]

    def close(self) -> None:
        with self._lock:
            self._db.close()


DAMAGED = ".damaged"


def mark_damaged(index_dir: Path) -> None:
    """Leave a note for the next build that a reader found damage (best effort: an index
    may be read-only). Damage of the same size (NaN vectors) is otherwise only found by
    sha256, which an update does not compute for every file."""
    with contextlib.suppress(OSError):
        (index_dir / DAMAGED).touch()


_OPEN: weakref.WeakValueDictionary[tuple[str, str], Segment] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


def open_segment(path: Path, files: dict[str, Any], dimension: int | None) -> Segment:
    """The segment at ``path``, shared with any reader of this process that has it open.

    Segments never change once written, so a refreshed reader reuses what the previous one
    loaded (vectors, term counts, sentences) and reads only segments it has not seen.
    """
    key = (str(path.resolve()), str(sorted(files.items())))
    with _OPEN_LOCK:
        segment = _OPEN.get(key)
        if segment is not None and segment.damaged(hashes=False):
            raise IndexCorruptError(
                f"the index file {path / segment.damaged(hashes=False)} is damaged; {segment.fix}"
            )
        if segment is None:
            segment = Segment(path, files, dimension)
            _OPEN[key] = segment
        return segment


def live_rows(segment: Segment, deleted: set[str], layout: list[str]) -> np.ndarray | None:
    """Mask of the rows whose article is not in ``deleted`` (None when none is)."""
    if not deleted:
        return None
    return np.fromiter((a not in deleted for a in layout), dtype=bool, count=len(layout))
