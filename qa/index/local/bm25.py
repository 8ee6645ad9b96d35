"""BM25 over chunks from per-segment term counts, scored at query time with global statistics.

Each segment saves the raw term counts of its chunks (a term x chunk CSC matrix of counts and
each chunk's token count) instead of precomputed BM25 weights, so that adding a segment never
rewrites the others: document frequencies, the number of chunks and the average length are
summed over the live (not deleted) chunks of every segment when a generation is opened, and a
query weighs each posting then. The formula and its float arithmetic are bm25s' "lucene" method
(what the index used before segments, k1/b from ``qa.config.BM25_PARAMS``)::

    idf(t)  = float32(log(1 + (N - df + 0.5) / (df + 0.5)))
    w(t, d) = float32(idf(t) * tf / (tf + k1 * (1 - b + b * len(d) / avgdl)))   (float64 inside)
    score(d) = float32 sum of w(t, d) over the query terms, in query order

so one index split into segments scores exactly as the same chunks in one segment (each posting's
weight depends only on global numbers), and as bm25s did (tests/test_segments.py checks both).

    bm25/params.json   format and counts
    bm25/vocab.json    the stemmed terms, in column order
    bm25/counts.npz    indptr (per term), rows (chunk row, ascending per term), tf, lengths
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import BM25_PARAMS
from qa.text.tokens import tokenize

FORMAT = 1
_K1, _B = float(BM25_PARAMS["k1"]), float(BM25_PARAMS["b"])
_BATCH = 5000  # texts tokenized at a time while building
# Posting weights kept per generation for the terms asked most recently: 32 MB, what bm25s held
# for every term at 200,000 chunks before segments (8.3M postings x float32). A kept term costs
# one scatter-add of its postings instead of five array passes (bench/compare_revisions.py).
WEIGHT_CACHE_BYTES = 32 * 2**20
_DF_TERMS = 100_000  # document frequencies kept (a few MB), emptied when full


class TermCounts:
    """The term counts of one segment's chunks; rows are the segment's chunk rows."""

    def __init__(
        self,
        terms: list[str],
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.terms = terms
        self.term_id = {t: i for i, t in enumerate(terms)}
        self.indptr, self.rows, self.tf, self.lengths = indptr, rows, tf, lengths

    @classmethod
    def build(cls, texts: Sequence[str]) -> TermCounts:
        """Tokenize ``texts`` (chunk row 0, 1, ...) the way queries are tokenized, and count."""
        term_id: dict[str, int] = {}
        ids_parts, doc_parts, lengths = [], [], []
        for begin in range(0, len(texts), _BATCH):
            tokens = tokenize(list(texts[begin : begin + _BATCH]))
            lens = [len(t) for t in tokens]
            lengths.extend(lens)
            ids_parts.append(
                np.fromiter(
                    (term_id.setdefault(w, len(term_id)) for doc in tokens for w in doc),
                    dtype=np.int64,
                    count=sum(lens),
                )
            )
            doc_parts.append(np.repeat(np.arange(begin, begin + len(tokens), dtype=np.int64), lens))
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
        docs = np.concatenate(doc_parts) if doc_parts else np.zeros(0, dtype=np.int64)
        return cls.from_pairs(list(term_id), ids, docs, np.array(lengths, dtype=np.int32))

    @classmethod
    def from_pairs(
        cls,
        terms: list[str],
        term_ids: np.ndarray,
        rows: np.ndarray,
        lengths: np.ndarray,
        counts: np.ndarray | None = None,
    ) -> TermCounts:
        """From (term, row) occurrences (``counts`` of each, 1 when None), in any order."""
        key = (term_ids.astype(np.int64) << 32) | rows.astype(np.int64)
        if counts is None:
            pairs, tf = np.unique(key, return_counts=True)
        else:
            order = np.argsort(key, kind="stable")
            pairs, tf = key[order], counts[order]
        terms_of = pairs >> 32
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms_of, minlength=len(terms)), out=indptr[1:])
        if tf.size and tf.max() > np.iinfo(np.uint16).max:
            raise ValueError("a term occurs more than 65,535 times in one chunk")
        return cls(
            terms,
            indptr,
            (pairs & 0xFFFFFFFF).astype(np.int32),
            tf.astype(np.uint16),
            lengths.astype(np.int32),
        )

    @classmethod
    def concat(cls, parts: Sequence[tuple[TermCounts, np.ndarray]]) -> TermCounts:
        """One TermCounts of the given rows of several (a merge): rows renumbered in order."""
        term_id: dict[str, int] = {}
        ids, rows, tf, lengths = [], [], [], []
        offset = 0
        for counts, keep in parts:
            keep = np.asarray(keep, dtype=np.int64)
            new_row = np.full(counts.size, -1, dtype=np.int64)
            new_row[keep] = np.arange(offset, offset + len(keep))
            remap = np.array([term_id.setdefault(t, len(term_id)) for t in counts.terms], np.int64)
            term_of = np.repeat(np.arange(len(counts.terms)), np.diff(counts.indptr))
            alive = new_row[counts.rows] >= 0
            ids.append(remap[term_of[alive]] if len(remap) else term_of[alive])
            rows.append(new_row[counts.rows[alive]])
            tf.append(counts.tf[alive])
            lengths.append(counts.lengths[keep])
            offset += len(keep)
        used = np.unique(np.concatenate(ids)) if ids else np.zeros(0, dtype=np.int64)
        all_terms = list(term_id)
        remap = np.zeros(len(all_terms), dtype=np.int64)
        remap[used] = np.arange(len(used))
        joined = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        return cls.from_pairs(
            [all_terms[i] for i in used.tolist()],
            remap[joined] if len(joined) else joined,
            np.concatenate(rows) if rows else joined,
            np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32),
            np.concatenate(tf) if tf else np.zeros(0, dtype=np.uint16),
        )

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.indptr, self.rows, self.tf, self.lengths))

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, counts) of the chunks holding ``term`` (empty when unknown)."""
        tid = self.term_id.get(term)
        if tid is None:
            return self.rows[:0], self.tf[:0]
        start, end = self.indptr[tid], self.indptr[tid + 1]
        return self.rows[start:end], self.tf[start:end]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        params = {"format": FORMAT, "chunks": self.size, "terms": len(self.terms)}
        params["postings"] = len(self.rows)
        (folder / "params.json").write_text(json.dumps(params), encoding="utf-8")
        (folder / "vocab.json").write_text(json.dumps(self.terms), encoding="utf-8")
        np.savez(
            folder / "counts.npz",
            indptr=self.indptr,
            rows=self.rows,
            tf=self.tf,
            lengths=self.lengths,
        )

    @classmethod
    def load(cls, folder: Path) -> TermCounts:
        """Read saved counts; ValueError when the files disagree with each other."""
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        if params.get("format") != FORMAT:
            raise ValueError(f"term counts format {params.get('format')}, expected {FORMAT}")
        terms = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        with np.load(folder / "counts.npz", allow_pickle=False) as z:
            out = cls(terms, z["indptr"], z["rows"], z["tf"], z["lengths"])
        consistent = (
            len(out.indptr) == len(terms) + 1
            and params.get("chunks") == out.size
            and len(out.rows) == len(out.tf) == int(out.indptr[-1]) == params.get("postings")
            and (not len(out.rows) or 0 <= int(out.rows.min()) <= int(out.rows.max()) < out.size)
        )
        if not consistent:
            raise ValueError("term count files disagree with each other")
        return out


class LexicalIndex:
    """BM25 over the live chunks of several segments, in one global row space.

    Args:
        parts: Per segment, its counts, its first global row and its live-row mask (None when
            nothing in it is deleted).
    """

    def __init__(self, parts: Sequence[tuple[TermCounts, int, np.ndarray | None]]) -> None:
        self._parts = list(parts)
        self.size = sum(c.size for c, _, _ in self._parts)
        self.live = sum(int(c.size if m is None else m.sum()) for c, _, m in self._parts)
        total = sum(
            int(c.lengths.sum() if m is None else c.lengths[m].sum()) for c, _, m in self._parts
        )
        # as bm25s: np.mean of the lengths (an exact integer sum, then one division)
        self._avgdl = np.float64(total) / self.live if self.live else np.float64(1.0)
        self._norms: list[np.ndarray | None] = [None] * len(self._parts)
        self._dfs: dict[str, int] = {}
        self._weights = _Weights(WEIGHT_CACHE_BYTES)

    def _df(self, term: str) -> int:
        """Live chunks holding ``term`` (kept: ``idf`` and ``scores_of`` ask for the same terms)."""
        df = self._dfs.get(term)
        if df is None:
            df = 0
            for counts, _, mask in self._parts:
                rows, _ = counts.postings(term)
                df += len(rows) if mask is None else int(mask[rows].sum())
            if len(self._dfs) >= _DF_TERMS:  # any text can be asked: bound what is kept
                self._dfs.clear()
            self._dfs[term] = df
        return df

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each token some live chunk holds."""
        out = {}
        for token in tokens:
            df = self._df(token)
            if df:
                out[token] = float(np.log(1.0 + (self.live - df + 0.5) / (df + 0.5)))
        return out

    def _norm(self, i: int) -> np.ndarray:
        """Per row of segment ``i``: k1 * (1 - b + b * len / avgdl), in float64 as bm25s."""
        if self._norms[i] is None:
            lengths = self._parts[i][0].lengths.astype(np.float64)
            self._norms[i] = _K1 * (1 - _B + _B * lengths / self._avgdl)
        return self._norms[i]

    def scores_of(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every global row (0 for deleted rows) for tokenized query terms."""
        out = np.zeros(self.size, dtype=np.float32)
        for token in tokens:
            for rows, weight in self._postings(token):
                np.add.at(out, rows, weight)  # rows are unique per term; add.at is faster
        return out

    def _postings(self, token: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per segment: the global rows of the live chunks holding ``token`` and the float32
        BM25 weight of each (empty for a term no live chunk holds); recent terms are kept."""
        found = self._weights.get(token)
        if found is not None:
            return found
        parts = []
        df = self._df(token)
        if df:
            idf = np.float32(math.log(1 + (self.live - df + 0.5) / (df + 0.5)))
            for i, (counts, first, mask) in enumerate(self._parts):
                rows, tf = counts.postings(token)
                if mask is not None:
                    keep = mask[rows]
                    rows, tf = rows[keep], tf[keep]
                if not len(rows):
                    continue
                tf32 = tf.astype(np.float32)
                weight = (idf * (tf32 / (tf32 + self._norm(i)[rows]))).astype(np.float32)
                parts.append((rows.astype(np.int64) + first if first else rows, weight))
        found = tuple(parts)
        self._weights.put(token, found)
        return found


class _Weights:
    """Posting weights of recently asked terms within a byte budget, least recent dropped
    first (they depend only on the generation's counts, so keeping them never changes a score)."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._items: OrderedDict[str, tuple[tuple[np.ndarray, np.ndarray], ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, term: str) -> tuple[tuple[np.ndarray, np.ndarray], ...] | None:
        with self._lock:
            found = self._items.get(term)
            if found is not None:
                self._items.move_to_end(term)
            return found

    def put(self, term: str, parts: tuple[tuple[np.ndarray, np.ndarray], ...]) -> None:
        size = _size(parts)
        if size > self._budget:
            return
        with self._lock:
            if term in self._items:
                return
            self._items[term] = parts
            self._bytes += size
            while self._bytes > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= _size(dropped)


def _size(parts: tuple[tuple[np.ndarray, np.ndarray], ...]) -> int:
    """Bytes held by kept postings (rows that are views of the term counts cost nothing)."""
    return 100 + sum(w.nbytes + (r.nbytes if r.flags.owndata else 0) for r, w in parts)
