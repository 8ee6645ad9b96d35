"""What the last build saw of one file (its stat, hash, articles; a .jsonl file's lines)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lines:
    """Per article of a .jsonl stamp, in file order: the blake2b-128 digest of its line, its
    line number and whether its id came from the record (lists, not a dict per line: a
    200,000-line file's lines load and compare in a fraction of a second)."""

    digests: list[bytes] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    own: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.digests)

    def __add__(self, other: Lines) -> Lines:
        return Lines(
            self.digests + other.digests, self.numbers + other.numbers, self.own + other.own
        )


@dataclass(frozen=True)
class FileStamp:
    """What the last build saw of one file: its stat, content hash and what it held.

    ``articles`` are (id, text sha256) in file order; for a .jsonl file ``lines`` tells, per
    article (aligned with ``articles``), the digest of its line, its line number and whether
    the id came from the record itself, so a changed file re-parses only its changed lines.
    """

    size: int
    mtime_ns: int
    sha256: str
    articles: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, int | None], ...] = ()
    lines: Lines | None = None  # .jsonl only; None when not loaded (the stat was unchanged)
    line_count: int = 0  # .jsonl: lines read (blank ones too), to number appended lines
    appended: bool = False  # only the lines appended since the last stamp were read
    racy: bool = False  # modified right before the load: its stat alone is not believed
