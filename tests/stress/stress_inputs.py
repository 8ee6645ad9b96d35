"""Hostile corpus inputs for the stress run: what each one is, how to write it, what must happen.

Every input must be accounted for after a build: indexed, or reported in ``BuildReport.skipped``
with a reason. ``expect`` says which: "skip" (no usable article), "index" (a valid article that
must be indexed, however odd its name) or "either" (both outcomes are reasonable).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
TEXTUAL = (".txt", ".md", ".html", ".json", ".jsonl")
MB = 1_000_000
# Words for unique filler articles (split where used).
_WORDS = (
    "ministry council envoy convoy province harbour budget bridge tribunal ferry railway "
    "drought reservoir vaccine election ballot customs tariff refinery pipeline garrison "
    "monsoon quarry archive museum lighthouse observatory orchard fishery vineyard"
)


@dataclass(frozen=True)
class Entry:
    """One file (or link) of an input, with the outcome the build must give it."""

    rel: str | bytes  # path inside the corpus; bytes for names that are not valid UTF-8
    data: bytes = b""
    kind: str = "file"  # file | big | sparse | symlink | fifo_link
    target: str = ""  # symlink target; "corpus:<rel>" points inside the corpus
    big: tuple[bytes, bytes, int] = (b"", b"", 0)  # prefix, suffix, total size (kind "big")
    expect: str = "skip"  # skip | index | either
    articles: int = 1  # articles this entry must give when expect == "index"

    @property
    def path(self) -> str:
        """The path as the corpus loader reports it: relative, posix, non-UTF-8 bytes escaped."""
        if isinstance(self.rel, bytes):
            return self.rel.decode("utf-8", "backslashreplace")
        return self.rel


@dataclass(frozen=True)
class Case:
    """One hostile input: one or more entries that are written and judged together."""

    name: str
    category: str
    entries: tuple[Entry, ...]
    sample: bool = False  # part of the small set that runs in `make test`


@dataclass
class Verdict:
    """How one case came out of a build."""

    case: Case
    indexed: int = 0
    reasons: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def article_text(tag: str) -> str:
    """A short, unique, plausible news article (title, dateline, three paragraphs)."""
    rng = random.Random(tag)
    words = [rng.choice(_WORDS.split()) for _ in range(30)]
    title = f"Officials review the {words[0]} and {words[1]} plan ({tag})"
    paras = [
        f"BAGHDAD, 5 January 2024 — The provincial {words[2]} office said on Monday that the "
        f"{words[3]} project known as {tag} would be reviewed by the {words[4]} committee.",
        f"A spokesperson told reporters that the {words[5]} and the {words[6]} had been "
        f"inspected twice this year, and that the {words[7]} budget was approved in full.",
        f"Residents near the {words[8]} welcomed the decision, while critics said the "
        f"{words[9]} should have been consulted before the {words[10]} works began.",
    ]
    return title + "\n\n" + "\n\n".join(paras) + "\n"


def wrap(suffix: str, text: str, **meta: Any) -> str:
    """``text`` as the content of a file with this suffix (an article the loader accepts)."""
    title, _, body = text.partition("\n\n")
    if suffix in (".html", ".htm"):
        paras = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p.strip())
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paras}</article></body></html>"
        )
    if suffix in (".json", ".jsonl"):
        return json.dumps({"title": title, "body": body, **meta}, ensure_ascii=False)
    return text


def write_cases(root: Path, cases: Iterable[Case]) -> None:
    """Write every entry of ``cases`` under ``root`` (links, FIFOs and 50 MB files included)."""
    root.mkdir(parents=True, exist_ok=True)
    for case in cases:
        for entry in case.entries:
            _write_entry(root, entry)


def link_cases(src: Path, dest: Path, cases: Iterable[Case]) -> None:
    """Put the entries of ``cases``, written under ``src``, under ``dest`` too (hard links)."""
    for case in cases:
        for entry in case.entries:
            if entry.kind in ("file", "big", "sparse"):
                rel = entry.rel if isinstance(entry.rel, bytes) else entry.rel.encode()
                target = os.path.join(os.fsencode(dest), rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.link(os.path.join(os.fsencode(src), rel), target)
            else:
                _write_entry(dest, entry)


def _write_entry(root: Path, entry: Entry) -> None:
    rel = entry.rel if isinstance(entry.rel, bytes) else entry.rel.encode()
    dest = os.path.join(os.fsencode(root), rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if entry.kind == "file":
        with open(dest, "wb") as fh:
            fh.write(entry.data)
    elif entry.kind == "sparse":
        with open(dest, "wb") as fh:
            fh.truncate(entry.big[2])
    elif entry.kind == "big":
        _write_big(dest, *entry.big)
    elif entry.kind == "symlink":
        target = entry.target
        if target.startswith("corpus:"):
            target = os.path.join(os.fsdecode(root), target.removeprefix("corpus:"))
        os.symlink(target, dest)
    elif entry.kind == "fifo_link":
        fifo = dest + b".fifo-target"
        os.mkfifo(fifo)
        os.symlink(fifo, dest)
    else:
        raise ValueError(f"unknown entry kind {entry.kind!r}")


def _write_big(dest: bytes, prefix: bytes, suffix: bytes, size: int) -> None:
    line = b"The ministry said the convoy reached the province before the council met. "
    block = line * (1 << 20 // len(line))
    with open(dest, "wb") as fh:
        fh.write(prefix)
        left = size - len(prefix) - len(suffix)
        while left > 0:
            fh.write(block[:left])
            left -= min(left, len(block))
        fh.write(suffix)


def judge(cases: Iterable[Case], articles: Iterable[Any], skipped: Iterable[Any]) -> list[Verdict]:
    """Account for every entry: indexed as expected, or skipped with a non-empty reason.

    Args:
        cases: The inputs that were in the corpus.
        articles: Indexed article rows (objects or dicts with a ``path``).
        skipped: ``BuildReport.skipped`` (objects or dicts with ``path`` and ``reason``).
    """
    indexed = Counter(_field(a, "path") for a in articles)
    reasons: dict[str, list[str]] = {}
    for s in skipped:
        reasons.setdefault(_field(s, "path"), []).append(_field(s, "reason") or "")
    verdicts = []
    for case in cases:
        v = Verdict(case)
        for entry in case.entries:
            n, why = indexed.get(entry.path, 0), reasons.get(entry.path, [])
            v.indexed += n
            v.reasons += why
            if any(not r.strip() for r in why):
                v.problems.append(f"{entry.path!r}: skipped with an empty reason")
            if n == 0 and not why:
                v.problems.append(f"{entry.path!r}: neither indexed nor reported as skipped")
            elif entry.expect == "index" and n < entry.articles:
                v.problems.append(
                    f"{entry.path!r}: {n} of {entry.articles} articles indexed ({'; '.join(why)})"
                )
            elif entry.expect == "skip" and n:
                v.problems.append(f"{entry.path!r}: bad input indexed as {n} article(s)")
        verdicts.append(v)
    return verdicts


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def fname(label: str, suffix: str) -> str:
    """A file name whose stem is unique per suffix (article ids drop the suffix)."""
    return f"{label}-{suffix.lstrip('.')}{suffix}"


def one(name: str, category: str, rel: str | bytes, data: bytes | str, **kw: Any) -> Case:
    """A case of one file; keyword arguments go to Entry, except ``sample``."""
    sample = kw.pop("sample", False)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return Case(name, category, (Entry(rel, raw, **kw),), sample)
