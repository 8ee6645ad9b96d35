"""The local index folder and reading a generation: its layout, manifest, segments, deletions.

Layout of ``index/``::

    CURRENT                 name of the live generation (replaced atomically)
    gen-<time>-<id>/        manifest.json, segments.json, and the segment this generation wrote
                            (meta.sqlite, vectors.faiss, bm25/, sentences/), if it wrote one
    cache/embeddings.sqlite vectors by model and text hash (see qa.embed.cache)
    cache/files.sqlite      size, mtime and articles of each corpus file (see qa.index.stamps)
    .lock                   held by the one running build

A generation is a list of immutable segments, each in the folder of the generation that wrote
it, plus the ids of the articles deleted from each (``segments.json``). An update writes a
generation with one new small segment and the old ones listed again; a merge writes one with a
single segment holding every live chunk. Writing one (a hidden folder, renamed into place, then
the atomic switch of CURRENT, so a killed build leaves the previous generation live) is
qa.index.local.publish.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import SCHEMA_VERSION, Manifest, ManifestError
from qa.embed.model import file_sha256
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, SettingsError
from qa.index.base import StoredChunk
from qa.index.local.bm25 import LexicalIndex
from qa.index.local.segment import (
    ARTICLE_FIELDS,
    SCHEMA_SQL,
    SENTENCES,
    Segment,
    live_rows,
    open_segment,
)
from qa.index.local.sentence_terms import SentenceIndex
from qa.records import Article

__all__ = ["ARTICLE_FIELDS", "SCHEMA_SQL", "SENTENCES", "Generation", "open_generation"]

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SEGMENTS = "segments.json"
BUILDING_PREFIX = ".building-"
LAYOUT = "segments-1"  # manifest.engine_layout: what this code reads
# Of an untitled article's text, the part the archive listing keeps (its lead sentence is there).
LISTING_LEAD_CHARS = 4000


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


def read_segments(generation: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """The generation's segment list: ``[{"name", "files", "deleted": [article ids]}]``.

    Raises:
        IndexMismatchError: a generation written before segments (one piece): rebuild.
        IndexCorruptError: the list is damaged.
    """
    path = generation / SEGMENTS
    if manifest.vectors.get("layout") != LAYOUT:
        raise IndexMismatchError(
            f"index {generation.parent} was written by an older qa (one-piece layout); "
            f"rebuild it with `qa index CORPUS --index {generation.parent}`"
        )
    record = manifest.files.get(SEGMENTS, {})
    try:
        data = path.read_bytes()
        if record and (len(data) != record.get("bytes")):
            raise ValueError("its size differs from the manifest's record")
        segments = json.loads(data)
        assert isinstance(segments, list)
        for s in segments:
            assert isinstance(s["name"], str) and s["name"].startswith("gen-")
            assert isinstance(s["files"], dict) and isinstance(s["deleted"], list)
    except (OSError, ValueError, AssertionError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"the segment list {path} is damaged ({exc or 'bad entry'}); rebuild with `qa index`"
        ) from None
    return segments


class Generation:
    """One generation: its manifest and its segments, with deletions, in one global row space.

    Global row ``first[i] + r`` is row ``r`` of segment ``i``; rows of deleted articles stay
    in the row space (masked by ``live``), so segments are used as written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = read_manifest(path)
        self.entries = read_segments(path, self.manifest)
        dim = self.manifest.model.get("dimension")
        self.segments: list[Segment] = [
            open_segment(path.parent / e["name"], e["files"], dim) for e in self.entries
        ]
        self.deleted: list[set[str]] = [set(e["deleted"]) for e in self.entries]
        sizes = [s.chunk_count for s in self.segments]
        self.first = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        self.size = int(self.first[-1])
        self._lexical: LexicalIndex | None = None
        self._layouts: list[tuple[list[str], list[str]]] | None = None
        self._masks: list[np.ndarray | None] | None = None
        self._listing: sqlite3.Connection | None = None
        self._listing_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    def layouts(self) -> list[tuple[list[str], list[str]]]:
        """Per segment: (chunk ids, article ids) of its rows."""
        if self._layouts is None:
            self._layouts = [s.chunk_layout() for s in self.segments]
        return self._layouts

    def masks(self) -> list[np.ndarray | None]:
        """Per segment: which rows are live (None: all of them)."""
        if self._masks is None:
            self._masks = [
                live_rows(s, d, lay[1])
                for s, d, lay in zip(self.segments, self.deleted, self.layouts())
            ]
        return self._masks

    @property
    def chunk_count(self) -> int:
        """Live chunks."""
        return sum(
            s.chunk_count if m is None else int(m.sum())
            for s, m in zip(self.segments, self.masks())
        )

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            parts = [
                (s.terms, int(f), m) for s, f, m in zip(self.segments, self.first, self.masks())
            ]
            self._lexical = LexicalIndex(parts)
        return self._lexical

    def damaged(self, *, hashes: bool) -> str | None:
        """The first file (relative to the index folder) whose size, and with ``hashes`` its
        sha256, differs from what was recorded, or None."""
        for name, record in self.manifest.files.items():
            path = self.path / name
            try:
                size = path.stat().st_size
            except OSError:
                return f"{self.name}/{name}"
            if size != record.get("bytes") or (hashes and file_sha256(path) != record["sha256"]):
                return f"{self.name}/{name}"
        for segment in self.segments:
            found = segment.damaged(hashes=hashes)
            if found:
                return f"{segment.name}/{found}"
        return None

    def select(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query over the live articles of every segment: tables
        ``articles`` (metadata; ``text`` holds only the first ``LISTING_LEAD_CHARS`` of untitled
        articles, '' otherwise) and ``chunks`` (``article_id`` of each live chunk)."""
        with self._listing_lock:
            if self._listing is None:
                self._listing = self._build_listing()
            return self._listing.execute(sql, args).fetchall()

    def _build_listing(self) -> sqlite3.Connection:
        """One in-memory copy of the live rows, made once per generation (100,000 articles: a
        fraction of a second); segments are not attached (SQLite attaches at most 10)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.executescript(
            "CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT, source TEXT, published "
            "TEXT, url TEXT, author TEXT, path TEXT, date_text TEXT, sha256 TEXT, text TEXT);"
            "CREATE TABLE chunks (article_id TEXT NOT NULL);"
        )
        fields = ", ".join(ARTICLE_FIELDS)
        lead = (
            f"CASE WHEN coalesce(title, '') = '' THEN substr(text, 1, {LISTING_LEAD_CHARS}) "
            "ELSE '' END"
        )
        for segment, deleted in zip(self.segments, self.deleted):
            rows = segment.select(f"SELECT {fields}, {lead} FROM articles")
            db.executemany(
                f"INSERT INTO articles ({fields}, text) VALUES "
                f"({', '.join('?' * (len(ARTICLE_FIELDS) + 1))})",
                (r for r in rows if r[0] not in deleted),
            )
            article_ids = segment.chunk_layout()[1]
            db.executemany(
                "INSERT INTO chunks VALUES (?)", ((a,) for a in article_ids if a not in deleted)
            )
        db.execute("CREATE INDEX chunks_article ON chunks(article_id)")
        db.commit()
        return db

    def article_rows(self) -> list[dict[str, Any]]:
        """Metadata of every live article (no text), ordered by id."""
        rows = [
            r
            for seg, deleted in zip(self.segments, self.deleted)
            for r in seg.article_rows()
            if r["id"] not in deleted
        ]
        return sorted(rows, key=lambda r: r["id"])

    def article(self, article_id: str) -> Article | None:
        """The live version of an article, or None."""
        for seg, deleted in zip(reversed(self.segments), reversed(self.deleted)):
            if article_id not in deleted:
                found = seg.article(article_id)
                if found is not None:
                    return found
        return None

    def vector_count(self) -> int:
        """Vectors stored over all segments (live or not): equals ``size`` when consistent."""
        return sum(s.vectors.size for s in self.segments)

    def sentences(self) -> SentenceIndex:
        """The sentence index of a one-segment generation (what tests of a fresh build read)."""
        if len(self.segments) != 1:
            raise ValueError("sentences() is per segment in a generation of several")
        return self.segments[0].sentences

    def locate(self, rows: np.ndarray) -> np.ndarray:
        """The segment of each global row."""
        return np.searchsorted(self.first, rows, side="right") - 1

    def chunks_at(self, rows: list[int]) -> list[StoredChunk]:
        """Chunks at the given global rows, in the same order (unknown rows left out)."""
        if len(self.segments) == 1:  # global rows are the segment's rows
            return self.segments[0].chunks_at(list(rows))
        rows_a = np.asarray(rows, dtype=np.int64)
        found: dict[int, StoredChunk] = {}
        if len(rows_a):
            seg = self.locate(rows_a)
            for i in np.unique(seg).tolist():
                if i < 0 or i >= len(self.segments):
                    continue
                mine = rows_a[seg == i]
                local = (mine - self.first[i]).tolist()
                for g, c in zip(mine.tolist(), self.segments[i].chunks_at(local)):
                    found[g] = c
        return [found[r] for r in rows if r in found]

    def close(self) -> None:
        """Segments are shared between readers of one process; they close when unused."""
        self._lexical = None
        with self._listing_lock:
            if self._listing is not None:
                self._listing.close()
                self._listing = None


def open_generation(index_dir: str | Path) -> Generation:
    """Open the live generation of ``index_dir``.

    Raises:
        IndexNotFoundError: nothing was ever built there.
        IndexCorruptError: the folder exists but cannot be read.
        IndexMismatchError: it was written by an older qa.
    """
    path = current_generation(index_dir)
    if path is None:
        raise IndexNotFoundError(
            f"no index at {index_dir}; build one with `qa index CORPUS --index {index_dir}`"
        )
    return Generation(path)
