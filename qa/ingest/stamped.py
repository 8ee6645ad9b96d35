"""One file's items, skipping the work its stamp says was done, and its new stamp."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.ingest.files import load_file
from qa.ingest.jsonl import Line, Run, load_jsonl
from qa.ingest.stamp import FileStamp, Lines
from qa.records import Article, Skipped

_RACY_NS = 2_000_000_000  # a file modified this close to the load may change again unseen


@dataclass(slots=True)
class Reused:
    """(id, text sha256) of stamped articles that were not read again, passed on at once."""

    pairs: Sequence[tuple[str, str]]


class Stamped:
    """One file's items, skipping the work its stamp says was done; makes its new stamp."""

    def __init__(self, file: Path, rel: str, old: FileStamp | None, started: int) -> None:
        self.file, self.rel, self.old, self.started = file, rel, old, started
        self.stamp: FileStamp | None = None

    def items(self, max_file_mb: float) -> Iterator[Article | Skipped | tuple[str, str]]:
        old = self.old
        try:
            info = self.file.stat()
        except OSError:
            info = None
        n: list[int] = []  # the number of lines a .jsonl file has
        running = hashlib.sha256()  # a .jsonl file's sha256, taken while its lines are read
        if info is None or not stat.S_ISREG(info.st_mode) or old is None:
            items = load_file(self.file, self.rel, max_file_mb, None, n, running)
            yield from self._fresh(items, info, counted=n, digest=running)
            return
        if not old.racy and (info.st_size, info.st_mtime_ns) == (old.size, old.mtime_ns):
            yield from self._again(old, info)  # not even opened
            return
        if self.file.suffix.lower() == ".jsonl":
            head = _appended(self.file, old, info)
            if head is not None:  # lines were only appended: parse just those
                yield from self._tail(old, info, head, max_file_mb)
                return
            # only its new or changed lines are parsed
            items = load_file(self.file, self.rel, max_file_mb, old, n, running)
            yield from self._fresh(items, info, counted=n, digest=running)
            return
        try:
            digest = hashlib.sha256(self.file.read_bytes()).hexdigest()
        except OSError:
            digest = ""
        if digest == old.sha256:  # touched, not changed: not parsed or cleaned again
            yield from self._again(old, info)
            return
        yield from self._fresh(load_file(self.file, self.rel, max_file_mb), info)

    def _again(self, old: FileStamp, info: os.stat_result) -> Iterator[Skipped | Reused]:
        yield from (Skipped(self.rel, reason, line) for reason, line in old.skipped)
        yield Reused(old.articles)
        same = not old.racy and (info.st_size, info.st_mtime_ns) == (old.size, old.mtime_ns)
        # the same stamp object: its store keeps the saved row (and its lines) as they are
        self.stamp = (
            old if same else self._stamped(info, old.sha256, old.articles, old.skipped, old.lines)
        )

    def _tail(self, old: FileStamp, info: os.stat_result, head: Any, max_file_mb: float):
        """The articles of an appended .jsonl: the old ones as stamped, the tail parsed."""
        yield from (Skipped(self.rel, reason, line) for reason, line in old.skipped)
        yield Reused(old.articles)
        counted: list[int] = []
        tail = load_jsonl(
            self.file,
            self.rel,
            max_file_mb,
            None,
            offset=old.size,
            first_line=old.line_count + 1,
            counted=counted,
            running=head,
        )
        yield from self._fresh(tail, info, digest=head, before=old, counted=counted)

    def _fresh(
        self,
        items: Iterator,
        info: os.stat_result | None,
        *,
        digest: Any = None,
        before: FileStamp | None = None,
        counted: list[int] | None = None,
    ) -> Iterator:
        """Pass the items on, then stamp the file (``digest``: the sha256 the .jsonl reader
        took of the lines it read, after the head read before when ``before`` is its stamp)."""
        counted = counted if counted is not None else []
        found: list[tuple[str, str]] = []
        bad: list[tuple[str, int | None]] = []
        lines = Lines()
        for item in items:
            if isinstance(item, str):  # a note, not an article
                yield item
                continue
            if isinstance(item, Run):  # stamped lines, unchanged
                found.extend(item.pairs)
                lines.digests.extend(item.lines.digests)
                lines.numbers.extend(item.lines.numbers)
                lines.own.extend(item.lines.own)
                yield Reused(item.pairs)
                continue
            if isinstance(item, Line):
                lines.digests.append(item.digest)
                lines.numbers.append(item.lineno)
                lines.own.append(item.own_id)
                item = item.loaded
            if isinstance(item, Skipped):
                bad.append((item.reason, item.line))
            else:
                found.append((item.id, item.sha256))
            yield item
        if info is None or not stat.S_ISREG(info.st_mode):
            return
        try:
            # the reader read every line (it counts them at its end): its hash is the file's
            sha = digest.hexdigest() if digest is not None and counted else None
            if sha is None:
                sha = file_sha256_of(self.file)
        except OSError:
            return
        jsonl = self.file.suffix.lower() == ".jsonl"
        if before is not None:
            whole = before.lines + lines if before.lines is not None else None
            stamp = self._stamped(
                info, sha, before.articles + tuple(found), before.skipped + tuple(bad), whole
            )
            self.stamp = dataclasses.replace(
                stamp, appended=True, line_count=counted[-1] if counted else before.line_count
            )
        else:
            stamp = self._stamped(info, sha, tuple(found), tuple(bad), lines if jsonl else None)
            self.stamp = dataclasses.replace(stamp, line_count=counted[-1] if counted else 0)

    def _stamped(self, info, digest, articles, skipped, lines) -> FileStamp:
        racy = info.st_mtime_ns >= self.started - _RACY_NS
        return FileStamp(
            size=info.st_size,
            racy=racy,  # the next load reads it again (content hashes still save the parsing)
            mtime_ns=info.st_mtime_ns,
            sha256=digest,
            articles=tuple(articles),
            skipped=tuple(skipped),
            lines=lines,
        )


def _appended(file: Path, old: FileStamp, info: os.stat_result) -> Any:
    """When ``file`` is its stamped content plus whole lines after it: the running sha256 of
    that head (to continue with the tail), else None."""
    if not old.line_count or info.st_size <= old.size or old.size <= 0:
        return None
    h = hashlib.sha256()
    try:
        with file.open("rb") as fh:
            left = old.size
            while left:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    return None
                h.update(block)
                left -= len(block)
                last = block[-1:]
    except OSError:
        return None
    if h.hexdigest() != old.sha256 or last != b"\n":
        return None
    return h


def file_sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
