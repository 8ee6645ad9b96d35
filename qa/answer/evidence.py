"""What a reader reads beyond the passages: the words of their articles, sentence vectors.

Both are cached: an article's stemmed words by index version and article id, a chunk's sentence
vectors by chunk id (a chunk id hashes the article id and the chunk text, so the same id means
the same sentences in every version).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from qa.embed.encoder import Encoder
from qa.index.base import IndexReader, StoredChunk
from qa.memo import Memo
from qa.text.sentences import sentence_spans
from qa.text.tokens import comparable, tokenize

# Articles whose words are kept: a question reads up to 8 (its passages' articles), so 2,048
# cover the last few hundred questions.
ARTICLE_TERMS_KEPT = 2048
SentenceVectors = dict[str, list[tuple[int, int, np.ndarray]]]


class Terms:
    """Stems, also matching words that share five letters ("Kurdish", "Kurdistan")."""

    def __init__(self, stems: set[str] | frozenset[str]) -> None:
        self.stems = stems
        self.prefixes = {s[:5] for s in stems if len(s) >= 5}

    def __contains__(self, stem: str) -> bool:
        return stem in self.stems or (len(stem) >= 5 and stem[:5] in self.prefixes)


class ArticleTerms:
    """The stemmed words of whole articles (title and text), read ``comparable``, and the
    initials of their names ("US" for "the United States", "PMF" for "Popular Mobilization
    Forces"), least recently used dropped."""

    def __init__(self, kept: int = ARTICLE_TERMS_KEPT) -> None:
        self._items: Memo[frozenset[str]] = Memo(kept)

    def of(self, index: IndexReader, article_id: str) -> frozenset[str]:
        def make() -> frozenset[str]:
            article = index.article(article_id)
            text = f"{article.title or ''}\n{article.text}" if article else ""
            if not text:
                return frozenset()
            text = comparable(text)
            return frozenset(tokenize([text])[0]) | initials(text)

        return self._items.get((index.catalog().name, article_id), make)


# A run of capitalised words, "of", "and", "the", "for" between them ("Islamic State of Iraq
# and Syria"); its initials are those of the capitalised words.
_NAME_RUN = re.compile(r"\b[A-Z][\w'’\-]*(?:\s+(?:(?:of|and|the|for|&)\s+)*[A-Z][\w'’\-]*)+")
_INITIALS_MOST = 6  # words of a run whose initials are taken


def initials(text: str) -> frozenset[str]:
    """Lower-cased initials of each stretch of two to ``_INITIALS_MOST`` capitalised words of
    ``text`` ("the United States" -> "us", "Iraqi Popular Mobilization Forces" -> "ipmf",
    "pmf", ...), the acronyms a question may use for them."""
    out: set[str] = set()
    for run in _NAME_RUN.finditer(text):
        letters = [w[0].lower() for w in run.group().split() if w[:1].isupper()]
        for a in range(len(letters)):
            for b in range(a + 2, min(a + _INITIALS_MOST, len(letters)) + 1):
                out.add("".join(letters[a:b]))
    return frozenset(out)


class SentenceVectorCache:
    """Per chunk id: (start, end) in the chunk and the vector of each quotable sentence.

    Sentences are embedded on first sight and kept within a byte budget, least recently used
    dropped first. A chunk is kept as one (sentences, dimension) array and one (sentences, 2)
    array of spans: no object per sentence, and no view that would keep alive the whole batch it
    was embedded in.
    """

    _ROW_OVERHEAD = 300  # bytes of the two array headers and the dictionary slot of a chunk

    def __init__(self, encoder: Encoder, budget: int, min_words: int) -> None:
        self._encoder = encoder
        self._budget = budget
        self._min_words = min_words
        self._rows: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held (arrays and an estimate of their per-chunk overhead)."""
        return self._bytes

    def of(self, chunks: Sequence[StoredChunk]) -> SentenceVectors:
        """The sentence vectors of ``chunks``, embedding those not seen yet."""
        found = self._get([c.id for c in chunks])
        missing = [c for c in {c.id: c for c in chunks}.values() if c.id not in found]
        if missing:
            spans = [
                (c.id, a, b, c.text[a:b])
                for c in missing
                for a, b in sentence_spans(c.text)
                if len(c.text[a:b].split()) >= self._min_words
            ]
            vectors = self._encoder.encode_queries([s[3] for s in spans]) if spans else []
            new: SentenceVectors = {c.id: [] for c in missing}
            for (cid, a, b, _), vector in zip(spans, vectors):
                new[cid].append((a, b, vector))
            self._put(new)
            found.update(new)
        return {c.id: found[c.id] for c in chunks}

    def _get(self, ids: list[str]) -> SentenceVectors:
        with self._lock:
            found = {i: self._rows[i] for i in dict.fromkeys(ids) if i in self._rows}
            for i in found:
                self._rows.move_to_end(i)
        return {i: _unpacked(*entry) for i, entry in found.items()}

    def _put(self, entries: SentenceVectors) -> None:
        packed = {cid: _packed(items) for cid, items in entries.items()}
        with self._lock:
            for cid, entry in packed.items():
                old = self._rows.pop(cid, None)
                self._bytes += self._size(entry) - (self._size(old) if old else 0)
                self._rows[cid] = entry
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
