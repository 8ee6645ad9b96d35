"""Word tokens for lexical matching: lower-cased, English stop words dropped, Snowball stems.

The one tokenizer of the product: BM25, sentence term counts, term support and overlap all use
it, so a term in a question and in a passage always stem alike.
"""

from __future__ import annotations

import re
import threading
import unicodedata
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


_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")


def comparable(text: str) -> str:
    """``text`` as the checks that compare a question's words with an article's at question
    time read it: accents folded ("Möngke" -> "Mongke") and dotted acronyms joined ("U.S." ->
    "US", which the tokenizer would otherwise drop as single letters). The BM25 index keeps the
    words as written (the dense leg, whose word pieces drop accents, finds them)."""
    return _DOTTED.sub(lambda m: m.group().replace(".", ""), fold_accents(text))


def fold_accents(text: str) -> str:
    """``text`` without diacritics ("Möngke" -> "Mongke", "Erdoğan" -> "Erdogan"): a name typed
    without its accents is the same name."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
