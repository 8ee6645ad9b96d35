"""The supported files under a folder, and one file's articles by its type (bad ones skipped)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.ingest.articles import from_html, from_text, load_json
from qa.ingest.decoding import Unreadable, decode_bytes
from qa.ingest.jsonl import Line, Run, load_jsonl
from qa.ingest.stamp import FileStamp
from qa.records import Article, Skipped

TEXT_SUFFIXES = (".txt", ".md", ".markdown")


HTML_SUFFIXES = (".html", ".htm")


JSON_SUFFIXES = (".json", ".jsonl")


SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES


DEFAULT_MAX_FILE_MB = 20.0


def walk(root: Path) -> list[Path]:
    """All files under root, sorted, skipping hidden files and folders."""
    out = []
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if not p.is_dir() or p.is_symlink():  # pipes and devices too: they are reported
            out.append(p)
    return out


def load_file(
    file: Path,
    rel: str,
    max_file_mb: float,
    known: FileStamp | None = None,
    counted: list[int] | None = None,
    running: Any = None,
) -> Iterator[Article | Skipped | Line | Run | str]:
    """The file's articles and skipped parts, and a note (a str) when it was not UTF-8."""
    if file.is_symlink() and file.is_dir():
        yield Skipped(rel, "link to a folder: linked folders are not followed; link the files")
        return
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(
            rel,
            f"unsupported file type {suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
        return
    limit = max_file_mb * (10 if suffix in JSON_SUFFIXES else 1)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise Unreadable("not a regular file (a pipe, device or socket); only files are read")
        size = info.st_size
        if size > limit * 1_000_000:
            raise Unreadable(
                f"file is {size / 1e6:.1f} MB, over the {limit:g} MB limit; "
                "split it or raise the limit (--max-file-mb)"
            )
        if suffix == ".jsonl":
            yield from load_jsonl(file, rel, max_file_mb, known, counted=counted, running=running)
            return
        text, encoding = decode_bytes(file.read_bytes(), html=suffix in HTML_SUFFIXES)
        if encoding:
            yield f"decoded as {encoding}"
        if suffix == ".json":
            yield from load_json(text, rel, max_file_mb)
        elif suffix in HTML_SUFFIXES:
            yield from_html(text, rel)
        else:
            yield from_text(text, rel)
    except Unreadable as exc:
        yield Skipped(rel, str(exc))
    except OSError as exc:
        yield Skipped(rel, f"cannot read file: {exc.strerror or exc}")
