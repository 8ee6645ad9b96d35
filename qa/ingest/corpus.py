"""Loading articles from a folder or file: .txt, .md, .html/.htm, .json and .jsonl.

Bad input never stops a load: each unreadable file (or JSON line) becomes a ``Skipped`` entry that
names the file, the line and the reason, and loading continues with the next one. The layers:
``files`` (which files, and one file by its type), ``articles`` and ``jsonl`` (text to
articles), ``decoding`` (bytes to text), ``stamp``/``stamped`` (the work a saved stamp spares).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import CorpusNotFoundError
from qa.ingest.decoding import display_path
from qa.ingest.files import DEFAULT_MAX_FILE_MB, walk
from qa.ingest.stamp import FileStamp
from qa.ingest.stamped import Reused, Stamped
from qa.records import Article, Skipped


@dataclass(frozen=True)
class LoadResult:
    """Articles that loaded, and inputs that did not (with reasons).

    ``reused`` are (id, text sha256) of articles of files (or .jsonl lines) unchanged since the
    stamps given to ``load_corpus``: not read, cleaned or hashed again; ``stamps`` are the new
    stamps of every file, to give to the next load.
    """

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    reused: tuple[tuple[str, str], ...] = ()
    stamps: dict[str, FileStamp] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. "old.txt: decoded as windows-1252"


def load_corpus(
    path: str | Path,
    *,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    stamps: dict[str, FileStamp] | None = None,
) -> LoadResult:
    """Load every supported article under ``path`` (a folder, recursively, or one file).

    Args:
        path: Folder or file.
        max_file_mb: Size limit for one article file; .json/.jsonl collections may be 10x larger.
        stamps: What the last load saw of each file (``LoadResult.stamps``): a file whose size
            and modification time match is not read at all, one whose content hash matches is
            not parsed, and a changed .jsonl file parses only its changed lines. Their
            articles come back in ``reused``, for the caller to check against its index.

    Returns:
        The articles in a stable order (by path, then position) and the skipped inputs.

    Raises:
        CorpusNotFoundError: ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise CorpusNotFoundError(f"corpus not found: {root} (give a folder or an article file)")
    files = [root] if root.is_file() else walk(root)
    base = root.parent if root.is_file() else root
    articles: list[Article] = []
    skipped: list[Skipped] = []
    reused: list[tuple[str, str]] = []
    new_stamps: dict[str, FileStamp] = {}
    notes: list[str] = []
    seen: dict[str, str] = {}
    started = time.time_ns()
    for file in files:
        rel = display_path(file.relative_to(base).as_posix())
        reader = Stamped(file, rel, (stamps or {}).get(rel), started)
        for item in reader.items(max_file_mb):
            if isinstance(item, str):  # a note: decoded from a legacy encoding
                notes.append(f"{rel}: {item}")
                continue
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            if isinstance(item, Reused):  # a run of stamped articles: checked at once
                ids = dict.fromkeys([aid for aid, _ in item.pairs], rel)
                if len(ids) == len(item.pairs) and seen.keys().isdisjoint(ids):
                    seen.update(ids)
                    reused.extend(item.pairs)
                    continue
                for aid, sha in item.pairs:
                    if aid in seen:
                        skipped.append(
                            Skipped(rel, f"duplicate article id {aid!r} (first in {seen[aid]})")
                        )
                        continue
                    seen[aid] = rel
                    reused.append((aid, sha))
                continue
            aid, sha = (item.id, item.sha256) if isinstance(item, Article) else item
            if aid in seen:
                skipped.append(Skipped(rel, f"duplicate article id {aid!r} (first in {seen[aid]})"))
                continue
            seen[aid] = rel
            (articles.append(item) if isinstance(item, Article) else reused.append(item))
        if reader.stamp is not None:
            new_stamps[rel] = reader.stamp
    return LoadResult(tuple(articles), tuple(skipped), tuple(reused), new_stamps, tuple(notes))
