"""What an update changes: the corpus's articles against the index's, and the counts after it."""

from __future__ import annotations

from collections.abc import Mapping

from qa.index.base import IndexState, StoredArticle
from qa.ingest.corpus import LoadResult
from qa.records import Chunk


def article_count(loaded: LoadResult) -> int:
    return len(loaded.articles) + len(loaded.reused)


def vouched(loaded: LoadResult, previous: IndexState | None) -> bool:
    """Whether every article the stamps say is unchanged is in the index with the same text."""
    if previous is None:
        return False
    stored = previous.articles
    # an engine's lazy mapping may tell a text hash without reading the article's record
    sha_of = getattr(stored, "sha256_of", None) or (
        lambda i: stored[i].meta["sha256"] if i in stored else None
    )
    return all(sha_of(i) == sha for i, sha in loaded.reused)


def diff_articles(
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
    unchanged.extend(i for i, _ in loaded.reused)  # vouched: stored with the same text
    current = {a.id for a in loaded.articles} | {i for i, _ in loaded.reused}
    removed = sorted((set(old) if live_ids is None else live_ids) - current)
    return {
        "added": tuple(added),
        "updated": tuple(updated),
        "removed": tuple(removed),
        "unchanged": tuple(unchanged),
    }


def has_changes(diff: dict[str, tuple[str, ...]]) -> bool:
    return bool(diff["added"] or diff["updated"] or diff["removed"])


def total_chunks(
    previous: IndexState | None, diff: dict[str, tuple[str, ...]], new: list[Chunk]
) -> int:
    """Chunks after an update: the stored ones of articles left as they were, plus ``new``."""
    if previous is None:
        return len(new)
    gone = set(diff["removed"]) | set(diff["updated"])
    return previous.chunks - sum(len(previous.articles[i].chunks) for i in gone) + len(new)
