"""The local engine: an index folder of immutable generations (SQLite, FAISS, bm25s, sentences)."""

from qa.index.local.reader import LocalIndex
from qa.index.local.writer import LocalWriter

__all__ = ["LocalIndex", "LocalWriter"]
