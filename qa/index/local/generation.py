"""The local index folder and reading a generation: its layout, manifest, and files.

Layout of ``index/``::

    CURRENT                 name of the live generation (replaced atomically)
    gen-<time>-<id>/        manifest.json, meta.sqlite, vectors.faiss, bm25/, sentences/
    cache/embeddings.sqlite vectors by model and text hash (see qa.embed.cache)
    .lock                   held by the one running build

Writing one (a hidden folder, renamed into place, then the atomic switch of CURRENT, so a
killed build leaves the previous generation live) is qa.index.local.publish.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qa.config import SCHEMA_VERSION, Manifest, ManifestError
from qa.embed.model import file_sha256
from qa.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    SettingsError,
)
from qa.index.base import StoredChunk
from qa.index.local.bm25 import LexicalIndex
from qa.index.local.sentence_terms import SentenceIndex
from qa.index.local.vectors import VectorIndex
from qa.records import Article

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SENTENCES = "sentences"
BUILDING_PREFIX = ".building-"
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


def cache_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / "cache" / "embeddings.sqlite"


def index_folder(index_dir: str | Path) -> Path:
    """``index_dir`` as a folder path.

    Raises:
        SettingsError: it names an existing file, not a folder.
    """
    folder = Path(index_dir)
    if folder.exists() and not folder.is_dir():
        raise SettingsError(
            f"the index location {folder} is a file, not an index folder; give a folder "
            "(`--index DIR`), which `qa index` creates"
        )
    return folder


def current_generation(index_dir: str | Path) -> Path | None:
    """Folder of the live generation, or None when no index was ever completed here."""
    folder = index_folder(index_dir)
    try:
        name = (folder / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {folder / CURRENT}: {exc}") from exc
    path = folder / name
    if not name.startswith("gen-") or not path.is_dir():
        raise IndexCorruptError(
            f"{folder / CURRENT} names {name!r}, which is missing; rebuild with `qa index`"
        )
    return path


def read_manifest(generation: Path) -> Manifest:
    """The manifest of a generation folder, type-checked.

    Raises:
        IndexCorruptError: missing, not JSON, or a field of the wrong type.
        IndexMismatchError: written for another schema version.
    """
    try:
        manifest = Manifest.from_json((generation / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {generation / MANIFEST}: {exc}") from exc
    except ManifestError as exc:
        raise IndexCorruptError(
            f"the manifest {generation / MANIFEST} is damaged: {exc}; rebuild with `qa index`"
        ) from None
    if manifest.schema_version != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"index {generation.parent} has schema version {manifest.schema_version}, "
            f"this qa reads {SCHEMA_VERSION}; rebuild it with `qa index CORPUS --index "
            f"{generation.parent}`"
        )
    return manifest


def _connect(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    db.execute("SELECT 1 FROM articles, chunks LIMIT 1").fetchall()  # both tables are there
    return db


class Generation:
    """A read-only view of one generation: manifest, articles, chunks, vectors, BM25, sentences."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = read_manifest(path)
        self._lock = threading.Lock()
        damaged = self.damaged(hashes=False)
        if damaged:
            raise IndexCorruptError(f"the index file {path / damaged} is damaged; {self._fix}")
        uri = f"file:{path / 'meta.sqlite'}?mode=ro&immutable=1"
        self._db = self._part("meta.sqlite", lambda: _connect(uri))
        self.vectors = self._part(
            "vectors.faiss",
            lambda: VectorIndex.load(
                path / "vectors.faiss", dimension=self.manifest.model.get("dimension")
            ),
        )
        self.lexical = self._part("bm25", lambda: LexicalIndex.load(path / "bm25"))
        self._sentences: SentenceIndex | None = None  # loaded on first use: builds need not
        self._sentences_lock = threading.Lock()
        self.chunk_count = int(self._one("SELECT COUNT(*) FROM chunks")[0])
        if self.vectors.size != self.chunk_count or self.lexical.size != self.chunk_count:
            raise IndexCorruptError(
                f"index generation {path} is inconsistent ({self.chunk_count} chunks, "
                f"{self.vectors.size} vectors, {self.lexical.size} BM25 rows); {self._fix}"
            )

    def damaged(self, *, hashes: bool) -> str | None:
        """The first file whose size (and with ``hashes``, sha256) differs from what the build
        recorded, or None (also for generations that recorded nothing)."""
        for name, record in self.manifest.files.items():
            path = self.path / name
            try:
                size = path.stat().st_size
            except OSError:
                return name
            changed = hashes and file_sha256(path) != record.get("sha256")
            if size != record.get("bytes") or changed:
                return name
        return None

    @property
    def _fix(self) -> str:
        return f"`qa index CORPUS --index {self.path.parent}` rebuilds it"

    def _part(self, name: str, load: Callable[[], Any]) -> Any:
        """``load()``, or IndexCorruptError naming the damaged file and the fix."""
        try:
            return load()
        except Exception as exc:
            raise IndexCorruptError(
                f"the index file {self.path / name} is damaged ({exc}); {self._fix}"
            ) from exc

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def has_saved_sentences(self) -> bool:
        """Whether the build saved the sentence index (older builds did not)."""
        return (self.path / SENTENCES).exists()

    def saved_sentences(self) -> SentenceIndex | None:
        """The sentence index the build saved, or None when there is none or it is unreadable."""
        if not self.has_saved_sentences:
            return None
        try:
            return self.sentences()
        except IndexCorruptError:
            return None

    def sentences(self) -> SentenceIndex:
        """The per-sentence term counts of every chunk row, loaded once.

        A generation written before they were saved gets them computed here from its chunks
        (in memory only: a generation folder is never modified); `qa index` saves them in a new
        generation.

        Raises:
            IndexCorruptError: the saved files cannot be read or do not match the chunks.
        """
        with self._sentences_lock:
            if self._sentences is None:
                self._sentences = self._load_sentences()
            return self._sentences

    def _load_sentences(self) -> SentenceIndex:
        if not self.has_saved_sentences:
            return SentenceIndex.build(self._chunk_texts())
        try:
            sentences = SentenceIndex.load(self.path / SENTENCES)
        except Exception as exc:
            raise IndexCorruptError(
                f"cannot read the sentence index of {self.path}: {exc}; rebuild with `qa index`"
            ) from exc
        if sentences.size != self.chunk_count:
            raise IndexCorruptError(
                f"index generation {self.path} is inconsistent ({self.chunk_count} chunks, "
                f"{sentences.size} in the sentence index); rebuild with `qa index`"
            )
        return sentences

    def _chunk_texts(self, step: int = 5000) -> Iterator[str]:
        for begin in range(0, self.chunk_count, step):
            found = self._chunks("c.row >= ? AND c.row < ? ORDER BY c.row", (begin, begin + step))
            yield from (c.text for _, c in found)

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        with self._lock:
            return self._part("meta.sqlite", lambda: self._db.execute(sql, args).fetchone())

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._part("meta.sqlite", lambda: self._db.execute(sql, args).fetchall())

    def article(self, article_id: str) -> Article | None:
        row = self._one(
            f"SELECT {', '.join(ARTICLE_FIELDS)}, text FROM articles WHERE id=?", (article_id,)
        )
        if row is None:
            return None
        return Article(**dict(zip(ARTICLE_FIELDS, row[:-1])), text=row[-1])

    def select(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query of meta.sqlite (tables ``articles`` and ``chunks``)."""
        return self._all(sql, args)

    def article_rows(self) -> list[dict[str, Any]]:
        """Metadata of every article (no text), ordered by id."""
        rows = self._all(f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles ORDER BY id")
        return [dict(zip(ARTICLE_FIELDS, r)) for r in rows]

    def chunk_layout(self) -> tuple[list[str], list[str]]:
        """(chunk id, article id) of every chunk row, indexed by row."""
        rows = self._all("SELECT id, article_id FROM chunks ORDER BY row")
        return [r[0] for r in rows], [r[1] for r in rows]

    def chunk_rows(self) -> dict[str, int]:
        """The row of every chunk id."""
        return dict(self._all("SELECT id, row FROM chunks"))

    def chunks_at(self, rows: list[int]) -> list[StoredChunk]:
        """Chunks at the given rows, in the same order (unknown rows are left out)."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = dict(self._chunks(f"c.row IN ({marks})", tuple(rows)))
        return [found[r] for r in rows if r in found]

    def _chunks(self, where: str, args: tuple[Any, ...]) -> list[tuple[int, StoredChunk]]:
        sql = (
            "SELECT c.row, c.id, c.article_id, c.start_char, c.end_char, "
            "substr(a.text, c.start_char + 1, c.end_char - c.start_char), "
            "a.title, a.source, a.published, a.url, a.path "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        )
        return [(r[0], StoredChunk(*r[1:])) for r in self._all(sql, args)]

    def chunk_hashes(self) -> dict[str, list[tuple[int, int, str, str]]]:
        """Per article: (start, end, chunk id, text hash) of its chunks, in order."""
        out: dict[str, list[tuple[int, int, str, str]]] = {}
        rows = self._all(
            "SELECT article_id, start_char, end_char, id, text_hash FROM chunks ORDER BY row"
        )
        for article_id, start, end, cid, text_hash in rows:
            out.setdefault(article_id, []).append((start, end, cid, text_hash))
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_generation(index_dir: str | Path) -> Generation:
    """Open the live generation of ``index_dir``.

    Raises:
        IndexNotFoundError: nothing was ever built there.
        IndexCorruptError: the folder exists but cannot be read.
    """
    path = current_generation(index_dir)
    if path is None:
        raise IndexNotFoundError(
            f"no index at {index_dir}; build one with `qa index CORPUS --index {index_dir}`"
        )
    return Generation(path)
