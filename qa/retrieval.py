"""Hybrid retrieval over one index generation: BM25, sentence BM25 and dense, with metadata."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.embedding import Embedder
from qa.errors import SettingsError
from qa.lexical import tokenize
from qa.query import OutletMatcher, QueryPlan, plan_query
from qa.sentences import sentence_spans
from qa.store import Generation, StoredChunk

MODES = ("hybrid", "bm25", "dense")
# Weights of the fused score, chosen on the MultiHop-RAG dev questions (see README): BM25 over
# title/outlet/date-prefixed chunks carries most of the signal on news; MiniLM adds paraphrase
# recall; the best single sentence of a chunk rewards passages that state the fact in one place.
_W_BM25, _W_DENSE, _W_SENTENCE = 0.8, 0.2, 1.0
_OUTLET_BOOST, _DATE_BOOST = 0.6, 0.5
_SAME_ARTICLE_PENALTY = 0.2
_CANDIDATES = 300
_MIN_QUOTE_WORDS = 5  # shorter lines (bylines, captions) are not quoted
# Sentence vectors kept for answering, per generation: 64 MB holds the quotable sentences of
# about 5,500 news chunks (7.6 per chunk). A cap in bytes, not rows: rows differ in sentences.
# They stay float32 as embedded, so evicting never changes an answer, only its time.
_SENTENCE_VECTOR_BYTES = 64 * 2**20
SentenceVectors = dict[int, list[tuple[int, int, np.ndarray]]]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the signals behind its score."""

    chunk: StoredChunk
    score: float
    dense: float  # cosine of question and chunk
    bm25: float


@dataclass(frozen=True)
class Retrieval:
    """The ranked hits of a question, the reading of the question, and its vector."""

    plan: QueryPlan
    hits: list[Hit]
    query_vector: np.ndarray
    articles: dict[str, dict]  # metadata of every article in the generation, by id
    term_weights: dict[str, float]  # IDF of the question's stemmed terms that the index knows
    article_terms: Callable[[str], frozenset[str]]  # stemmed words of an article's whole text
    sentence_vectors: Callable[[list[StoredChunk]], SentenceVectors]


class Retriever:
    """Ranks the chunks of one generation for a question."""

    def __init__(self, generation: Generation, embedder: Embedder) -> None:
        self.generation = generation
        self.embedder = embedder
        self.articles = {a["id"]: a for a in generation.article_rows()}
        ids = sorted(self.articles)
        position = {aid: i for i, aid in enumerate(ids)}
        self._row_article = np.array(
            [position[a] for a in generation.chunk_article_ids()], dtype=np.int64
        )
        self._article_source = np.array([self.articles[a]["source"] or "" for a in ids])
        self._article_date = np.array([(self.articles[a]["published"] or "")[:10] for a in ids])
        self._ids = ids
        self._sources = sorted({s for s in self._article_source.tolist() if s})
        self.outlets = OutletMatcher(self._sources)
        self._sentences = generation.sentences()  # computed here for generations that lack it
        self._article_terms: dict[str, frozenset[str]] = {}
        self._sentence_vectors = _VectorCache(_SENTENCE_VECTOR_BYTES)

    def article_terms(self, article_id: str) -> frozenset[str]:
        """The stemmed words of an article (cached), for checking what it mentions."""
        terms = self._article_terms.get(article_id)
        if terms is None:
            article = self.generation.article(article_id)
            text = f"{article.title or ''}\n{article.text}" if article else ""
            terms = frozenset(tokenize([text])[0]) if text else frozenset()
            if len(self._article_terms) > 5000:
                self._article_terms.clear()
            self._article_terms[article_id] = terms
        return terms

    def sentence_vectors(self, chunks: list[StoredChunk]) -> SentenceVectors:
        """Per chunk row: (start, end) in the chunk and the vector of each quotable sentence.

        Sentences are embedded once per generation (cached), like questions: both sides of the
        comparison are short texts.
        """
        found = self._sentence_vectors.get([c.row for c in chunks])
        missing = [c for c in dict.fromkeys(chunks) if c.row not in found]
        if missing:
            spans = [
                (c.row, a, b, c.text[a:b])
                for c in missing
                for a, b in sentence_spans(c.text)
                if len(c.text[a:b].split()) >= _MIN_QUOTE_WORDS
            ]
            vectors = self.embedder.encode_queries([s[3] for s in spans]) if spans else []
            new: SentenceVectors = {c.row: [] for c in missing}
            for (row, a, b, _), vector in zip(spans, vectors):
                new[row].append((a, b, vector))
            self._sentence_vectors.put(new)
            found.update(new)
        return {c.row: found[c.row] for c in chunks}

    def sources(self) -> list[str]:
        return list(self._sources)

    def search(
        self,
        question: str,
        k: int,
        *,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        mode: str = "hybrid",
        context: str = "",
    ) -> Retrieval:
        """The ``k`` best chunks for ``question`` under the filters; ``context`` widens it."""
        if mode not in MODES:
            raise SettingsError(
                f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}"
            )
        plan = plan_query(question, self.outlets)
        query = f"{context} {question}".strip()
        dense_text = f"{context} {plan.text}".strip()
        qvec = self.embedder.encode_queries([dense_text])[0]
        allowed = self._allowed(sources, since, until)
        if self.generation.chunk_count == 0 or not allowed.any():
            return Retrieval(
                plan, [], qvec, self.articles, {}, self.article_terms, self.sentence_vectors
            )
        tokens = tokenize([query])[0]
        weights = self.generation.lexical.idf(list(dict.fromkeys(tokens)))
        bm25 = self.generation.lexical.scores_of(tokens)
        dense_scores, dense_rows = self.generation.vectors.search(qvec, _CANDIDATES * 2)
        rows = self._candidates(plan, bm25, dense_rows[0], allowed, mode)
        dense = self._dense(qvec, rows, dense_rows[0], dense_scores[0])
        score = self._fuse(plan, weights, rows, bm25[rows], dense, mode)
        hits = self._select(plan, rows, score, dense, bm25[rows], k)
        return Retrieval(
            plan, hits, qvec, self.articles, weights, self.article_terms, self.sentence_vectors
        )

    # -- candidates and scores ------------------------------------------------------------------

    def _allowed(
        self, sources: Sequence[str] | None, since: str | None, until: str | None
    ) -> np.ndarray:
        ok = np.ones(len(self._ids), dtype=bool)
        if sources:
            wanted = {s.casefold() for s in sources}
            ok &= np.array([s.casefold() in wanted for s in self._article_source.tolist()])
        for bound, name in ((since, "since"), (until, "until")):
            if bound:
                day = _iso_day(bound, name)
                dated = self._article_date != ""
                ok &= dated & (
                    (self._article_date >= day) if name == "since" else (self._article_date <= day)
                )
        return ok[self._row_article]

    def _candidates(
        self,
        plan: QueryPlan,
        bm25: np.ndarray,
        dense_rows: np.ndarray,
        allowed: np.ndarray,
        mode: str,
    ) -> np.ndarray:
        masked = np.where(allowed, bm25, -1.0)
        pools = []
        if mode != "dense":
            pools.append(_top(masked, _CANDIDATES))
        if mode != "bm25":
            pools.append(np.array([r for r in dense_rows if r >= 0 and allowed[r]], dtype=np.int64))
        if mode == "hybrid":
            for outlet in plan.outlets:
                in_outlet = self._article_source[self._row_article] == outlet
                pools.append(_top(np.where(in_outlet & allowed, bm25, -1.0), _CANDIDATES // 3))
        rows = np.unique(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)
        return rows[allowed[rows]]

    def _dense(
        self, qvec: np.ndarray, rows: np.ndarray, found: np.ndarray, found_scores: np.ndarray
    ) -> np.ndarray:
        """Cosine of each row: from the vector search when it found the row, else computed."""
        order = np.argsort(found)
        found, found_scores = found[order], found_scores[order]
        at = np.minimum(np.searchsorted(found, rows), max(len(found) - 1, 0))
        known = (found[at] == rows) if len(found) else np.zeros(len(rows), dtype=bool)
        out = np.empty(len(rows), dtype=np.float32)
        out[known] = found_scores[at[known]]
        missing = rows[~known]
        if len(missing):
            out[~known] = self.generation.vectors.vectors_at(missing) @ qvec
        return out

    def _fuse(
        self,
        plan: QueryPlan,
        weights: dict[str, float],
        rows: np.ndarray,
        bm25: np.ndarray,
        dense: np.ndarray,
        mode: str,
    ) -> np.ndarray:
        if mode == "bm25":
            return bm25.astype(np.float32)
        if mode == "dense" or not len(rows):
            return dense
        score = _W_BM25 * bm25 / max(float(bm25.max()), 1e-9)
        median, top = float(np.median(dense)), float(dense.max())
        score += _W_DENSE * (dense - median) / max(top - median, 1e-6)
        sentence = self._sentence_scores(weights, rows)
        score += _W_SENTENCE * sentence / max(float(sentence.max()), 1e-9)
        articles = self._row_article[rows]
        if plan.outlets:
            score += _OUTLET_BOOST * np.isin(self._article_source[articles], plan.outlets)
        for date in plan.dates:
            days = self._article_date[articles]
            score += _DATE_BOOST * ((days >= date.first) & (days <= date.last) & (days != ""))
        return score.astype(np.float32)

    def _sentence_scores(self, idf: dict[str, float], rows: np.ndarray) -> np.ndarray:
        """Per chunk, the BM25 score of its best sentence (chunk-level IDF of the query terms)."""
        return self._sentences.best_sentence_scores(rows, idf)

    # -- selection ------------------------------------------------------------------------------

    def _select(
        self,
        plan: QueryPlan,
        rows: np.ndarray,
        score: np.ndarray,
        dense: np.ndarray,
        bm25: np.ndarray,
        k: int,
    ) -> list[Hit]:
        """Top ``k`` with at most one near-copy, spread over articles and the outlets named."""
        order = np.argsort(-score, kind="stable")[: max(k * 8, 50)]
        pool = [int(i) for i in order]
        chunks = {c.row: c for c in self.generation.chunks_at([int(rows[i]) for i in pool])}
        outlets = [
            o for o in plan.outlets if o in set(self._article_source[self._row_article[rows[pool]]])
        ]
        taken: list[int] = []
        per_article: Counter[int] = Counter()
        per_outlet: Counter[str] = Counter()
        seen_text: list[set[str]] = []
        while len(taken) < k and pool:
            # The best passage leads; after it, the named outlet with the fewest passages so far
            # gets the next slot, so a question about two outlets sees both early.
            lane = None
            if taken and len(outlets) >= 2:
                lane = min(outlets, key=lambda o: (per_outlet[o], outlets.index(o)))
            best, best_value = None, -np.inf
            for i in pool:
                article = int(self._row_article[rows[i]])
                if lane is not None and self._article_source[article] != lane:
                    continue
                value = score[i] - _SAME_ARTICLE_PENALTY * per_article[article]
                if value > best_value:
                    best, best_value = i, value
            if best is None:  # this outlet has nothing left: fall back to everyone
                outlets = [o for o in outlets if o != lane]
                continue
            pool.remove(best)
            words = set(chunks[int(rows[best])].text.lower().split())
            if any(len(words & w) > 0.8 * max(len(words), 1) for w in seen_text):
                continue  # a near-copy of a passage already taken
            seen_text.append(words)
            taken.append(best)
            article = int(self._row_article[rows[best]])
            per_article[article] += 1
            per_outlet[str(self._article_source[article])] += 1
        return [
            Hit(chunks[int(rows[i])], float(score[i]), float(dense[i]), float(bm25[i]))
            for i in taken
        ]


class _VectorCache:
    """Sentence vectors per chunk row within a byte budget, least recently used dropped first.

    A row is kept as one (sentences, dimension) array and one (sentences, 2) array of spans: no
    object per sentence, and no view that would keep alive the whole batch it was embedded in.
    """

    _ROW_OVERHEAD = 300  # bytes of the two array headers and the dictionary slot of a row

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held (arrays and an estimate of their per-row overhead)."""
        return self._bytes

    def get(self, rows: list[int]) -> SentenceVectors:
        """The cached entries among ``rows`` (marked as recently used)."""
        with self._lock:
            found = {r: self._rows[r] for r in dict.fromkeys(rows) if r in self._rows}
            for r in found:
                self._rows.move_to_end(r)
        return {r: _unpacked(*entry) for r, entry in found.items()}

    def put(self, entries: SentenceVectors) -> None:
        packed = {row: _packed(items) for row, items in entries.items()}
        with self._lock:
            for row, entry in packed.items():
                old = self._rows.pop(row, None)
                self._bytes += self._size(entry) - (self._size(old) if old else 0)
                self._rows[row] = entry
            while self._bytes > self._budget and len(self._rows) > 1:
                _, dropped = self._rows.popitem(last=False)
                self._bytes -= self._size(dropped)

    def _size(self, entry: tuple[np.ndarray, np.ndarray]) -> int:
        return entry[0].nbytes + entry[1].nbytes + self._ROW_OVERHEAD


def _packed(items: list[tuple[int, int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    spans = np.array([(a, b) for a, b, _ in items], dtype=np.int32).reshape(-1, 2)
    vectors = np.array([v for _, _, v in items], dtype=np.float32)
    return spans, vectors


def _unpacked(spans: np.ndarray, vectors: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    return [(a, b, vector) for (a, b), vector in zip(spans.tolist(), vectors)]


def _top(values: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(values))
    rows = np.argpartition(-values, n - 1)[:n] if n else np.zeros(0, dtype=np.int64)
    return rows[values[rows] > 0]


def _iso_day(value: str, name: str) -> str:
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a date; use YYYY-MM-DD") from None
