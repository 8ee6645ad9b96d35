"""MilvusWriter: the IndexWriter of a Milvus index (the lock, the previous state, publish)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qa.config import Manifest
from qa.errors import IndexCorruptError
from qa.index.base import IndexChanges, IndexState, StoredArticle
from qa.index.milvus import meta, schema
from qa.index.milvus.location import MilvusLocation
from qa.index.milvus.lock import BuildLock
from qa.index.milvus.publish import Stored, load, write_changes, write_version

ENGINE = "milvus"


class MilvusWriter:
    """Publishes versions of a Milvus index under its build lock (use as a context manager)."""

    def __init__(self, where: MilvusLocation) -> None:
        self.location = where.location
        self._where = where
        self._lock = BuildLock(where)
        self._client = None
        self._stored: Stored | None = None
        self._published: meta.Published | None = None

    def __enter__(self) -> MilvusWriter:
        if self._where.lite_path is not None:
            self._lock.take_file()
        try:
            self._client = schema.connect(self._where)
            if self._where.lite_path is None:
                schema.create(self._client, self._where, 0, parts=("meta",))
                self._client.load_collection(self._where.collection("meta"))
                self._lock.take_row(self._client)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._client is not None:
                self._lock.release()
                self._client.close()
        finally:
            self._client = None
            self._lock.release()

    def previous(self, *, verify: bool = False) -> IndexState | None:
        """The live version's state; None when there is none or its manifest is damaged.

        A publish that was interrupted marks the state incomplete: the build then rewrites
        every article, and publish writes every row that differs (``verify`` adds nothing:
        Milvus keeps its own checksums).
        """
        client, where = self._client, self._where
        if not schema.exists(client, where):
            return None
        schema.load(client, where)
        try:
            self._published = meta.read(client, where)
        except IndexCorruptError:
            return None
        if self._published is None:
            return None
        self._stored = load(client, where)
        return _state(self._published, self._stored)

    def cache_path(self) -> Path:
        folder = self._where.cache_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "embeddings.sqlite"

    def publish(self, changes: IndexChanges, manifest: Manifest) -> str:
        client, where = self._client, self._where
        dim = int(changes.vectors.shape[1])
        replace = changes.replace
        if not len(changes.vectors) and schema.exists(client, where):
            dim = schema.dimension(client, where)  # removals only: no vector tells the size
        if schema.exists(client, where) and schema.dimension(client, where) != dim:
            schema.drop(client, where)  # another model: nothing stored can be kept
            self._stored, replace = None, True
        elif self._published is not None and meta.outdated(self._published.manifest):
            schema.drop(client, where, parts=("chunks",))  # an older layout of the chunks
            self._stored, replace = None, True
        schema.create(client, where, dim)
        stored = self._stored if self._stored is not None else load(client, where)
        number = (self._published.version if self._published else 0) + 1
        name = f"v{number}"
        manifest = dataclasses.replace(
            manifest,
            engine=ENGINE,
            schema_version=schema.VERSION,
            generation=name,
            vectors={**manifest.vectors, "dimension": dim, "collection": where.name},
        )
        if replace:
            write_version(client, where, stored, changes, manifest, number=number, rewrite=True)
        else:
            write_changes(client, where, stored, changes, manifest, number=number)
        return name

    def optimize(self) -> str | None:
        return None  # Milvus compacts its own segments


def _state(published: meta.Published, stored: Stored) -> IndexState:
    """What the build needs: each article's metadata and the chunks written for its text."""
    spans: dict[str, list[tuple[int, int, str, str]]] = {}
    for r in stored.chunks.values():
        article = stored.articles.get(r["article_id"])
        if article is not None and article["sha256"] == r["article_sha"]:
            spans.setdefault(r["article_id"], []).append(
                (r["start"], r["end"], r["id"], r["text_hash"])
            )
    articles = {
        i: StoredArticle(meta.article_meta(r), tuple(sorted(spans.get(i, ()))))
        for i, r in stored.articles.items()
    }
    return IndexState(
        manifest=published.manifest,
        articles=articles,
        chunks=sum(len(s) for s in spans.values()),
        name=published.name,
        complete=not published.interrupted and meta.outdated(published.manifest) is None,
        rebuild=meta.outdated(published.manifest),
    )
