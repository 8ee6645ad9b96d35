"""Writing a local generation: files in a hidden folder, fsynced, then the atomic switch.

A build writes a new generation in ``.building-<name>`` (its new segment, if any, and the
segment list), renames it into place and only then replaces CURRENT, so killing it at any
instant leaves the previous generation complete and live. Segments of older generations are
listed, never touched; a generation folder is removed only when neither the live generation
nor the one before it lists its segment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import SCHEMA_VERSION, Manifest
from qa.embed.model import file_sha256
from qa.errors import IndexBusyError, IndexCorruptError, IndexMismatchError
from qa.index.local.bm25 import TermCounts
from qa.index.local.generation import (
    BUILDING_PREFIX,
    CURRENT,
    LAYOUT,
    MANIFEST,
    SEGMENTS,
    current_generation,
    index_folder,
    read_manifest,
    read_segments,
)
from qa.index.local.segment import file_records, write_segment
from qa.index.local.sentence_terms import SentenceIndex
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


@dataclasses.dataclass(frozen=True)
class NewSegment:
    """What a generation adds: articles and their chunks (row ``i`` of the arrays is chunk i)."""

    articles: list[Article]
    chunks: list[Chunk]
    vectors: np.ndarray
    lexical_texts: list[str] | None = None
    terms: TermCounts | None = None  # ready term counts instead of lexical_texts (a merge)
    sentences: SentenceIndex | None = None


def write_generation(
    index_dir: str | Path,
    kept: list[dict[str, Any]],
    new: NewSegment | None,
    manifest: Manifest,
) -> str:
    """Write a generation listing ``kept`` segments (with their deletions) and ``new``, and make
    it live atomically; returns its name. Call under ``build_lock``."""
    folder = Path(index_dir)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = folder / f"{BUILDING_PREFIX}{name}"
    tmp.mkdir(parents=True)
    try:
        _write_files(tmp, kept, new, manifest, name)
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
    _collect_garbage(folder, [folder / name] + ([live] if live else []))
    return name


def _write_files(
    tmp: Path,
    kept: list[dict[str, Any]],
    new: NewSegment | None,
    manifest: Manifest,
    name: str,
) -> None:
    segments = [dict(e, deleted=sorted(e["deleted"])) for e in kept]
    settings: dict[str, Any] = {}
    if new is not None:
        settings = write_segment(
            tmp,
            new.articles,
            new.chunks,
            new.vectors,
            manifest.model["dimension"],
            lexical_texts=new.lexical_texts,
            terms=new.terms,
            sentences=new.sentences,
        )
        segments.append({"name": name, "files": file_records(tmp), "deleted": []})
    (tmp / SEGMENTS).write_text(json.dumps(segments), encoding="utf-8")
    vectors = {**manifest.vectors, **settings.get("vectors", {}), "layout": LAYOUT}
    vectors["segments"] = len(segments)
    manifest = dataclasses.replace(
        manifest,
        engine="local",
        vectors=vectors,
        sentences=settings.get("sentences", manifest.sentences),
        schema_version=SCHEMA_VERSION,
        generation=name,
        files={
            SEGMENTS: {
                "bytes": (tmp / SEGMENTS).stat().st_size,
                "sha256": file_sha256(tmp / SEGMENTS),
            }
        },
    )
    (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    _fsync_tree(tmp)


def _collect_garbage(folder: Path, keep_generations: list[Path]) -> None:
    """Remove unfinished builds and generation folders no kept generation lists."""
    keep = {p.name for p in keep_generations}
    for gen in keep_generations:
        try:
            keep |= {e["name"] for e in read_segments(gen, read_manifest(gen))}
        except (IndexCorruptError, IndexMismatchError):
            continue
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
