"""Writing a local generation: files in a hidden folder, fsynced, then the atomic switch.

A build writes a new generation in ``.building-<name>``, renames it into place and only then
replaces CURRENT, so killing it at any instant leaves the previous generation complete and live.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import SCHEMA_VERSION, Manifest
from qa.embed.model import file_sha256
from qa.errors import IndexBusyError, IndexCorruptError
from qa.index.local.bm25 import LexicalIndex
from qa.index.local.generation import (
    ARTICLE_FIELDS,
    BUILDING_PREFIX,
    CURRENT,
    MANIFEST,
    SCHEMA_SQL,
    SENTENCES,
    Generation,
    current_generation,
    index_folder,
)
from qa.index.local.sentence_terms import SentenceIndex
from qa.index.local.vectors import VectorIndex
from qa.records import Article, Chunk


@contextlib.contextmanager
def build_lock(index_dir: str | Path) -> Iterator[None]:
    """Hold the index's build lock; a second concurrent build fails fast with IndexBusyError."""
    folder = index_folder(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another `qa index` is building {folder}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_generation(
    index_dir: str | Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    lexical_texts: list[str],
    manifest: Manifest,
    *,
    previous: Generation | None = None,
) -> str:
    """Write a complete generation and make it live atomically; returns its name.

    Call under ``build_lock``. Row ``i`` of ``vectors``/``lexical_texts`` belongs to ``chunks[i]``.
    ``previous`` (the open live generation, if any) lends the work it already did on unchanged
    chunks.
    """
    folder = Path(index_dir)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = folder / f"{BUILDING_PREFIX}{name}"
    tmp.mkdir(parents=True)
    try:
        _write_files(tmp, articles, chunks, vectors, lexical_texts, manifest, name, previous)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk should not stay full
        raise
    try:
        live = current_generation(folder)
    except IndexCorruptError:
        live = None
    os.rename(tmp, folder / name)
    pointer = folder / f"{CURRENT}.tmp"
    with pointer.open("w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, folder / CURRENT)  # the atomic switch
    _fsync_dir(folder)
    _collect_garbage(folder, keep={name, live.name if live else name})
    return name


def _write_files(
    tmp: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    lexical_texts: list[str],
    manifest: Manifest,
    name: str,
    previous: Generation | None,
) -> None:
    _write_sqlite(tmp / "meta.sqlite", articles, chunks)
    vector_index = VectorIndex.build(vectors, manifest.model["dimension"])
    vector_index.save(tmp / "vectors.faiss")
    LexicalIndex.build(lexical_texts).save(tmp / "bm25")
    sentences = _sentence_index(chunks, previous)
    sentences.save(tmp / SENTENCES)
    manifest = dataclasses.replace(
        manifest,
        engine="local",
        vectors={**manifest.vectors, **vector_index.settings},
        sentences=sentences.settings,
        schema_version=SCHEMA_VERSION,
        generation=name,
        files=_file_records(tmp),
    )
    (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    _fsync_tree(tmp)


def _file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``folder``, by relative path."""
    return {
        str(path.relative_to(folder)): {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _sentence_index(chunks: list[Chunk], previous: Generation | None) -> SentenceIndex:
    """The sentence index of ``chunks``, copying the rows of chunks the previous one holds.

    A chunk id hashes the article id and the chunk text, so the same id means the same text and
    the same sentences.
    """
    texts = (c.text for c in chunks)
    old = previous.saved_sentences() if previous else None
    if old is None:  # none saved, or unreadable: tokenize everything, as a first build
        return SentenceIndex.build(texts)
    rows = previous.chunk_rows()
    reused = [rows.get(c.id) for c in chunks]
    return SentenceIndex.build(texts, previous=old, previous_rows=reused)


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


def _collect_garbage(folder: Path, keep: set[str]) -> None:
    """Remove unfinished builds and generations older than the previous one."""
    for path in folder.iterdir():
        stale_build = path.name.startswith(BUILDING_PREFIX)
        old_gen = path.name.startswith("gen-") and path.name not in keep
        if path.is_dir() and (stale_build or old_gen):
            shutil.rmtree(path, ignore_errors=True)


def clean_stale_builds(index_dir: str | Path) -> None:
    """Drop folders left by killed builds; call under ``build_lock``."""
    folder = Path(index_dir)
    if folder.is_dir():
        for path in folder.glob(f"{BUILDING_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with file.open("rb") as fh:
                os.fsync(fh.fileno())
    for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
        _fsync_dir(folder)
