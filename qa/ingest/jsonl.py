"""JSON Lines files read a few MB at a time, only changed lines parsed when a stamp is given."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.ingest.articles import article_id_of, from_record
from qa.ingest.decoding import Unreadable, decode_bytes
from qa.ingest.stamp import FileStamp, Lines
from qa.records import Article, Skipped

_BLOCK_BYTES = 4 << 20  # a .jsonl file is read this much at a time


@dataclass(slots=True)
class Line:
    """A .jsonl line parsed into an article: its digest, number and whether the id was its own.

    Not frozen: a frozen dataclass's __init__ costs ~1 us more per line."""

    digest: bytes
    lineno: int
    own_id: bool
    loaded: Article


@dataclass(slots=True)
class Run:
    """Consecutive .jsonl lines found unchanged in the stamp: their articles and lines."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    lines: Lines = field(default_factory=Lines)


def load_jsonl(
    file: Path,
    rel: str,
    max_file_mb: float,
    known: FileStamp | None = None,
    *,
    offset: int = 0,
    first_line: int = 1,
    counted: list[int] | None = None,
    running: Any = None,
) -> Iterator[Article | Skipped | Line | Run | str]:
    """Articles of a JSON Lines file, each as a ``Line``; with ``known`` (the last stamp, its
    ``lines`` loaded), runs of lines found there come back as ``Run`` entries without being
    parsed (a line is found by its digest, and by its number when its id is not its own).

    ``offset``/``first_line`` read only a tail (lines appended after byte ``offset``);
    ``counted`` receives the number of the last line read, ``running`` (a hash) every byte.
    """
    lines = known.lines if known is not None else None
    where: dict[bytes, int] = {}
    if lines is not None and len(lines) == len(known.articles):
        where = {d: i for i, d in enumerate(lines.digests)}
    pairs = known.articles if known is not None else ()
    numbers, owns = (lines.numbers, lines.own) if where else ((), ())
    update = running.update if running is not None else None
    blake = hashlib.blake2b
    run = Run()
    records = 0
    noted = False
    lineno = first_line - 1
    with file.open("rb") as fh:
        fh.seek(offset)
        while block := fh.readlines(_BLOCK_BYTES):  # whole lines, a few MB at a time
            if update is not None:
                update(b"".join(block))
            digests = [blake(raw.rstrip(b"\r\n"), digest_size=16).digest() for raw in block]
            for raw, digest, i in zip(block, digests, map(where.get, digests)):
                lineno += 1
                if i is not None and (owns[i] or numbers[i] == lineno):
                    records += 1
                    run.pairs.append(pairs[i])
                    run.lines.digests.append(digest)
                    run.lines.numbers.append(lineno)
                    run.lines.own.append(owns[i])
                    continue
                if raw.isspace():
                    continue
                records += 1
                if run.pairs:
                    yield run
                    run = Run()
                try:
                    if len(raw) > max_file_mb * 1_000_000:
                        raise Unreadable(
                            f"line is over the {max_file_mb:g} MB limit for one article"
                        )
                    text, encoding = decode_bytes(raw)
                    if encoding and not noted:
                        noted = True
                        yield f"decoded as {encoding} (line {lineno} first)"
                    record = json.loads(text)
                    default_id = f"{article_id_of(rel)}#{lineno}"
                    article = from_record(record, rel, default_id, max_file_mb)
                    own = isinstance(record, dict) and record.get("id") not in (None, "")
                    yield Line(digest, lineno, own, article)
                except json.JSONDecodeError as exc:
                    yield Skipped(rel, f"malformed JSON: {exc.msg} (column {exc.colno})", lineno)
                except (ValueError, RecursionError) as exc:  # nesting too deep, a long number
                    yield Skipped(rel, f"unreadable JSON: {str(exc)[:120]}", lineno)
                except Unreadable as exc:
                    yield Skipped(rel, str(exc), lineno)
    if run.pairs:
        yield run
    if counted is not None:
        counted.append(lineno)
    if not records and not offset:
        yield Skipped(rel, "no articles: the JSON Lines file is empty or blank")
