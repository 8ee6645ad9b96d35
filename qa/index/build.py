"""Building and incrementally rebuilding an index from a corpus, through any IndexWriter."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_BACKEND, ChunkerSettings
from qa.embed.encoder import Encoder, open_encoder
from qa.errors import CorpusNotFoundError, IndexWriteError
from qa.index.base import IndexChanges, IndexState, IndexWriter
from qa.index.diff import article_count, diff_articles, has_changes, total_chunks, vouched
from qa.index.factory import open_writer
from qa.index.prepare import BuildProgress, chunk_all, embed_chunks, lexical_texts_of
from qa.index.setup import build_manifest, chunker_settings, same_setup
from qa.index.stamps import FileStamps
from qa.ingest.chunking import Chunker
from qa.ingest.corpus import LoadResult, load_corpus
from qa.ingest.files import DEFAULT_MAX_FILE_MB
from qa.records import BuildReport

DEFAULT_OVERLAP_TOKENS = ChunkerSettings().overlap_tokens


def _noop(stage: str, done: int, total: int) -> None:
    return None


def build_index(
    corpus: str | Path,
    index_dir: str | Path = "index",
    *,
    model: str | None = None,
    backend: str | None = None,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    encoder: Encoder | None = None,
    progress: BuildProgress | None = None,
    verify: bool = False,
    rewrite: bool = False,
    optimize: bool = False,
    ray: str | None = None,
    ray_workers: int | None = None,
) -> BuildReport:
    """Build the index at ``index_dir`` from ``corpus``, reusing what it already holds.

    New articles are added, changed ones re-chunked, removed ones dropped; chunk text that was
    embedded before (same model and backend) is never embedded again.

    Args:
        corpus: Folder (searched recursively) or single article file.
        index_dir: Index location: a folder (created if missing) or an engine URI.
        model: sentence-transformers model name or folder; None for the bundled MiniLM.
        backend: Embedding backend (``qa.BACKENDS``); None keeps the existing index's
            backend, or takes ``DEFAULT_BACKEND`` for a new index.
        overlap_tokens: Overlap between consecutive chunks, in word pieces.
        max_file_mb: Size limit of one article file.
        encoder: An already loaded Encoder to reuse (its model wins over ``model``).
        progress: Callback ``(stage, done, total)``.
        verify: Check the live version's files against their recorded sha256 (sizes are
            always checked) and rebuild it when one differs.
        rewrite: Write every article again instead of only what changed (what every build
            did before segments; the benchmark compares the two).
        optimize: Afterwards fold the index's segments into one (`qa index --optimize`).
        ray: Embed on Ray actors (``qa.embed.ray_pool``): "local" starts a Ray for this
            build, any other value is a cluster address. Only when something needs embedding.
        ray_workers: Ray actors (default: one per CPU of the cluster).

    Returns:
        A BuildReport. When nothing changed, no new version is written.

    Raises:
        CorpusNotFoundError: the corpus is missing or holds no loadable article.
        IndexBusyError: another build is running on ``index_dir``.
        IndexWriteError: the index cannot be written (full disk); the previous one is intact.
        ModelError: the model cannot be loaded or its weights fail verification.
    """
    started = time.perf_counter()
    report = progress or _noop
    with open_writer(index_dir) as writer, contextlib.ExitStack() as stack:
        previous = writer.previous(verify=verify)
        stamps = FileStamps(Path(writer.cache_path()).parent / "files.sqlite", corpus, max_file_mb)
        known = stamps.load(corpus) if previous and previous.complete and not rewrite else None
        loaded = load_corpus(corpus, max_file_mb=max_file_mb, stamps=known)
        # stamps saved by the build that left this generation live describe it: not checked
        # (an engine whose version names repeat, "v1" after a wipe, is always checked)
        trusted = (
            known is not None
            and getattr(writer, "unique_names", False)
            and stamps.generation == previous.name
            and not verify
        )
        live_ids = stamps.article_ids() if trusted else None
        if loaded.reused and not (trusted or vouched(loaded, previous)):
            loaded = load_corpus(corpus, max_file_mb=max_file_mb)  # the stamps were wrong
        report("load", article_count(loaded), article_count(loaded))
        if not article_count(loaded):
            kept = f"; the index at {index_dir} was left unchanged" if previous else ""
            raise CorpusNotFoundError(
                f"no loadable article in {corpus} ({len(loaded.skipped)} skipped){kept}"
            )
        backend = backend or (previous.manifest.model["backend"] if previous else DEFAULT_BACKEND)

        used = [loaded]  # the load the index is built from: its stamps are saved

        def load_all() -> LoadResult:
            used[0] = load_corpus(corpus, max_file_mb=max_file_mb)
            return used[0]

        def load_model() -> Encoder:
            if ray is None:
                return open_encoder(model, backend=backend)
            from qa.embed.ray_pool import RayEncoder

            pool = RayEncoder(ray, model=model, backend=backend, workers=ray_workers)
            stack.callback(pool.close)
            report("ray", pool.workers, pool.workers)
            return pool

        try:
            result = _build(
                writer,
                loaded,
                previous,
                encoder,
                model,
                backend,
                overlap_tokens,
                report,
                rewrite,
                load_all,
                load_model,
                live_ids,
            )
            if optimize:
                merged = writer.optimize()
                result = dataclasses.replace(result, generation=merged or result.generation)
        except (OSError, sqlite3.Error) as exc:
            raise IndexWriteError(
                f"cannot write the index in {index_dir}: {exc}; the previous index is unchanged "
                "(free disk space or fix permissions, then run `qa index` again)"
            ) from exc
        stamps.save(used[0].stamps, result.generation)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def _build(
    writer: IndexWriter,
    loaded: LoadResult,
    previous: IndexState | None,
    encoder: Encoder | None,
    model: str | None,
    backend: str,
    overlap_tokens: int,
    report: BuildProgress,
    rewrite: bool,
    load_all: Callable[[], LoadResult],
    load_model: Callable[[], Encoder],
    live_ids: set[str] | None = None,
) -> BuildReport:
    """One build; ``live_ids`` are the ids of the live articles when trusted stamps tell them
    (then the index's own list of 200,000 ids is not read to find the removed ones)."""
    base: dict[str, Any] = dict(
        index_dir=writer.location,
        articles=article_count(loaded),
        skipped=loaded.skipped,
        notes=loaded.notes,
    )
    # Cheap check before loading the model: an unchanged corpus needs no work at all.
    early = None
    if (
        previous
        and not rewrite
        and previous.complete
        and same_setup(previous, encoder, model, backend, overlap_tokens)
    ):
        diff = early = diff_articles(loaded, previous.articles, live_ids)
        if not has_changes(diff):
            return BuildReport(generation=previous.name, chunks=previous.chunks, **base, **diff)
        if not diff["added"] and not diff["updated"]:
            return _remove_only(writer, previous, loaded, diff, base)
    encoder = encoder or load_model()
    manifest = build_manifest(encoder, overlap_tokens)
    reason = (previous.rebuild or previous.manifest.difference(manifest)) if previous else None
    replace = rewrite or not previous or not previous.complete or reason is not None
    old = previous.articles if previous and not reason else {}
    if replace and loaded.reused:  # everything is written again: every article is needed
        loaded = load_all()
    same_old = previous is not None and old is previous.articles
    if early is not None and same_old and not replace:
        diff = early  # the same load against the same articles
    else:
        diff = diff_articles(loaded, old, live_ids if same_old else None)
    changed = set(diff["added"]) | set(diff["updated"])
    todo = loaded.articles if replace else tuple(a for a in loaded.articles if a.id in changed)
    chunks = chunk_all(
        todo, old, lambda: Chunker(encoder.count_tokens, chunker_settings(manifest)), report
    )
    vectors, embedded, embed_seconds = embed_chunks(writer, encoder, chunks, report)
    report("write", 0, 1)
    total = len(chunks) if replace else total_chunks(previous, diff, chunks)
    manifest = dataclasses.replace(
        manifest,
        counts={"articles": article_count(loaded), "chunks": total},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    changes = IndexChanges(
        articles=todo,
        chunks=chunks,
        vectors=vectors,
        lexical_texts=lexical_texts_of(todo, chunks),
        removed=() if replace else diff["removed"],
        replace=replace,
    )
    name = writer.publish(changes, manifest)
    report("write", 1, 1)
    return BuildReport(
        generation=name,
        chunks=total,
        chunks_embedded=embedded,
        embed_seconds=embed_seconds,
        full_rebuild_reason=f"{reason}; everything is re-indexed" if reason else None,
        **base,
        **diff,
    )


def _remove_only(
    writer: IndexWriter,
    previous: IndexState,
    loaded: LoadResult,
    diff: dict[str, tuple[str, ...]],
    base: dict[str, Any],
) -> BuildReport:
    """Articles only removed: neither the model nor the chunker is needed."""
    total = total_chunks(previous, diff, [])
    manifest = dataclasses.replace(
        previous.manifest,
        counts={"articles": article_count(loaded), "chunks": total},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        files={},
    )
    dimension = int(previous.manifest.model.get("dimension") or 0)
    changes = IndexChanges((), (), np.zeros((0, dimension), np.float32), (), diff["removed"])
    name = writer.publish(changes, manifest)
    return BuildReport(generation=name, chunks=total, **base, **diff)
