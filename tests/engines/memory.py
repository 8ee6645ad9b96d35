"""A whole index engine in plain Python dicts: proof that an engine is one module.

Real, if slow: brute-force cosine over a numpy matrix, BM25 computed from token counts, sentence
BM25 from the same splitter and tokenizer. Nothing of the local engine is reused, so the shared
contract tests (tests/test_engine_contract.py) hold two independent implementations to the
protocols. Versions live in ``_INDEXES`` (one process) and are published by swapping a dict.
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import BM25_PARAMS, Manifest, SentenceBM25
from qa.errors import IndexNotFoundError
from qa.index.base import (
    ArticleQuery,
    Catalog,
    ChunkRef,
    ChunkRefs,
    Filters,
    IndexChanges,
    IndexState,
    StoredArticle,
    StoredChunk,
    select_articles,
)
from qa.index.factory import Engine
from qa.records import Article, ArticlePage, ArticleSummary
from qa.text.sentences import lead_sentence, sentence_spans
from qa.text.tokens import tokenize

_INDEXES: dict[str, dict] = {}  # name -> the live version
_LOCKS: dict[str, threading.Lock] = {}
_CACHE = Path(tempfile.mkdtemp(prefix="memory-engine-"))


class MemoryWriter:
    def __init__(self, name: str) -> None:
        self.location = f"memory:{name}"
        self._name = name

    def __enter__(self) -> MemoryWriter:
        _LOCKS.setdefault(self._name, threading.Lock()).acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        _LOCKS[self._name].release()

    def previous(self, *, verify: bool = False) -> IndexState | None:
        live = _INDEXES.get(self._name)
        if live is None:
            return None
        articles = {
            a.id: StoredArticle(
                {k: v for k, v in a.to_dict().items() if k != "text"},
                tuple((c.start, c.end, c.id, c.text_hash) for c in live["by_article"][a.id]),
            )
            for a in live["articles"].values()
        }
        return IndexState(live["manifest"], articles, len(live["chunks"]), live["name"])

    def cache_path(self) -> Path:
        return _CACHE / self._name / "embeddings.sqlite"

    def publish(self, changes: IndexChanges, manifest: Manifest) -> str:
        previous = _INDEXES.get(self._name)
        name = f"v{(previous['number'] + 1) if previous else 1}"
        keep = previous if previous and not changes.replace else None
        gone = set(changes.removed) | {a.id for a in changes.articles}
        articles = {i: a for i, a in (keep["articles"] if keep else {}).items() if i not in gone}
        by_article = {
            i: c for i, c in (keep["by_article"] if keep else {}).items() if i in articles
        }
        kept = {c.id for cs in by_article.values() for c in cs}
        version = {
            k: {i: v for i, v in keep[k].items() if i in kept} if keep else {}
            for k in ("chunks", "vectors", "tokens")
        }
        articles.update({a.id: a for a in changes.articles})
        by_article.update({a.id: [] for a in changes.articles})
        for c in changes.chunks:
            by_article[c.article_id].append(c)
        version["chunks"].update({c.id: c for c in changes.chunks})
        version["vectors"].update(
            {c.id: np.asarray(v, dtype=np.float32) for c, v in zip(changes.chunks, changes.vectors)}
        )
        version["tokens"].update(
            {
                c.id: Counter(t)
                for c, t in zip(changes.chunks, tokenize(list(changes.lexical_texts)))
            }
        )
        _INDEXES[self._name] = {  # one assignment: readers see the old or the new version
            "name": name,
            "number": int(name[1:]),
            "manifest": Manifest(**{**manifest.to_dict(), "engine": "memory", "generation": name}),
            "articles": articles,
            "by_article": by_article,
            **version,
        }
        return name

    def optimize(self) -> str | None:
        return None  # one dict per version: nothing to fold


class MemoryIndex:
    def __init__(self, name: str) -> None:
        if name not in _INDEXES:
            raise IndexNotFoundError(f"no index memory:{name}; build one with `qa index`")
        self._name = name
        self._v = _INDEXES[name]
        self.manifest: Manifest = self._v["manifest"]
        lengths = [sum(t.values()) for t in self._v["tokens"].values()]
        self._avgdl = sum(lengths) / max(len(lengths), 1)
        self._df = Counter(t for counts in self._v["tokens"].values() for t in counts)

    # searching
    def dense(self, vector: np.ndarray, k: int, filters: Filters) -> dict[str, float]:
        scored = {cid: float(v @ vector) for cid, v in self._v["vectors"].items()}
        return self._top(scored, k, filters, positive=False)

    def lexical(self, terms: Sequence[str], k: int, filters: Filters) -> dict[str, float]:
        scored = {cid: self._bm25(terms, cid) for cid in self._v["chunks"]}
        return self._top(scored, k, filters, positive=True)

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[str]) -> np.ndarray:
        return np.array([self._bm25(terms, i) for i in ids], dtype=np.float32)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        return np.array([self._v["vectors"][i] @ vector for i in ids], dtype=np.float32)

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        return {t: self._idf(t) for t in terms if t in self._df}

    def best_sentence_scores(self, ids: Sequence[str], weights: dict[str, float]) -> np.ndarray:
        p = SentenceBM25()
        out = []
        for i in ids:
            text = self._v["chunks"][i].text
            best = 0.0
            for tokens in tokenize([text[a:b] for a, b in sentence_spans(text)] or [""]):
                tf, norm = Counter(tokens), p.k1 * (1 - p.b + p.b * len(tokens) / p.avgdl)
                score = sum(
                    w * tf[t] * (p.k1 + 1) / (tf[t] + norm) for t, w in weights.items() if t in tf
                )
                best = max(best, score)
            out.append(best)
        return np.array(out, dtype=np.float32)

    def order(self, ids: Sequence[str]) -> list[str]:
        position = {cid: n for n, cid in enumerate(self._v["chunks"])}
        return sorted(ids, key=position.__getitem__)

    def refs(self, ids: Sequence[str]) -> ChunkRefs:
        out = []
        for i in ids:
            a = self._v["articles"][self._v["chunks"][i].article_id]
            out.append(ChunkRef(a.id, a.source or "", (a.published or "")[:10]))
        return ChunkRefs.of(out)

    # reading
    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        out = []
        for i in ids:
            c = self._v["chunks"].get(i)
            if c is not None:
                a = self._v["articles"][c.article_id]
                out.append(
                    StoredChunk(
                        c.id,
                        a.id,
                        c.start,
                        c.end,
                        a.text[c.start : c.end],
                        a.title,
                        a.source,
                        a.published,
                        a.url,
                        a.path,
                    )
                )
        return out

    def article(self, article_id: str) -> Article | None:
        return self._v["articles"].get(article_id)

    def catalog(self) -> Catalog:
        articles = list(self._v["articles"].values())
        dates = sorted(a.published for a in articles if a.published)
        return Catalog(
            articles=len(articles),
            chunks=len(self._v["chunks"]),
            sources=tuple(sorted({a.source for a in articles if a.source})),
            published_min=dates[0] if dates else None,
            published_max=dates[-1] if dates else None,
            name=self._v["name"],
        )

    def articles(self, query: ArticleQuery) -> ArticlePage:
        every = [
            ArticleSummary(
                a.id, a.title, a.source, a.published, a.path, len(self._v["by_article"][a.id])
            )
            for a in self._v["articles"].values()
        ]
        page = select_articles(every, query)
        rows = tuple(
            ArticleSummary(
                *(r.id, r.title, r.source, r.published, r.path, r.passages),
                lead="" if r.title else lead_sentence(self._v["articles"][r.id].text),
            )
            for r in page.rows
        )
        return ArticlePage(
            rows, page.total, page.offset, page.by_month, page.by_source, page.undated
        )

    def stale(self) -> bool:
        return _INDEXES.get(self._name) is not self._v

    def close(self) -> None:
        return None

    # helpers
    def _idf(self, term: str) -> float:
        n, df = len(self._v["chunks"]), self._df[term]
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _bm25(self, terms: Sequence[str], cid: str) -> float:
        counts = self._v["tokens"][cid]
        k1, b = BM25_PARAMS["k1"], BM25_PARAMS["b"]
        norm = k1 * (1 - b + b * sum(counts.values()) / self._avgdl)
        return sum(
            self._idf(t) * counts[t] * (k1 + 1) / (counts[t] + norm) for t in terms if t in counts
        )

    def _top(
        self, scored: dict[str, float], k: int, filters: Filters, *, positive: bool
    ) -> dict[str, float]:
        kept = []
        for cid, score in scored.items():
            a = self._v["articles"][self._v["chunks"][cid].article_id]
            if filters.allows(a.source, a.published) and (score > 0 or not positive):
                kept.append((cid, score))
        kept.sort(key=lambda item: -item[1])
        return dict(kept[:k])


ENGINE = Engine(reader=MemoryIndex, writer=MemoryWriter)
