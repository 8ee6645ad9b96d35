"""Word tokens for lexical matching: lower-cased, English stop words dropped, Snowball stems.

The one tokenizer of the product: BM25, sentence term counts, term support and overlap all use
it, so a term in a question and in a passage always stem alike.
"""

from __future__ import annotations

import threading
from typing import Any

TOKENIZER = {"library": "bm25s", "stopwords": "en", "stemmer": "snowball-english"}

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
