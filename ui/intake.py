"""Vetting one upload before anything reaches the corpus: how many files and bytes, whether
each file reads as articles the way the indexer reads it, how many articles, and whether any
of them repeats an indexed article. Refused files are never saved."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qa
from ui import limits
from ui.uploads import UploadRejected, read_checked, safe_name

_REASONS_SHOWN = 3  # reasons quoted when a file has several unreadable parts


@dataclass(frozen=True)
class Vetted:
    """A file that passed: its private copy, the name the user gave it, its article count."""

    staged: Path
    original: str
    articles: int


@dataclass
class Vetting:
    """The outcome for one upload: files that may be saved, and one line per refused file."""

    accepted: list[Vetted] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@contextmanager
def vetted(files: Sequence[str], known: Mapping[str, Any]) -> Iterator[Vetting]:
    """Vet ``files`` (uploaded temporary paths) against the indexed articles ``known``.

    Args:
        files: The uploaded files, each named as the user named it.
        known: The indexed articles by the SHA-256 of their text (``qa.Article.sha256``).

    Yields:
        The vetting; the accepted files' private copies live until the block ends.
    """
    with tempfile.TemporaryDirectory(prefix="qa-upload-") as staging:
        yield _vet(files, known, Path(staging))


def _vet(files: Sequence[str], known: Mapping[str, Any], staging: Path) -> Vetting:
    outcome = Vetting()
    too_many = _over_batch_limits(files)
    if too_many:
        outcome.refused.append(too_many)
        return outcome
    seen: dict[str, str] = {}  # text hash -> the earlier file of this upload that holds it
    articles = 0
    for n, path in enumerate(files):
        original = Path(path).name
        try:
            item = _vet_one(Path(path), original, staging / str(n), known, seen, articles)
        except UploadRejected as exc:
            outcome.refused.append(f"not saved: {exc}")
            continue
        articles += item.articles
        outcome.accepted.append(item)
    return outcome


def _over_batch_limits(files: Sequence[str]) -> str:
    if len(files) > limits.MAX_UPLOAD_FILES:
        return (
            f"nothing saved: an upload may hold at most {limits.MAX_UPLOAD_FILES} files, "
            f"this one has {len(files)}; upload them in smaller batches"
        )
    total = sum(_size(p) for p in files)
    if total > limits.MAX_UPLOAD_TOTAL_BYTES:
        return (
            f"nothing saved: an upload may hold at most {limits.MAX_UPLOAD_TOTAL_BYTES / 1e6:g} MB "
            f"in all, this one has {total / 1e6:.1f} MB; upload fewer files at a time"
        )
    return ""


def _vet_one(
    src: Path,
    original: str,
    folder: Path,
    known: Mapping[str, Any],
    seen: dict[str, str],
    articles_before: int,
) -> Vetted:
    name = safe_name(original)
    data = read_checked(src, name)
    folder.mkdir()
    staged = folder / name
    staged.write_bytes(data)
    loaded = qa.load_corpus(staged)
    _check_readable(name, loaded)
    if articles_before + len(loaded.articles) > limits.MAX_UPLOAD_ARTICLES:
        raise UploadRejected(
            f"{name}: {len(loaded.articles)} articles would take this upload over "
            f"{limits.MAX_UPLOAD_ARTICLES:,} articles; upload it on its own or split it"
        )
    _check_new(name, loaded.articles, known, seen)
    for article in loaded.articles:
        seen[article.sha256] = name
    return Vetted(staged, original, len(loaded.articles))


def _check_readable(name: str, loaded: Any) -> None:
    """Refuse a file the indexer would skip, in part or whole (it would be listed as skipped
    on every later upload): every reason it gives, for the user to fix."""
    if not loaded.skipped and loaded.articles:
        return
    if not loaded.skipped:
        raise UploadRejected(f"{name}: no article text found")
    reasons = [_reason(s) for s in loaded.skipped[:_REASONS_SHOWN]]
    more = len(loaded.skipped) - len(reasons)
    if more:
        reasons.append(f"and {more} more")
    raise UploadRejected(f"{name}: {'; '.join(reasons)}")


def _reason(skipped: Any) -> str:
    return f"line {skipped.line}: {skipped.reason}" if skipped.line else skipped.reason


def _check_new(
    name: str, articles: Sequence[Any], known: Mapping[str, Any], seen: Mapping[str, str]
) -> None:
    """Refuse a file any of whose articles has the very text of an indexed article, or of an
    earlier file of the same upload; the refusal names them."""
    repeats = []
    for article in articles:
        if article.sha256 in known:
            repeats.append(_label(known[article.sha256]))
        elif article.sha256 in seen:
            repeats.append(f"{seen[article.sha256]} (earlier in this upload)")
    if not repeats:
        return
    named = sorted(set(repeats))[: limits.MAX_DUPLICATES_NAMED]
    rest = len(set(repeats)) - len(named)
    listed = ", ".join(named) + (f" and {rest} more" if rest else "")
    what = "its text is" if len(articles) == 1 else f"{len(repeats)} of its articles are"
    raise UploadRejected(f"{name}: {what} already in the archive: {listed}")


def _label(article: Any) -> str:
    title = f"“{article.title}” " if article.title else ""
    return f"{title}({article.path or article.id})"


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
