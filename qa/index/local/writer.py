"""LocalWriter: the IndexWriter of a local index folder (a lock, the previous state, publish)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import Manifest
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.index.base import IndexState, StoredArticle
from qa.index.local import generation as gen
from qa.index.local import publish
from qa.records import Article, Chunk


class LocalWriter:
    """Writes generations into ``folder`` under its build lock (use as a context manager)."""

    def __init__(self, folder: str | Path) -> None:
        self.location = str(folder)
        self.folder = Path(folder)
        self._lock = None
        self._previous: gen.Generation | None = None

    def __enter__(self) -> LocalWriter:
        self._lock = publish.build_lock(self.folder)
        self._lock.__enter__()
        publish.clean_stale_builds(self.folder)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            self._previous.close()
            self._previous = None
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def previous(self, *, verify: bool = False) -> IndexState | None:
        """The live generation's state; None when there is none, or when it is damaged or
        inconsistent (the build then writes a complete new one: `qa index` repairs).

        File sizes are always checked against the manifest; with ``verify`` their sha256 too.
        """
        try:
            if gen.current_generation(self.folder) is None:
                return None
            self._previous = self._previous or gen.open_generation(self.folder)
            if verify and self._previous.damaged(hashes=True):
                return None
            return _state(self._previous)
        except (IndexCorruptError, IndexMismatchError):
            return None

    def cache_path(self) -> Path:
        return gen.cache_path(self.folder)

    def publish(
        self,
        articles: Sequence[Article],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        lexical_texts: Sequence[str],
        manifest: Manifest,
        *,
        reuse_previous: bool,
    ) -> str:
        lender = self._previous if reuse_previous else None  # same tokens and sentences
        return publish.write_generation(
            self.folder,
            list(articles),
            list(chunks),
            vectors,
            list(lexical_texts),
            manifest,
            previous=lender,
        )


def _state(previous: gen.Generation) -> IndexState:
    """What a build needs of the previous generation, checked for consistency.

    Raises:
        IndexCorruptError: chunk rows that name no article, or counts that disagree.
    """
    hashes = previous.chunk_hashes()
    rows = previous.article_rows()
    articles = {row["id"]: StoredArticle(row, tuple(hashes.get(row["id"], ()))) for row in rows}
    chunks = sum(len(c) for c in hashes.values())
    if set(hashes) - set(articles) or chunks != previous.chunk_count:
        raise IndexCorruptError(f"{previous.path} has chunk rows of no stored article")
    return IndexState(
        manifest=previous.manifest,
        articles=articles,
        chunks=previous.chunk_count,
        name=previous.name,
        # a generation without its sentence index is rewritten even when nothing changed
        complete=previous.saved_sentences() is not None,
    )
