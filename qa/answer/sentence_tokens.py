"""Per chunk: its quotable sentences' pooled and word-piece vectors and their text analysis.

What the trained reader reads. Computed at question time for the few chunks a question reads,
from the same forward pass that gives their pooled vectors, and kept by chunk id within a byte
budget (least recently used dropped first): at ~28 KB of word-piece vectors per sentence (fp16),
keeping them for a whole index would cost ~1.5 GB at 7k chunks (README, "How it answers").
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.analysis import SentenceText
from qa.embed.encoder import Encoder
from qa.index.base import StoredChunk
from qa.text.sentences import sentence_spans

# Python memory of one sentence's SentenceText (its sets of stems, names, words): 11.8 KB
# measured with tracemalloc over the quotable sentences of a seed article.
_TEXT_BYTES = 12_000


@dataclass(frozen=True)
class ChunkSentences:
    """The quotable sentences of one chunk, packed: sentence i owns token rows of ``sizes[i]``."""

    spans: np.ndarray  # (sentences, 2) int32 offsets in the chunk text
    pooled: np.ndarray  # (sentences, dimension) float32
    tokens: np.ndarray  # (pieces, dimension) float16, unit rows
    sizes: np.ndarray  # (sentences,) int64 pieces per sentence
    texts: tuple[SentenceText, ...]

    @property
    def nbytes(self) -> int:
        arrays = (self.spans, self.pooled, self.tokens, self.sizes)
        return sum(a.nbytes for a in arrays) + _TEXT_BYTES * len(self.texts) + 300

    def token_rows(self) -> list[np.ndarray]:
        """Each sentence's word-piece vectors (views into ``tokens``)."""
        ends = np.cumsum(self.sizes)
        return [self.tokens[e - n : e] for n, e in zip(self.sizes.tolist(), ends.tolist())]


class SentenceTokenCache:
    """``of(chunks)``: their ``ChunkSentences``, encoding the chunks not seen yet in one call."""

    def __init__(
        self,
        encoder: Encoder,
        analyse: Callable[[str], SentenceText],
        budget: int,
        min_words: int,
    ) -> None:
        self._encoder = encoder
        self._analyse = analyse
        self._budget = budget
        self._min_words = min_words
        self._rows: OrderedDict[str, ChunkSentences] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held (arrays and an estimate of the per-sentence objects)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._rows)

    def of(self, chunks: Sequence[StoredChunk]) -> dict[str, ChunkSentences]:
        with self._lock:
            found = {c.id: self._rows[c.id] for c in chunks if c.id in self._rows}
            for cid in found:
                self._rows.move_to_end(cid)
        missing = [c for c in {c.id: c for c in chunks}.values() if c.id not in found]
        if missing:
            new = self._encode(missing)
            self._put(new)
            found.update(new)
        return {c.id: found[c.id] for c in chunks}

    def _encode(self, chunks: list[StoredChunk]) -> dict[str, ChunkSentences]:
        spans = {
            c.id: [
                (a, b)
                for a, b in sentence_spans(c.text)
                if len(c.text[a:b].split()) >= self._min_words
            ]
            for c in chunks
        }
        texts = [c.text[a:b] for c in chunks for a, b in spans[c.id]]
        vectors = self._encoder.encode_tokens(texts) if texts else []
        out, at = {}, 0
        dim = self._encoder.info.dimension
        for c in chunks:
            mine = vectors[at : at + len(spans[c.id])]
            out[c.id] = ChunkSentences(
                spans=np.array(spans[c.id], dtype=np.int32).reshape(-1, 2),
                pooled=np.array([v.pooled for v in mine], dtype=np.float32).reshape(-1, dim),
                tokens=np.concatenate([v.tokens for v in mine] or [np.zeros((0, dim))]).astype(
                    np.float16
                ),
                sizes=np.array([len(v.tokens) for v in mine], dtype=np.int64),
                texts=tuple(self._analyse(t) for t in texts[at : at + len(mine)]),
            )
            at += len(mine)
        return out

    def _put(self, entries: dict[str, ChunkSentences]) -> None:
        with self._lock:
            for cid, entry in entries.items():
                old = self._rows.pop(cid, None)
                self._bytes += entry.nbytes - (old.nbytes if old else 0)
                self._rows[cid] = entry
            while self._bytes > self._budget and len(self._rows) > 1:
                _, dropped = self._rows.popitem(last=False)
                self._bytes -= dropped.nbytes


_SHARED: weakref.WeakKeyDictionary[Encoder, dict[tuple, SentenceTokenCache]] = (
    weakref.WeakKeyDictionary()
)
_SHARED_LOCK = threading.Lock()


def shared_cache(
    encoder: Encoder,
    weights_sha256: str,
    analyse: Callable[[str], SentenceText],
    budget: int,
    min_words: int,
) -> SentenceTokenCache:
    """The one cache of ``encoder`` for scorers of these weights: the trained reader and the
    sentence reranker read the same sentences, so a question's passages are encoded once."""
    key = (weights_sha256, budget, min_words)
    with _SHARED_LOCK:
        caches = _SHARED.setdefault(encoder, {})
        if key not in caches:
            caches[key] = SentenceTokenCache(encoder, analyse, budget, min_words)
        return caches[key]
