"""LocalWriter: the IndexWriter of a local index folder (a lock, the previous state, publish).

An update writes one small segment with the added and changed articles and records the
deletions of older segments' articles; past ``AUTO_MERGE_SEGMENTS`` segments the small ones are
folded into one (cheap: they are small), and `qa index --optimize` folds everything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Manifest
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.index.base import IndexChanges, IndexState, StoredArticle
from qa.index.local import generation as gen
from qa.index.local import publish
from qa.index.local.bm25 import TermCounts
from qa.index.local.segment import DAMAGED
from qa.index.local.sentence_terms import SentenceIndex
from qa.records import Article, Chunk

# Segments a generation may list before an update folds the small ones together. Query cost
# grows with the segment count (one dense search and one posting walk per segment); bench/run.py
# measures retrieve() with 20 small segments against one merged index ("segments" rows).
AUTO_MERGE_SEGMENTS = 10


class LocalWriter:
    """Writes generations into ``folder`` under its build lock (use as a context manager)."""

    # generation names carry the time and random digits: never one of an earlier index at the
    # same place, so stamps that name the live generation were saved by the build that wrote it
    unique_names = True

    def __init__(self, folder: str | Path) -> None:
        self.location = str(folder)
        self.folder = Path(folder)
        self._lock = None
        self._previous: gen.Generation | None = None
        self._homes: _Articles | None = None  # where each live article is

    def __enter__(self) -> LocalWriter:
        self._lock = publish.build_lock(self.folder)
        self._lock.__enter__()
        publish.clean_stale_builds(self.folder)
        return self

    def __exit__(self, *exc: object) -> None:
        self._previous = None
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def _live(self) -> gen.Generation | None:
        try:
            if gen.current_generation(self.folder) is None:
                return None
            self._previous = self._previous or gen.open_generation(self.folder)
            return self._previous
        except (IndexCorruptError, IndexMismatchError):
            return None

    def previous(self, *, verify: bool = False) -> IndexState | None:
        """The live generation's state; None when there is none, or when it is damaged or
        inconsistent (the build then writes a complete new one: `qa index` repairs).

        Only the segments' metadata is read (never their vectors). File sizes are always
        checked against the records; with ``verify`` their sha256 too.
        """
        live = self._live()
        if live is None:
            return None
        # a reader that found damage left a mark: check everything (NaN rows keep the size)
        verify = verify or (self.folder / DAMAGED).exists()
        try:
            if verify and live.damaged(hashes=True):
                return None
            if verify:
                for segment in live.segments:  # one at a time: never all vectors at once
                    segment.check_vectors()
                (self.folder / DAMAGED).unlink(missing_ok=True)  # looked: nothing is damaged
            state, self._homes = _state(live)
            return state
        except (IndexCorruptError, IndexMismatchError):
            return None

    def cache_path(self) -> Path:
        return gen.cache_path(self.folder)

    def publish(self, changes: IndexChanges, manifest: Manifest) -> str:
        live = None if changes.replace else self._live()
        if live is not None and self._homes is None:
            _, self._homes = _state(live)
        kept = [] if live is None else [dict(e, deleted=set(e["deleted"])) for e in live.entries]
        if live is not None:
            gone = set(changes.removed) | {a.id for a in changes.articles}
            for article_id in gone:
                home = self._homes.home(article_id)
                if home is not None:
                    kept[home]["deleted"].add(article_id)
            kept = [e for e, seg in zip(kept, live.segments) if not _empty(e, seg)]
        new = None
        if changes.articles:
            new = publish.NewSegment(
                list(changes.articles),
                list(changes.chunks),
                changes.vectors,
                lexical_texts=list(changes.lexical_texts),
            )
        name = publish.write_generation(self.folder, kept, new, manifest)
        (self.folder / DAMAGED).unlink(missing_ok=True)
        self._previous, self._homes = None, None
        live = self._live()
        if live is not None and len(live.segments) > AUTO_MERGE_SEGMENTS:
            name = self._merge(live, everything=False) or name
        return name

    def optimize(self) -> str | None:
        live = self._live()
        if live is None:
            return None
        return self._merge(live, everything=True)

    def _merge(self, live: gen.Generation, *, everything: bool) -> str | None:
        """Fold segments into one: all of them, or all but the largest (an automatic merge,
        whose cost then stays that of the small segments)."""
        sizes = [s.chunk_count for s in live.segments]
        fold = list(range(len(sizes)))
        if not everything and len(fold) > 1:
            fold.remove(int(np.argmax(sizes)))
        if len(fold) < 2 and not (fold and any(live.deleted[i] for i in fold)):
            return None
        new = _folded(live, fold)
        kept = [dict(e) for i, e in enumerate(live.entries) if i not in fold]
        manifest = dataclasses.replace(live.manifest, files={})
        name = publish.write_generation(self.folder, kept, new, manifest)
        self._previous, self._homes = None, None
        return name


def _empty(entry: dict[str, Any], segment: Any) -> bool:
    """Whether every article of a segment is deleted (the segment is then dropped)."""
    if not entry["deleted"]:
        return False
    # a count, not article_rows(): that builds a dict per article (1.5 s and ~100 MB at 200k)
    return len(entry["deleted"]) >= segment.article_count()


def _folded(live: gen.Generation, fold: list[int]) -> publish.NewSegment:
    """One segment holding the live chunks of the segments ``fold``, in their order."""
    articles: list[Article] = []
    chunks: list[Chunk] = []
    vectors, terms, text_parts = [], [], []
    for i in fold:
        segment, deleted = live.segments[i], live.deleted[i]
        ids, owners = live.layouts()[i]
        rows = [r for r, a in enumerate(owners) if a not in deleted]
        alive = sorted({owners[r] for r in rows})
        articles.extend(segment.articles_full(alive))
        stored = segment.chunks_at(rows)
        hashes = {cid: h for spans in segment.chunk_hashes().values() for _, _, cid, h in spans}
        chunks.extend(
            Chunk(
                id=c.id,
                article_id=c.article_id,
                start=c.start,
                end=c.end,
                text=c.text,
                text_hash=hashes[c.id],
            )
            for c in stored
        )
        text_parts.extend(c.text for c in stored)
        vectors.append(segment.vectors.vectors_at(np.array(rows, dtype=np.int64)))
        terms.append((segment.terms, np.array(rows, dtype=np.int64)))
    dimension = live.manifest.model["dimension"]
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, dimension), np.float32)
    return publish.NewSegment(
        articles,
        chunks,
        matrix,
        terms=TermCounts.concat(terms),
        sentences=SentenceIndex.build(text_parts),
    )


class _Articles(Mapping[str, StoredArticle]):
    """The live articles of a generation for a build, read lazily: a few ids are looked up in
    the segments (one query each), and only a build that goes through all of them (or asks
    for many) reads every id and text hash (one query per segment). An update at 200,000
    articles whose stamps tell what changed then never reads 200,000 rows."""

    _POINT_LOOKUPS = 64  # then every id is read at once

    def __init__(self, live: gen.Generation) -> None:
        self._live = live
        self._all: dict[str, tuple[int, str]] | None = None
        self._lookups = 0
        self._cache: dict[str, StoredArticle] = {}

    def _where(self) -> dict[str, tuple[int, str]]:
        if self._all is None:
            where: dict[str, tuple[int, str]] = {}
            for i, (segment, deleted) in enumerate(zip(self._live.segments, self._live.deleted)):
                rows = segment.article_hashes()
                if deleted:
                    where.update((a, (i, sha)) for a, sha in rows if a not in deleted)
                else:
                    where.update((a, (i, sha)) for a, sha in rows)
            self._all = where
        return self._all

    def _find(self, article_id: str) -> tuple[int, str] | None:
        """(segment, text sha256) of a live article (the last segment holding it wins)."""
        self._lookups += 1
        if self._all is not None or self._lookups > self._POINT_LOOKUPS:
            return self._where().get(article_id)
        found = None
        for i, (segment, deleted) in enumerate(zip(self._live.segments, self._live.deleted)):
            if article_id not in deleted:
                rows = segment.select("SELECT sha256 FROM articles WHERE id=?", (article_id,))
                found = (i, rows[0][0]) if rows else found
        return found

    def sha256_of(self, article_id: str) -> str | None:
        found = self._find(article_id)
        return None if found is None else found[1]

    def home(self, article_id: str) -> int | None:
        found = self._find(article_id)
        return None if found is None else found[0]

    def __getitem__(self, article_id: str) -> StoredArticle:
        if article_id not in self._cache:
            found = self._find(article_id)
            if found is None:
                raise KeyError(article_id)  # as a dict
            segment = self._live.segments[found[0]]
            meta = segment.article_meta(article_id)
            if meta is None:
                raise IndexCorruptError(f"{segment.path} lost article {article_id!r}")
            self._cache[article_id] = StoredArticle(meta, segment.spans_of(article_id))
        return self._cache[article_id]

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self._find(article_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._where())

    def __len__(self) -> int:
        return len(self._where())


def _state(live: gen.Generation) -> tuple[IndexState, _Articles]:
    """What a build needs of the live generation (its articles read lazily).

    Raises:
        IndexCorruptError: chunk rows that name no article.
    """
    articles = _Articles(live)
    chunks = 0
    for segment, deleted in zip(live.segments, live.deleted):
        if segment.orphan_chunks():
            raise IndexCorruptError(f"{segment.path} has chunk rows of no stored article")
        chunks += segment.chunk_count - segment.chunks_of_articles(sorted(deleted))
    state = IndexState(
        manifest=live.manifest, articles=articles, chunks=chunks, name=live.name, complete=True
    )
    return state, articles
