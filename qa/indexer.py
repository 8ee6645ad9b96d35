"""Building and incrementally rebuilding an index from a corpus folder or file."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa import __version__, store
from qa.cache import EmbeddingCache
from qa.chunking import Chunker, ChunkerSettings
from qa.corpus import DEFAULT_MAX_FILE_MB, LoadResult, load_corpus
from qa.embedding import DEFAULT_BACKEND, Embedder, exported_sha256, model_identity
from qa.errors import (
    CorpusNotFoundError,
    IndexCorruptError,
    IndexMismatchError,
    IndexWriteError,
)
from qa.lexical import SETTINGS as LEXICAL_SETTINGS
from qa.lexical import lexical_text
from qa.records import Article, BuildReport, Chunk

# progress(stage, done, total); stages: "load", "chunk", "embed", "write".
BuildProgress = Callable[[str, int, int], None]


def _noop(stage: str, done: int, total: int) -> None:
    return None


def build_index(
    corpus: str | Path,
    index_dir: str | Path = "index",
    *,
    model: str | None = None,
    backend: str | None = None,
    overlap_tokens: int = 32,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    embedder: Embedder | None = None,
    progress: BuildProgress | None = None,
) -> BuildReport:
    """Build ``index_dir`` from ``corpus``, reusing whatever an existing index already holds.

    New articles are added, changed ones re-chunked, removed ones dropped; chunk text that was
    embedded before (same model and backend) is never embedded again.

    Args:
        corpus: Folder (searched recursively) or single article file.
        index_dir: Index folder; created if missing.
        model: sentence-transformers model name or folder; None for the bundled MiniLM.
        backend: Embedding backend (``qa.embedding.BACKENDS``); None keeps the existing index's
            backend, or takes ``DEFAULT_BACKEND`` for a new index.
        overlap_tokens: Overlap between consecutive chunks, in word pieces.
        max_file_mb: Size limit of one article file.
        embedder: An already loaded Embedder to reuse (its model wins over ``model``).
        progress: Callback ``(stage, done, total)``.

    Returns:
        A BuildReport. When nothing changed, no new generation is written.

    Raises:
        CorpusNotFoundError: the corpus is missing or holds no loadable article.
        IndexBusyError: another build is running on ``index_dir``.
        ModelError: the model cannot be loaded or its weights fail verification.
    """
    started = time.perf_counter()
    report = progress or _noop
    with store.build_lock(index_dir):
        store.clean_stale_builds(index_dir)
        loaded = load_corpus(corpus, max_file_mb=max_file_mb)
        report("load", len(loaded.articles), len(loaded.articles))
        previous = _open_previous(index_dir)
        try:
            if not loaded.articles:
                kept = f"; the index at {index_dir} was left unchanged" if previous else ""
                raise CorpusNotFoundError(
                    f"no loadable article in {corpus} ({len(loaded.skipped)} skipped){kept}"
                )
            if backend is None:
                built = previous.manifest.get("model", {}) if previous else {}
                backend = built.get("backend") or DEFAULT_BACKEND
            result = _build(
                index_dir, loaded, previous, embedder, model, backend, overlap_tokens, report
            )
        except (OSError, sqlite3.Error) as exc:
            raise IndexWriteError(
                f"cannot write the index in {index_dir}: {exc}; the previous index is unchanged "
                "(free disk space or fix permissions, then run `qa index` again)"
            ) from exc
        finally:
            if previous is not None:
                previous.close()
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def _build(
    index_dir: str | Path,
    loaded: LoadResult,
    previous: store.Generation | None,
    embedder: Embedder | None,
    model: str | None,
    backend: str,
    overlap_tokens: int,
    report: BuildProgress,
) -> BuildReport:
    base: dict[str, Any] = dict(
        index_dir=str(index_dir), articles=len(loaded.articles), skipped=loaded.skipped
    )
    if (
        previous
        and previous.saved_sentences()  # else write one that has them, re-embedding nothing
        and _same_setup(previous, embedder, model, backend, overlap_tokens)
    ):
        # Cheap check before loading the model: an unchanged corpus needs no work at all.
        diff = _diff(loaded.articles, _previous_state(previous))
        if not (diff["added"] or diff["updated"] or diff["removed"]):
            return BuildReport(
                generation=previous.name, chunks=previous.chunk_count, **base, **diff
            )
    embedder = embedder or Embedder(model, backend=backend)
    settings = ChunkerSettings(
        max_tokens=embedder.info.max_tokens,
        special_tokens=embedder.special_tokens,
        overlap_tokens=overlap_tokens,
    )
    manifest = _manifest(embedder, settings)
    rebuild_reason = _incompatibility(previous, manifest)
    old = _previous_state(previous) if previous and not rebuild_reason else {}
    diff = _diff(loaded.articles, old)
    unchanged = old and not (diff["added"] or diff["updated"] or diff["removed"])
    if unchanged and previous.saved_sentences():  # the cheap check could not tell (say, the
        # int8 export had to be made again): nothing to write after all
        return BuildReport(generation=previous.name, chunks=previous.chunk_count, **base, **diff)
    chunks = _chunk_all(loaded.articles, old, Chunker(embedder.count_tokens, settings), report)
    vectors, embedded, embed_seconds = _vectors(index_dir, embedder, chunks, report)
    by_id = {a.id: a for a in loaded.articles}
    texts = [lexical_text(by_id[c.article_id], c.text) for c in chunks]
    report("write", 0, 1)
    manifest["counts"] = {"articles": len(loaded.articles), "chunks": len(chunks)}
    manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    lender = previous if previous and not rebuild_reason else None  # same tokens and sentences
    name = store.write_generation(
        index_dir, list(loaded.articles), chunks, vectors, texts, manifest, previous=lender
    )
    report("write", 1, 1)
    return BuildReport(
        generation=name,
        chunks=len(chunks),
        chunks_embedded=embedded,
        embed_seconds=embed_seconds,
        full_rebuild_reason=rebuild_reason,
        **base,
        **diff,
    )


def _open_previous(index_dir: str | Path) -> store.Generation | None:
    try:
        return store.open_generation(index_dir) if store.current_generation(index_dir) else None
    except (IndexCorruptError, IndexMismatchError):
        return None  # unreadable or old schema: build from scratch; the next switch replaces it


def _same_setup(
    previous: store.Generation,
    embedder: Embedder | None,
    model: str | None,
    backend: str,
    overlap_tokens: int,
) -> bool:
    """Whether the previous generation was built with this model, backend and overlap."""
    sha = embedder.info.weights_sha256 if embedder else model_identity(model)[2]
    backend = embedder.info.backend if embedder else backend
    old = previous.manifest
    built_export = old.get("model", {}).get("export_sha256")
    if built_export is not None:  # older builds did not record it
        export = embedder.info.export_sha256 if embedder else exported_sha256(model, backend)
        if export != built_export:
            return False
    return (
        old.get("model", {}).get("weights_sha256") == sha
        and old.get("model", {}).get("backend") == backend
        and old.get("chunker", {}).get("overlap_tokens") == overlap_tokens
        and old.get("chunker", {}).get("max_chars") == ChunkerSettings().max_chars
        and old.get("lexical") == LEXICAL_SETTINGS
    )


def _manifest(embedder: Embedder, settings: ChunkerSettings) -> dict[str, Any]:
    info = embedder.info
    return {
        "package_version": __version__,
        "model": {
            "name": info.name,
            "weights_sha256": info.weights_sha256,
            "backend": info.backend,
            "export_sha256": info.export_sha256,  # the int8 model file; "" for torch
            "dimension": info.dimension,
            "max_tokens": info.max_tokens,
        },
        "chunker": {"splitter": "langchain RecursiveCharacterTextSplitter", **settings.to_dict()},
        "lexical": dict(LEXICAL_SETTINGS),
        # the type (exact or HNSW, by size) is added by store.write_generation
        "vectors": {"engine": "faiss", "metric": "cosine"},
    }


def _incompatibility(previous: store.Generation | None, manifest: dict[str, Any]) -> str | None:
    if previous is None:
        return None
    old = previous.manifest
    checks = (
        ("model", "weights_sha256"),
        ("model", "backend"),
        ("model", "export_sha256"),
        ("chunker", None),
        ("lexical", None),
    )
    for section, key in checks:
        before = old.get(section, {}) if key is None else old.get(section, {}).get(key)
        after = manifest[section] if key is None else manifest[section][key]
        if key == "export_sha256" and before is None:
            continue  # not recorded by older builds
        if before != after:
            what = f"{section} {key}" if key else section
            return f"{what} changed ({before} -> {after}); everything is re-indexed"
    return None


def _previous_state(previous: store.Generation) -> dict[str, tuple[dict[str, Any], list[Chunk]]]:
    """Per article id: its stored metadata and chunks (text filled from the stored article)."""
    hashes = previous.chunk_hashes()
    state = {}
    for row in previous.article_rows():
        state[row["id"]] = (row, hashes.get(row["id"], []))
    return state


def _diff(articles: tuple[Article, ...], old: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    added, updated, unchanged = [], [], []
    for article in articles:
        if article.id not in old:
            added.append(article.id)
            continue
        meta = old[article.id][0]
        same = all(meta[k] == getattr(article, k) for k in meta)
        (unchanged if same else updated).append(article.id)
    current = {a.id for a in articles}
    removed = sorted(set(old) - current)
    return {
        "added": tuple(added),
        "updated": tuple(updated),
        "removed": tuple(removed),
        "unchanged": tuple(unchanged),
    }


def _chunk_all(
    articles: tuple[Article, ...], old: dict[str, Any], chunker: Chunker, report: BuildProgress
) -> list[Chunk]:
    """Chunks of every article; an article whose text is unchanged keeps its stored chunks."""
    chunks: list[Chunk] = []
    for n, article in enumerate(articles, start=1):
        meta, stored = old.get(article.id, (None, None))
        if meta is not None and meta["sha256"] == article.sha256 and stored:
            chunks.extend(
                Chunk(
                    id=cid,
                    article_id=article.id,
                    start=s,
                    end=e,
                    text=article.text[s:e],
                    text_hash=h,
                )
                for s, e, cid, h in stored
            )
        else:
            chunks.extend(chunker.chunk(article))
        if n % 25 == 0 or n == len(articles):
            report("chunk", n, len(articles))
    return chunks


def _vectors(
    index_dir: str | Path, embedder: Embedder, chunks: list[Chunk], report: BuildProgress
) -> tuple[np.ndarray, int, float]:
    """Vectors for all chunks, embedding only text the cache has not seen; (vectors, n, secs)."""
    info = embedder.info
    cache = EmbeddingCache(store.cache_path(index_dir), info.cache_key, info.dimension)
    try:
        known = cache.get_many(c.text_hash for c in chunks)
        todo: dict[str, str] = {}
        for c in chunks:
            if c.text_hash not in known:
                todo.setdefault(c.text_hash, c.text)
        started = time.perf_counter()
        hashes, texts = list(todo), list(todo.values())
        report("embed", 0, len(texts))
        step = 512  # commit often: a killed build keeps what it embedded
        for begin in range(0, len(texts), step):
            vecs = embedder.encode_documents(texts[begin : begin + step])
            cache.put_many(hashes[begin : begin + step], vecs)
            known.update(zip(hashes[begin : begin + step], vecs))
            report("embed", min(begin + step, len(texts)), len(texts))
        seconds = time.perf_counter() - started
    finally:
        cache.close()
    matrix = np.zeros((len(chunks), info.dimension), dtype=np.float32)
    for i, c in enumerate(chunks):
        matrix[i] = known[c.text_hash]
    return matrix, len(texts), seconds
