"""Term counts of every sentence of every chunk, for scoring a chunk by its best sentence.

Retrieval rewards a chunk whose single best sentence matches the question (BM25 over sentences).
Splitting and tokenizing the sentences of a few hundred candidate chunks per question cost tens
of milliseconds, so a build does it once for all chunks and saves the result with the generation
as a sparse sentence x term matrix of raw counts (CSR, plain numpy arrays, no pickle)::

    sentences/params.json   format, counts, and how sentences and terms were made
    sentences/vocab.json    the stemmed terms, in column order
    sentences/counts.npz    CSR arrays: indptr (per sentence), indices (term), data (count)
    sentences/layout.npz    offsets (first sentence of each chunk row), lengths (tokens)

Counts rather than BM25 weights are stored so that scoring works out each term weight in float64
exactly as a per-question computation would, and the scoring constants can change without a
rebuild. A question only reads the rows of its candidate chunks (a few hundred), so its cost does
not grow with the size of the index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from qa.config import SentenceBM25
from qa.text.sentences import sentence_spans
from qa.text.tokens import tokenize

FORMAT = 1  # bump when the files, sentence_spans or tokenize change: old rows are then not reused
_BM25 = SentenceBM25()
_BATCH = 2000  # chunks tokenized at a time while building (bounds the memory of token lists)


@dataclass(frozen=True)
class _Matrix:
    """The CSR arrays and chunk layout; row ``s`` of the matrix is sentence ``s``."""

    offsets: np.ndarray  # int64 [chunks + 1]: sentences of chunk row r are offsets[r]:offsets[r+1]
    lengths: np.ndarray  # uint16 [sentences]: tokens in the sentence, stop words left out
    indptr: np.ndarray  # int64 [sentences + 1]
    indices: np.ndarray  # int32 [nonzeros]: term id, ascending within a sentence
    data: np.ndarray  # uint16 [nonzeros]: count of the term in the sentence


class SentenceIndex:
    """Per-sentence term counts of the chunks of one generation; rows are chunk rows."""

    def __init__(self, terms: list[str], matrix: _Matrix) -> None:
        self._terms = terms
        self._term_id = {t: i for i, t in enumerate(terms)}
        self._m = matrix

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        previous: SentenceIndex | None = None,
        previous_rows: Sequence[int | None] = (),
        batch_size: int = _BATCH,
    ) -> SentenceIndex:
        """Split and tokenize every chunk text, in row order (the same way retrieval reads them).

        Args:
            texts: The text of chunk row 0, 1, 2, ...
            previous: The sentence index of the previous generation, to copy rows from.
            previous_rows: Per chunk row, its row in ``previous`` when the chunk's text is the
                same there (same chunk id), else None: such chunks are not split or tokenized
                again, which is most of an incremental build's work here.
            batch_size: Chunks tokenized at a time (bounds the memory of token lists).
        """
        if not previous_rows:  # (a loaded index is always of this FORMAT: load() checks it)
            previous = None
        term_id: dict[str, int] = {t: i for i, t in enumerate(previous._terms)} if previous else {}
        parts: list[tuple[np.ndarray, ...]] = []
        per_chunk: list[int] = []
        position = 0
        for batch in _batches(texts, batch_size):
            reused = [
                previous_rows[position + i] if previous is not None else None
                for i in range(len(batch))
            ]
            position += len(batch)
            counted, sentences = _batch_counts(previous, batch, reused, term_id)
            per_chunk.extend(sentences)
            parts.append(counted)
        parts = parts or [_count([], term_id)]
        lengths, sizes, indices, data = (np.concatenate(column) for column in zip(*parts))
        terms = list(term_id)
        if previous is not None:  # drop the terms only removed chunks held
            indices, terms = _compact(indices, terms)
        matrix = _Matrix(
            offsets=_starts(np.array(per_chunk, dtype=np.int64)),
            lengths=lengths,
            indptr=_starts(sizes),
            indices=indices,
            data=data,
        )
        return cls(terms, matrix)

    def _layout(self, rows: Sequence[int] | np.ndarray) -> tuple[np.ndarray, ...]:
        """(sentences per row, their sentence ids, terms per sentence, their entry positions)."""
        m = self._m
        rows = np.asarray(rows, dtype=np.int64)
        per_row = m.offsets[rows + 1] - m.offsets[rows]
        sentences = _ranges(m.offsets[rows], per_row)
        per_sentence = m.indptr[sentences + 1] - m.indptr[sentences]
        return per_row, sentences, per_sentence, _ranges(m.indptr[sentences], per_sentence)

    def _rows(self, rows: list[int]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """(lengths, sizes, indices, data) of the sentences of these chunk rows, in order."""
        m = self._m
        per_row, sentences, sizes, entries = self._layout(rows)
        return (m.lengths[sentences], sizes, m.indices[entries], m.data[entries]), per_row

    @property
    def settings(self) -> dict[str, object]:
        """How the index was made and its counts, for params.json and the manifest."""
        return {
            "format": FORMAT,
            "splitter": "qa.text.sentences.sentence_spans",
            "tokenizer": "qa.text.tokens.tokenize",
            "chunks": self.size,
            "sentences": len(self._m.lengths),
            "terms": len(self._terms),
            "nonzeros": len(self._m.indices),
        }

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        m = self._m
        (folder / "params.json").write_text(json.dumps(self.settings, indent=2), encoding="utf-8")
        (folder / "vocab.json").write_text(json.dumps(self._terms), encoding="utf-8")
        np.savez(folder / "counts.npz", indptr=m.indptr, indices=m.indices, data=m.data)
        np.savez(folder / "layout.npz", offsets=m.offsets, lengths=m.lengths)

    @classmethod
    def load(cls, folder: Path) -> SentenceIndex:
        """Read a saved index; raises ValueError when its files disagree with each other."""
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        if params.get("format") != FORMAT:
            raise ValueError(f"sentence index format {params.get('format')}, expected {FORMAT}")
        terms = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        with (
            np.load(folder / "counts.npz", allow_pickle=False) as counts,
            np.load(folder / "layout.npz", allow_pickle=False) as layout,
        ):
            matrix = _Matrix(
                offsets=layout["offsets"],
                lengths=layout["lengths"],
                indptr=counts["indptr"],
                indices=counts["indices"],
                data=counts["data"],
            )
        _check(matrix, len(terms), params)
        return cls(terms, matrix)

    @property
    def size(self) -> int:
        """Number of chunk rows."""
        return len(self._m.offsets) - 1

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held in memory (the vocabulary dictionary left out)."""
        m = self._m
        return sum(a.nbytes for a in (m.offsets, m.lengths, m.indptr, m.indices, m.data))

    def best_sentence_scores(self, rows: np.ndarray, weights: dict[str, float]) -> np.ndarray:
        """Per chunk row, the BM25 score of its best sentence for terms weighted by ``weights``.

        A sentence scores ``sum(w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)))`` over
        the weighted terms it contains, summed in the order of ``weights``; a chunk scores its
        best sentence, 0 when none holds a weighted term.

        Args:
            rows: Chunk rows.
            weights: Weight (IDF) of each stemmed query term.

        Returns:
            float32 scores, one per row.
        """
        out = np.zeros(len(rows), dtype=np.float32)
        known = [(self._term_id[t], w) for t, w in weights.items() if t in self._term_id]
        if not known or not len(rows):
            return out
        m = self._m
        per_row, sentences, per_sentence, entries = self._layout(rows)
        # rank of each stored term in the question, -1 for terms the question lacks
        rank = np.full(len(self._terms), -1, dtype=np.int32)
        rank[[tid for tid, _ in known]] = np.arange(len(known), dtype=np.int32)
        entry_rank = rank[m.indices[entries]]
        hits = np.flatnonzero(entry_rank >= 0)
        if not len(hits):
            return out
        # which of ``sentences`` each hit belongs to, then its terms in the question's order
        owner = np.searchsorted(np.cumsum(per_sentence) - per_sentence, hits, side="right") - 1
        order = np.lexsort((entry_rank[hits], owner))
        hits, owner = hits[order], owner[order]
        w = np.array([w for _, w in known], dtype=np.float64)[entry_rank[hits]]
        tf = m.data[entries[hits]].astype(np.float64)
        length = m.lengths[sentences[owner]].astype(np.float64)
        k1, b, avgdl = _BM25.k1, _BM25.b, _BM25.avgdl
        norm = k1 * (1 - b + b * length / avgdl)
        term_scores = w * tf * (k1 + 1) / (tf + norm)
        # bincount adds in input order: each sentence sums its terms in the question's order
        sentence_scores = np.bincount(owner, weights=term_scores, minlength=len(sentences))
        filled = per_row > 0
        starts = (np.cumsum(per_row) - per_row)[filled]
        out[filled] = np.maximum(np.maximum.reduceat(sentence_scores, starts), 0.0)
        return out


def _batch_counts(
    previous: SentenceIndex | None,
    batch: list[str],
    reused: list[int | None],
    term_id: dict[str, int],
) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """(lengths, sizes, indices, data) of a batch's sentences in chunk order, and sentences per
    chunk: chunks with a previous row are copied from ``previous``, the rest split and counted."""
    sentences: list[str] = []
    fresh: list[int] = []  # sentences per chunk tokenized here, in batch order
    for text, old in zip(batch, reused):
        if old is None:
            spans = sentence_spans(text)
            fresh.append(len(spans))
            sentences.extend(text[a:b] for a, b in spans)
    counted = _count(tokenize(sentences) if sentences else [], term_id)
    if previous is None or all(old is None for old in reused):
        return counted, fresh
    copied, copied_per_chunk = previous._rows([old for old in reused if old is not None])
    per_chunk = _interleave_counts(reused, fresh, copied_per_chunk)
    return _interleave(reused, counted, fresh, copied, copied_per_chunk), per_chunk


def _compact(indices: np.ndarray, terms: list[str]) -> tuple[np.ndarray, list[str]]:
    """Term ids renumbered without the terms no sentence uses (ascending order kept)."""
    used = np.unique(indices)
    if len(used) == len(terms):
        return indices, terms
    remap = np.zeros(len(terms), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    return remap[indices], [terms[i] for i in used.tolist()]


def _count(
    tokenized: list[list[str]], term_id: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lengths, distinct terms per sentence, term ids, counts) of tokenized sentences."""
    lengths = np.array([len(tokens) for tokens in tokenized], dtype=np.int64)
    if lengths.size and lengths.max() > np.iinfo(np.uint16).max:
        raise ValueError("a sentence has more than 65,535 tokens")
    ids = np.fromiter(
        (term_id.setdefault(t, len(term_id)) for tokens in tokenized for t in tokens),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    sentence = np.repeat(np.arange(len(tokenized), dtype=np.int64), lengths)
    pairs, counts = np.unique((sentence << 32) | ids, return_counts=True)
    sizes = np.bincount(pairs >> 32, minlength=len(tokenized))
    return (
        lengths.astype(np.uint16),
        sizes.astype(np.int64),
        (pairs & 0xFFFFFFFF).astype(np.int32),
        counts.astype(np.uint16),
    )


def _interleave_counts(reused: list[int | None], fresh: list[int], copied: np.ndarray) -> list[int]:
    """Sentences per chunk of a batch, taking each chunk's count from its own source."""
    fresh_it, copied_it = iter(fresh), iter(copied.tolist())
    return [next(fresh_it) if old is None else next(copied_it) for old in reused]


def _interleave(
    reused: list[int | None],
    counted: tuple[np.ndarray, ...],
    fresh: list[int],
    copied: tuple[np.ndarray, ...],
    copied_per_chunk: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The sentences of a batch in chunk order, from tokenized (fresh) and copied chunks."""
    per_chunk_source = np.array([old is None for old in reused])
    # each sentence's chunk position in the batch, fresh sentences first, then copied ones
    chunk_of = np.concatenate(
        (
            np.repeat(np.flatnonzero(per_chunk_source), np.asarray(fresh, dtype=np.int64)),
            np.repeat(np.flatnonzero(~per_chunk_source), copied_per_chunk),
        )
    )
    order = np.argsort(chunk_of, kind="stable")
    lengths = np.concatenate((counted[0], copied[0]))[order]
    sizes_all = np.concatenate((counted[1], copied[1]))
    entries = _ranges(_starts(sizes_all)[:-1][order], sizes_all[order])
    indices = np.concatenate((counted[2], copied[2]))[entries]
    data = np.concatenate((counted[3], copied[3]))[entries]
    return lengths, sizes_all[order], indices, data


def _starts(sizes: np.ndarray) -> np.ndarray:
    """[0, s0, s0 + s1, ...]: where each of the consecutive parts of these sizes starts."""
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _ranges(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(f, f + c)`` for each (f, c), without a Python loop."""
    total = int(count.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(count)
    step = np.ones(total, dtype=np.int64)
    filled = count > 0
    starts = (ends - count)[filled]
    # at the start of each range, jump from the end of the previous range to its first value
    previous_end = np.concatenate(([0], (first + count)[filled][:-1]))
    step[starts] = first[filled] - previous_end + 1
    step[0] = first[filled][0]
    return np.cumsum(step)


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _check(m: _Matrix, terms: int, params: dict) -> None:
    sentences = len(m.lengths)
    consistent = (
        params.get("chunks") == len(m.offsets) - 1
        and params.get("sentences") == sentences
        and len(m.indptr) == sentences + 1
        and len(m.indices) == len(m.data) == int(m.indptr[-1])
        and int(m.offsets[-1]) == sentences
        and (not len(m.indices) or 0 <= int(m.indices.min()) <= int(m.indices.max()) < terms)
    )
    if not consistent:
        raise ValueError("sentence index files disagree with each other")
