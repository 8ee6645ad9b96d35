"""BM25 over chunks (bm25s): English stop words and Snowball stemming; saved as plain files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.records import Article

# Shorter documents than BM25's defaults assume, with a title/outlet/date prefix on each: a low
# length penalty (b) and fast term saturation (k1) ranked best on the news benchmark.
BM25_PARAMS = {"k1": 0.9, "b": 0.4}
SETTINGS = {
    "engine": "bm25s",
    "stopwords": "en",
    "stemmer": "snowball-english",
    "fields": ["title", "source", "published", "text"],
    **BM25_PARAMS,
}

_NO_WORDS = "\x00"  # the tokenizer keeps only word characters, so no query holds this token
_LOCK = threading.Lock()
_STEMMER: Any = None


def _stemmer() -> Any:
    global _STEMMER
    with _LOCK:
        if _STEMMER is None:
            import Stemmer

            _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens, one list per text."""
    import bm25s

    out = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(tokens) for tokens in out]


def _date_words(iso: str | None) -> str:
    if not iso:
        return ""
    import datetime as dt

    day = dt.date.fromisoformat(iso)
    return f"{day:%B} {day.day} {day.year} {iso}"


def lexical_text(article: Article, text: str) -> str:
    """What BM25 sees for a chunk: the article's title, outlet and date, then the chunk text.

    News questions name outlets, dates and headlines; indexing them with every chunk lets a
    lexical match on them reach the chunks that hold the facts.
    """
    head = [article.title or "", article.source or "", _date_words(article.published)]
    return "\n".join([part for part in head if part] + [text])


class LexicalIndex:
    """A BM25 index whose rows are chunk rows of the store."""

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
        """BM25 inverse document frequency of each known token, from the chunk counts."""
        indptr = self._bm25.scores["indptr"]
        n = self.size
        out = {}
        for token in tokens:
            tid = self._bm25.vocab_dict.get(token)
            if tid is not None:
                df = int(indptr[tid + 1] - indptr[tid])
                out[token] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` (zeros when no query term is in the index)."""
        return self.scores_of(tokenize([query])[0])

    def scores_of(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for already tokenized query terms."""
        tokens = [t for t in tokens if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
