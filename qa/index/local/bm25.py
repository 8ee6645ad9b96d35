"""BM25 over chunks (bm25s), saved as plain files; the one module that knows bm25s' internals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qa.config import BM25_PARAMS
from qa.text.tokens import tokenize

_NO_WORDS = "\x00"  # the tokenizer keeps only word characters, so no query holds this token


class LexicalIndex:
    """A BM25 index whose rows are chunk rows of the generation."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        tokens = tokenize(texts)
        if texts and not any(tokens):
            # Not one word BM25 can index (emoji or symbols only): bm25s cannot build an empty
            # vocabulary, so every row gets one placeholder that no query can produce.
            tokens = [[_NO_WORDS] for _ in texts]
        bm25 = bm25s.BM25(**BM25_PARAMS)
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), corpus=None, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), load_corpus=False, allow_pickle=False))

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each known token, from the chunk counts.

        bm25s has no public document-frequency API, so this reads its CSR score matrix: a
        term's column holds one entry per chunk that contains it.
        """
        indptr = self._bm25.scores["indptr"]
        n = self.size
        out = {}
        for token in tokens:
            tid = self._bm25.vocab_dict.get(token)
            if tid is not None:
                df = int(indptr[tid + 1] - indptr[tid])
                out[token] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def scores_of(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for already tokenized query terms."""
        tokens = [t for t in tokens if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
