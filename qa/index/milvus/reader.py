"""MilvusIndex: the IndexReader of an index held in Milvus (a milvus-lite file or a server).

Dense and BM25 search run in Milvus with the filters pushed down as an expression; what Milvus
does not offer is computed here from stored rows: IDF from the ``terms`` collection, the best
sentence of a chunk from its text. A reader sees the articles published when it was opened:
chunks of articles written since (or half written) are left out of every answer.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.config import SentenceBM25
from qa.errors import IndexNotFoundError
from qa.index.base import (
    ArticleQuery,
    Catalog,
    ChunkRef,
    ChunkRefs,
    Filters,
    StoredChunk,
    select_articles,
)
from qa.index.milvus import meta, rows
from qa.index.milvus.location import MilvusLocation
from qa.index.milvus.schema import connect, exists, load
from qa.records import Article, ArticlePage, ArticleSummary
from qa.text.sentences import lead_sentence, sentence_spans
from qa.text.tokens import tokenize

SEARCH_LIMIT = 16_384  # Milvus's largest topk
# HNSW ef of a dense search, raised to k (Milvus wants ef >= k), as the local engine's
# HNSW_EF_SEARCH. Unasked, milvus-lite searches with ef 64: at 100k chunks that found 42% of
# one outlet's true top 600, ef 600 found 95% (bench/milvus_partition.py, docs/scale-out.md).
DENSE_EF = 256


class MilvusIndex:
    """Reads the live version of a Milvus index; thread-safe (one gRPC client)."""

    def __init__(self, where: MilvusLocation) -> None:
        self._where = where
        self._client = connect(where)
        published = None
        if exists(self._client, where):
            load(self._client, where)
            published = meta.read(self._client, where)
        if published is None:
            self._client.close()
            raise IndexNotFoundError(
                f"no index at {where.location}; build one with "
                f"`qa index CORPUS --index {where.location}`"
            )
        self.manifest = published.manifest
        self._version = published.version
        self._chunk_count = int(self.manifest.counts.get("chunks", 0))
        self._articles = {
            r["id"]: r
            for r in rows.every(
                self._client, where.collection("articles"), ["id", "sha256", "meta", "parts"]
            )
        }
        self._meta = {i: meta.article_meta(r) for i, r in self._articles.items()}
        self._catalog = _catalog(self._meta, self._chunk_count, published.name, self.manifest)
        self._summaries: list[ArticleSummary] | None = None  # the listing's rows, on first use
        self._summaries_lock = threading.Lock()

    # -- searching -------------------------------------------------------------------------------

    def dense(self, vector: np.ndarray, k: int, filters: Filters) -> dict[str, float]:
        hits = self._search([np.asarray(vector, dtype=np.float32).tolist()], "vector", k, filters)
        return {h["id"]: float(h["distance"]) for h in hits}

    def lexical(self, terms: Sequence[str], k: int, filters: Filters) -> dict[str, float]:
        if not terms:
            return {}
        hits = self._search([" ".join(terms)], "sparse", k, filters)
        # milvus-lite reports BM25 as a negative distance, a server as a positive score
        scored = {h["id"]: abs(float(h["distance"])) for h in hits}
        return {i: s for i, s in scored.items() if s > 0}

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[str]) -> np.ndarray:
        found: dict[str, float] = {}
        if terms:
            for part in rows.batches(list(dict.fromkeys(ids))):
                hits = self._client.search(
                    self._where.collection("chunks"),
                    data=[" ".join(terms)],
                    anns_field="sparse",
                    limit=len(part),
                    filter=rows.in_list("id", part),
                    output_fields=["id"],
                )[0]
                found.update((h["id"], abs(float(h["distance"]))) for h in hits)
        return np.array([found.get(i, 0.0) for i in ids], dtype=np.float32)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        got = self._chunk_rows(ids, ["id", "vector"])
        q = np.asarray(vector, dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        out = np.zeros(len(ids), dtype=np.float32)
        for n, i in enumerate(ids):
            v = np.asarray(got[i]["vector"], dtype=np.float32)
            out[n] = float(v @ q) / (float(np.linalg.norm(v)) or 1.0)
        return out

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 IDF (Lucene's, as bm25s and Milvus use) from stored document frequencies."""
        found = rows.by_ids(
            self._client, self._where.collection("terms"), list(terms), ["term", "df"]
        )
        n = self._chunk_count
        return {
            r["term"]: math.log(1.0 + (n - r["df"] + 0.5) / (r["df"] + 0.5))
            for r in found
            if r["df"] > 0
        }

    def best_sentence_scores(self, ids: Sequence[str], weights: dict[str, float]) -> np.ndarray:
        got = self._chunk_rows(ids, ["id", "text"])
        return np.array([best_sentence(got[i]["text"], weights) for i in ids], dtype=np.float32)

    def order(self, ids: Sequence[str]) -> list[str]:
        got = self._chunk_rows(ids, ["id", "seq"])
        return sorted(ids, key=lambda i: (got[i]["seq"], i) if i in got else (math.inf, i))

    def refs(self, ids: Sequence[str]) -> ChunkRefs:
        got = self._chunk_rows(ids, ["id", "article_id", "outlet"])
        out = []
        for i in ids:
            article = got[i]["article_id"]
            info = self._meta.get(article, {})
            source = info.get("source") or got[i]["outlet"] or ""
            out.append(ChunkRef(article, source, (info.get("published") or "")[:10]))
        return ChunkRefs.of(out)

    # -- reading ---------------------------------------------------------------------------------

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        fields = ["id", "article_id", "article_sha", "start", "end", "text"]
        got = self._chunk_rows(ids, fields)
        out = []
        for i in ids:
            row = got.get(i)
            if row is None or not self._live(row):
                continue
            a = self._meta[row["article_id"]]
            out.append(
                StoredChunk(
                    i,
                    row["article_id"],
                    row["start"],
                    row["end"],
                    row["text"],
                    a.get("title"),
                    a.get("source"),
                    a.get("published"),
                    a.get("url"),
                    a.get("path"),
                )
            )
        return out

    def article(self, article_id: str) -> Article | None:
        row = self._articles.get(article_id)
        if row is None:
            return None
        keys = [f"{row['sha256']}:{k}" for k in range(row["parts"])]
        parts = rows.by_ids(self._client, self._where.collection("texts"), keys, ["id", "text"])
        if len(parts) != len(keys):
            return None  # its text was replaced since this reader opened
        text = "".join(p["text"] for p in sorted(parts, key=lambda p: keys.index(p["id"])))
        return Article(text=text, **self._meta[article_id])

    def catalog(self) -> Catalog:
        return self._catalog

    def articles(self, query: ArticleQuery) -> ArticlePage:
        page = select_articles(self._listing(), query)
        rows = []
        for r in page.rows:
            article = None if r.title else self.article(r.id)
            rows.append(_with_lead(r, lead_sentence(article.text) if article else ""))
        return ArticlePage(tuple(rows), page.total, page.offset, *_counts(page))

    def _listing(self) -> list[ArticleSummary]:
        """Every published article's summary; passages counted from the chunk rows once."""
        with self._summaries_lock:
            if self._summaries is None:
                chunks = rows.every(
                    self._client, self._where.collection("chunks"), ["article_id", "article_sha"]
                )
                counts = Counter(r["article_id"] for r in chunks if self._live(r))
                self._summaries = [
                    ArticleSummary(
                        i,
                        m.get("title"),
                        m.get("source"),
                        m.get("published"),
                        m.get("path"),
                        counts.get(i, 0),
                    )
                    for i, m in self._meta.items()
                ]
            return self._summaries

    def stale(self) -> bool:
        return meta.version(self._client, self._where) != self._version

    def close(self) -> None:
        self._client.close()

    # -- rows ------------------------------------------------------------------------------------

    def _search(self, data: list[Any], field: str, k: int, filters: Filters) -> list[dict]:
        if k <= 0:
            return []
        limit = min(k, SEARCH_LIMIT)
        hits = self._client.search(
            self._where.collection("chunks"),
            data=data,
            anns_field=field,
            limit=limit,
            filter=rows.filter_expression(filters),
            output_fields=["article_id", "article_sha"],
            search_params={"params": {"ef": max(DENSE_EF, limit)}} if field == "vector" else None,
        )[0]
        return [
            {"id": h["id"], "distance": h["distance"]}
            for h in hits
            if self._live(h.get("entity", h))
        ]

    def _live(self, row: dict[str, Any]) -> bool:
        """Whether a chunk row belongs to an article as published when this reader opened."""
        article = self._articles.get(row["article_id"])
        return article is not None and article["sha256"] == row["article_sha"]

    def _chunk_rows(self, ids: Sequence[str], fields: list[str]) -> dict[str, dict]:
        found = rows.by_ids(self._client, self._where.collection("chunks"), ids, fields)
        return {r["id"]: r for r in found}


def best_sentence(text: str, weights: dict[str, float]) -> float:
    """BM25 (``SentenceBM25``) of the best sentence of ``text`` for the weighted terms."""
    p = SentenceBM25()
    best = 0.0
    for tokens in tokenize([text[a:b] for a, b in sentence_spans(text)] or [""]):
        tf, norm = Counter(tokens), p.k1 * (1 - p.b + p.b * len(tokens) / p.avgdl)
        score = sum(w * tf[t] * (p.k1 + 1) / (tf[t] + norm) for t, w in weights.items() if t in tf)
        best = max(best, score)
    return best


def _with_lead(row: ArticleSummary, lead: str) -> ArticleSummary:
    return ArticleSummary(
        row.id, row.title, row.source, row.published, row.path, row.passages, lead
    )


def _counts(page: ArticlePage) -> tuple[Any, ...]:
    return page.by_month, page.by_source, page.undated


def _catalog(articles: dict[str, dict], chunks: int, name: str, manifest: Any) -> Catalog:
    dates = sorted(a["published"] for a in articles.values() if a.get("published"))
    return Catalog(
        articles=len(articles),
        chunks=chunks,
        sources=tuple(sorted({a["source"] for a in articles.values() if a.get("source")})),
        published_min=dates[0] if dates else None,
        published_max=dates[-1] if dates else None,
        name=name,
        built_at=manifest.built_at or None,
    )
