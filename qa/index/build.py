"""Building and incrementally rebuilding an index from a corpus, through any IndexWriter."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qa import __version__
from qa.config import DEFAULT_BACKEND, LEXICAL_SETTINGS, ChunkerSettings, Manifest
from qa.embed.cache import EmbeddingCache
from qa.embed.encoder import Encoder, exported_sha256, open_encoder
from qa.embed.model import model_identity
from qa.errors import CorpusNotFoundError, IndexWriteError
from qa.index.base import IndexChanges, IndexState, IndexWriter, StoredArticle
from qa.index.factory import open_writer
from qa.index.stamps import FileStamps
from qa.ingest.chunking import Chunker
from qa.ingest.corpus import LoadResult, load_corpus
from qa.ingest.files import DEFAULT_MAX_FILE_MB
from qa.records import Article, BuildReport, Chunk
from qa.text.dates import date_words

# progress(stage, done, total); stages: "load", "chunk", "embed", "write", and "ray" (the
# number of Ray workers, when they are started).
BuildProgress = Callable[[str, int, int], None]
DEFAULT_OVERLAP_TOKENS = ChunkerSettings().overlap_tokens
_EMBED_STEP = 512  # chunks embedded per cache commit: a killed build keeps what it embedded


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
        if loaded.reused and not (trusted or _vouched(loaded, previous)):
            loaded = load_corpus(corpus, max_file_mb=max_file_mb)  # the stamps were wrong
        report("load", _count(loaded), _count(loaded))
        if not _count(loaded):
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
        articles=_count(loaded),
        skipped=loaded.skipped,
        notes=loaded.notes,
    )
    # Cheap check before loading the model: an unchanged corpus needs no work at all.
    early = None
    if (
        previous
        and not rewrite
        and previous.complete
        and _same_setup(previous, encoder, model, backend, overlap_tokens)
    ):
        diff = early = _diff(loaded, previous.articles, live_ids)
        if not _changed(diff):
            return BuildReport(generation=previous.name, chunks=previous.chunks, **base, **diff)
        if not diff["added"] and not diff["updated"]:
            return _remove_only(writer, previous, loaded, diff, base)
    encoder = encoder or load_model()
    manifest = _manifest(encoder, overlap_tokens)
    reason = (previous.rebuild or previous.manifest.difference(manifest)) if previous else None
    replace = rewrite or not previous or not previous.complete or reason is not None
    old = previous.articles if previous and not reason else {}
    if replace and loaded.reused:  # everything is written again: every article is needed
        loaded = load_all()
    same_old = previous is not None and old is previous.articles
    if early is not None and same_old and not replace:
        diff = early  # the same load against the same articles
    else:
        diff = _diff(loaded, old, live_ids if same_old else None)
    changed = set(diff["added"]) | set(diff["updated"])
    todo = loaded.articles if replace else tuple(a for a in loaded.articles if a.id in changed)
    chunks = _chunk_all(
        todo, old, lambda: Chunker(encoder.count_tokens, _chunker(manifest)), report
    )
    vectors, embedded, embed_seconds = _vectors(writer, encoder, chunks, report)
    report("write", 0, 1)
    total = len(chunks) if replace else _total_chunks(previous, diff, chunks)
    manifest = dataclasses.replace(
        manifest,
        counts={"articles": _count(loaded), "chunks": total},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    changes = IndexChanges(
        articles=todo,
        chunks=chunks,
        vectors=vectors,
        lexical_texts=_lexical_texts(todo, chunks),
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
    total = _total_chunks(previous, diff, [])
    manifest = dataclasses.replace(
        previous.manifest,
        counts={"articles": _count(loaded), "chunks": total},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        files={},
    )
    dimension = int(previous.manifest.model.get("dimension") or 0)
    changes = IndexChanges((), (), np.zeros((0, dimension), np.float32), (), diff["removed"])
    name = writer.publish(changes, manifest)
    return BuildReport(generation=name, chunks=total, **base, **diff)


def _total_chunks(
    previous: IndexState | None, diff: dict[str, tuple[str, ...]], new: list[Chunk]
) -> int:
    """Chunks after an update: the stored ones of articles left as they were, plus ``new``."""
    if previous is None:
        return len(new)
    gone = set(diff["removed"]) | set(diff["updated"])
    return previous.chunks - sum(len(previous.articles[i].chunks) for i in gone) + len(new)


def _changed(diff: dict[str, tuple[str, ...]]) -> bool:
    return bool(diff["added"] or diff["updated"] or diff["removed"])


def _manifest(encoder: Encoder, overlap_tokens: int) -> Manifest:
    """What a build with ``encoder`` would record, before counts and vector settings."""
    chunker = ChunkerSettings(
        max_tokens=encoder.info.max_tokens,
        special_tokens=encoder.special_tokens,
        overlap_tokens=overlap_tokens,
    )
    return Manifest(
        package_version=__version__,
        model=encoder.info.manifest_section(),
        chunker={"splitter": "langchain RecursiveCharacterTextSplitter", **chunker.to_dict()},
        lexical=dict(LEXICAL_SETTINGS),
        vectors={"metric": "cosine"},
    )


def _chunker(manifest: Manifest) -> ChunkerSettings:
    fields = {k: v for k, v in manifest.chunker.items() if k != "splitter"}
    return ChunkerSettings(**fields)


def _same_setup(
    previous: IndexState,
    encoder: Encoder | None,
    model: str | None,
    backend: str,
    overlap_tokens: int,
) -> bool:
    """Whether the previous version was built as this build would, told without the model.

    What only the loaded model knows (dimension, token limits) is taken from the previous
    manifest: the same weights have the same tokenizer. An int8 export not made yet (a new
    machine, a cleared cache) is not compared: the next load makes it, and opening the index
    then refuses with the fix if the new export differs.
    """
    built = previous.manifest
    if encoder is not None:
        sha, backend, export = (
            encoder.info.weights_sha256,
            encoder.info.backend,
            encoder.info.export_sha256,
        )
    else:
        sha, export = model_identity(model)[2], exported_sha256(model, backend)
    expected = dataclasses.replace(
        built,
        model={**built.model, "weights_sha256": sha, "backend": backend, "export_sha256": export},
        chunker={
            **built.chunker,
            "overlap_tokens": overlap_tokens,
            "max_chars": ChunkerSettings().max_chars,
        },
        lexical=dict(LEXICAL_SETTINGS),
    )
    return built.difference(expected) is None


def _count(loaded: LoadResult) -> int:
    return len(loaded.articles) + len(loaded.reused)


def _vouched(loaded: LoadResult, previous: IndexState | None) -> bool:
    """Whether every article the stamps say is unchanged is in the index with the same text."""
    if previous is None:
        return False
    stored = previous.articles
    # an engine's lazy mapping may tell a text hash without reading the article's record
    sha_of = getattr(stored, "sha256_of", None) or (
        lambda i: stored[i].meta["sha256"] if i in stored else None
    )
    return all(sha_of(i) == sha for i, sha in loaded.reused)


def _diff(
    loaded: LoadResult, old: Mapping[str, StoredArticle], live_ids: set[str] | None = None
) -> dict[str, tuple[str, ...]]:
    added, updated, unchanged = [], [], []
    for article in loaded.articles:
        if article.id not in old:
            added.append(article.id)
            continue
        meta = old[article.id].meta
        same = all(meta[k] == getattr(article, k) for k in meta)
        (unchanged if same else updated).append(article.id)
    unchanged.extend(i for i, _ in loaded.reused)  # _vouched: stored with the same text
    current = {a.id for a in loaded.articles} | {i for i, _ in loaded.reused}
    removed = sorted((set(old) if live_ids is None else live_ids) - current)
    return {
        "added": tuple(added),
        "updated": tuple(updated),
        "removed": tuple(removed),
        "unchanged": tuple(unchanged),
    }


def _chunk_all(
    articles: tuple[Article, ...],
    old: dict[str, StoredArticle],
    make_chunker: Callable[[], Chunker],
    report: BuildProgress,
) -> list[Chunk]:
    """Chunks of every article; an article whose text is unchanged keeps its stored chunks.

    The chunker (langchain: seconds to import) is made only when an article needs it."""
    chunks: list[Chunk] = []
    chunker: Chunker | None = None
    for n, article in enumerate(articles, start=1):
        stored = old.get(article.id)
        if stored is not None and stored.meta["sha256"] == article.sha256 and stored.chunks:
            chunks.extend(
                Chunk(
                    id=cid,
                    article_id=article.id,
                    start=s,
                    end=e,
                    text=article.text[s:e],
                    text_hash=h,
                )
                for s, e, cid, h in stored.chunks
            )
        else:
            chunker = chunker or make_chunker()
            chunks.extend(chunker.chunk(article))
        if n % 25 == 0 or n == len(articles):
            report("chunk", n, len(articles))
    return chunks


def _vectors(
    writer: IndexWriter, encoder: Encoder, chunks: list[Chunk], report: BuildProgress
) -> tuple[np.ndarray, int, float]:
    """Vectors for all chunks, embedding only text the cache has not seen; (vectors, n, secs)."""
    info = encoder.info
    cache = EmbeddingCache(writer.cache_path(), info.cache_key, info.dimension)
    try:
        known = cache.get_many(c.text_hash for c in chunks)
        todo: dict[str, str] = {}
        for c in chunks:
            if c.text_hash not in known:
                todo.setdefault(c.text_hash, c.text)
        started = time.perf_counter()
        hashes, texts = list(todo), list(todo.values())
        report("embed", 0, len(texts))
        for begin in range(0, len(texts), _EMBED_STEP):
            part = slice(begin, begin + _EMBED_STEP)
            vecs = encoder.encode_documents(texts[part])
            cache.put_many(hashes[part], vecs)
            known.update(zip(hashes[part], vecs))
            report("embed", min(begin + _EMBED_STEP, len(texts)), len(texts))
        seconds = time.perf_counter() - started
    finally:
        cache.close()
    matrix = np.zeros((len(chunks), info.dimension), dtype=np.float32)
    for i, c in enumerate(chunks):
        matrix[i] = known[c.text_hash]
    return matrix, len(texts), seconds


def lexical_text(article: Article, text: str) -> str:
    """What BM25 sees for a chunk: the article's title, outlet and date, then the chunk text.

    News questions name outlets, dates and headlines; indexing them with every chunk lets a
    lexical match on them reach the chunks that hold the facts.
    """
    head = [article.title or "", article.source or "", date_words(article.published)]
    return "\n".join([part for part in head if part] + [text])


def _lexical_texts(articles: tuple[Article, ...], chunks: list[Chunk]) -> list[str]:
    by_id = {a.id: a for a in articles}
    return [lexical_text(by_id[c.article_id], c.text) for c in chunks]
