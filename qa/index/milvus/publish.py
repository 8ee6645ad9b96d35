"""Publishing a new version of a Milvus index incrementally, by primary key.

Milvus has no multi-collection transaction, so the order of writes keeps every reader safe:
new text parts and chunks first, then the article rows that make them visible (a reader shows a
chunk only when its article row carries the same text hash); removed articles' rows go first,
then their chunks; chunks and texts no longer used last; the manifest with a bumped version at
the very end. A build interrupted anywhere leaves the state "writing", and the next build
rewrites what differs from the corpus: `qa index` repairs.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qa.config import Manifest
from qa.index.base import IndexChanges
from qa.index.milvus import meta, rows
from qa.index.milvus.location import MilvusLocation
from qa.index.milvus.schema import PLACEHOLDER, TEXT_PART_CHARS
from qa.records import Article, Chunk
from qa.text.tokens import tokenize

CHUNK_BATCH = 256  # chunk rows per upsert: 256 x (384 floats + 3 KB text) is ~1 MB per request


@dataclass
class Stored:
    """What the index holds before a publish: article rows, chunk rows, text part ids."""

    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: set[str] = field(default_factory=set)
    terms: dict[str, int] = field(default_factory=dict)


def load(client: Any, where: MilvusLocation) -> Stored:
    """Every article and chunk row (without texts and vectors), every text part id."""
    chunk_fields = ["id", "article_id", "article_sha", "start", "end", "seq", "text_hash"]
    return Stored(
        articles={
            r["id"]: r
            for r in rows.every(
                client, where.collection("articles"), ["id", "sha256", "meta", "parts"]
            )
        },
        chunks={r["id"]: r for r in rows.every(client, where.collection("chunks"), chunk_fields)},
        texts={r["id"] for r in rows.every(client, where.collection("texts"), ["id"])},
        terms={
            r["term"]: r["df"]
            for r in rows.every(client, where.collection("terms"), ["term", "df"])
        },
    )


def write_version(
    client: Any,
    where: MilvusLocation,
    stored: Stored,
    changes: IndexChanges,
    manifest: Manifest,
    *,
    number: int,
    rewrite: bool,
) -> None:
    """Make ``changes.articles``/``chunks`` the whole live content, writing only rows that
    differ; ``rewrite`` writes every chunk again (new vectors: another model was used)."""
    articles, chunks, vectors = changes.articles, changes.chunks, changes.vectors
    lexical_texts = changes.lexical_texts
    meta.mark(client, where, meta.WRITING, number)
    article_rows = {a.id: _article_row(a) for a in articles}
    gone = sorted(set(stored.articles) - set(article_rows))
    rows.delete(client, where.collection("articles"), gone)
    rows.delete(client, where.collection("chunks"), _chunks_of(stored, set(gone)))
    texts = _write_texts(client, where, stored, articles)
    changed = {i for i, r in article_rows.items() if rewrite or _differs(stored.articles.get(i), r)}
    tokens = tokenize(list(lexical_texts))
    _write_chunks(client, where, stored, articles, chunks, vectors, tokens, changed, rewrite)
    rows.upsert(client, where.collection("articles"), [article_rows[i] for i in sorted(changed)])
    wanted = {c.id for c in chunks}
    rows.delete(client, where.collection("chunks"), sorted(set(stored.chunks) - wanted))
    rows.delete(client, where.collection("texts"), sorted(stored.texts - set(texts)))
    _write_terms(client, where, stored.terms, tokens)
    _go_live(client, where, manifest, number)


def write_changes(
    client: Any,
    where: MilvusLocation,
    stored: Stored,
    changes: IndexChanges,
    manifest: Manifest,
    *,
    number: int,
) -> None:
    """Apply an update by primary key: ``changes.articles`` added or replaced, ``removed`` gone.

    Only the changed rows are read or written: the removed and replaced chunks' tokens are read
    back to take them out of the document frequencies.
    """
    articles, chunks, vectors = changes.articles, changes.chunks, changes.vectors
    lexical_texts, removed = changes.lexical_texts, changes.removed
    meta.mark(client, where, meta.WRITING, number)
    given = {a.id for a in articles}
    gone = sorted(set(removed) & set(stored.articles))
    rows.delete(client, where.collection("articles"), gone)
    wanted = {c.id for c in chunks}
    old_chunks = _chunks_of(stored, set(gone) | given)
    dropped = [i for i in old_chunks if i not in wanted]
    rows.delete(client, where.collection("chunks"), dropped)
    texts = _write_texts(client, where, stored, articles)
    old_tokens = (
        [
            r["lexical"].split()
            for r in rows.by_ids(client, where.collection("chunks"), old_chunks, ["id", "lexical"])
        ]
        if old_chunks
        else []
    )
    tokens = tokenize(list(lexical_texts))
    _write_chunks(client, where, stored, articles, chunks, vectors, tokens, given, True)
    rows.upsert(client, where.collection("articles"), [_article_row(a) for a in articles])
    df = Counter(stored.terms)
    df.subtract(t for doc in old_tokens for t in set(doc))
    df.update(t for doc in tokens for t in set(doc))
    changed = {t for t in df if df[t] != stored.terms.get(t)}
    rows.upsert(
        client,
        where.collection("terms"),
        [{"term": t, "df": df[t], "placeholder": PLACEHOLDER} for t in changed if df[t] > 0],
        size=5_000,
    )
    rows.delete(client, where.collection("terms"), sorted(t for t in changed if df[t] <= 0))
    live = {i: r for i, r in stored.articles.items() if i not in set(gone) | given}
    used = {f"{r['sha256']}:{k}" for r in live.values() for k in range(r["parts"])} | set(texts)
    rows.delete(client, where.collection("texts"), sorted(stored.texts - used))
    _go_live(client, where, manifest, number)


def _write_texts(
    client: Any, where: MilvusLocation, stored: Stored, articles: Sequence[Article]
) -> dict[str, str]:
    """Store the text parts of ``articles`` not stored yet; returns every part by key."""
    texts = {k: v for a in articles for k, v in _text_parts(a).items()}
    rows.upsert(
        client,
        where.collection("texts"),
        [
            {
                "id": k,
                "sha256": k.split(":")[0],
                "part": int(k.split(":")[1]),
                "text": v,
                "placeholder": PLACEHOLDER,
            }
            for k, v in texts.items()
            if k not in stored.texts
        ],
        size=16,
    )
    return texts


def _go_live(client: Any, where: MilvusLocation, manifest: Manifest, number: int) -> None:
    """Flush what was written (milvus-lite: BM25 statistics of a flushed segment), then the
    manifest and the "live" state that readers see."""
    for part in ("chunks", "articles", "texts", "terms"):
        client.flush(where.collection(part))
    meta.write(client, where, manifest, number)
    meta.mark(client, where, meta.LIVE, number)
    client.flush(where.collection("meta"))


def _article_row(article: Article) -> dict[str, Any]:
    info = {k: v for k, v in article.to_dict().items() if k != "text"}
    return {
        "id": article.id,
        "sha256": article.sha256,
        "meta": json.dumps(info, sort_keys=True, ensure_ascii=False),
        "parts": len(_text_parts(article)),
        "placeholder": PLACEHOLDER,
    }


def _differs(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    if old is None:
        return True
    return any(old[k] != new[k] for k in ("sha256", "meta", "parts"))


def _text_parts(article: Article) -> dict[str, str]:
    n = max(1, math.ceil(len(article.text) / TEXT_PART_CHARS))
    return {
        f"{article.sha256}:{k}": article.text[k * TEXT_PART_CHARS : (k + 1) * TEXT_PART_CHARS]
        for k in range(n)
    }


def _chunks_of(stored: Stored, articles: set[str]) -> list[str]:
    return sorted(i for i, r in stored.chunks.items() if r["article_id"] in articles)


def _write_chunks(
    client: Any,
    where: MilvusLocation,
    stored: Stored,
    articles: Sequence[Article],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    tokens: list[list[str]],
    changed: set[str],
    rewrite: bool,
) -> None:
    """Upsert the chunks that are new, of a changed article, or whose row differs (a repair)."""
    by_id = {a.id: a for a in articles}
    next_seq = max((r["seq"] for r in stored.chunks.values()), default=-1) + 1
    todo = []
    for n, c in enumerate(chunks):
        old = stored.chunks.get(c.id)
        a = by_id[c.article_id]
        same = old is not None and (
            old["article_sha"],
            old["start"],
            old["end"],
            old["text_hash"],
        ) == (a.sha256, c.start, c.end, c.text_hash)
        if same and not rewrite and c.article_id not in changed:
            continue
        seq = old["seq"] if old is not None else next_seq
        next_seq += old is None
        todo.append(_chunk_row(c, a, seq, vectors[n], tokens[n]))
    rows.upsert(client, where.collection("chunks"), todo, size=CHUNK_BATCH)


def _chunk_row(c: Chunk, a: Article, seq: int, vector: np.ndarray, tokens: list[str]) -> dict:
    return {
        "id": c.id,
        "article_id": a.id,
        "article_sha": a.sha256,
        "start": c.start,
        "end": c.end,
        "seq": seq,
        "text_hash": c.text_hash,
        "text": c.text,
        "outlet": a.source or "",
        "outlet_key": (a.source or "").casefold(),
        "day": rows.day_of(a.published),
        # our own stemmed tokens: Milvus then splits them as bm25s did (see docs/scale-out.md)
        "lexical": " ".join(tokens),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
    }


def _write_terms(
    client: Any, where: MilvusLocation, old: dict[str, int], tokens: list[list[str]]
) -> None:
    """Document frequency of every term (what IDF needs), only changed rows written."""
    df = Counter(t for doc in tokens for t in set(doc))
    rows.upsert(
        client,
        where.collection("terms"),
        [
            {"term": t, "df": n, "placeholder": PLACEHOLDER}
            for t, n in df.items()
            if old.get(t) != n
        ],
        size=5_000,
    )
    rows.delete(client, where.collection("terms"), sorted(set(old) - set(df)))
