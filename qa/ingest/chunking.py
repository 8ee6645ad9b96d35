"""Chunking articles into token-bounded spans with exact character offsets.

Sizes are counted with the embedding model's own tokenizer, so no chunk is ever truncated by the
model: ``tokens(chunk) + special tokens <= max_tokens`` holds for every chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from qa.config import ChunkerSettings
from qa.records import Article, Chunk

# Paragraphs first, then lines, sentences, clauses, words; separators stay with the left piece.
SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", "")

TokenCounter = Callable[[str], int]


def chunk_id(article_id: str, text_hash: str, occurrence: int = 0) -> str:
    """Stable id from the article id and the chunk's text hash."""
    key = f"{article_id}\x00{text_hash}\x00{occurrence}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def load_splitter() -> None:
    """Import langchain's splitter now (about 0.5-1 s): ``Chunker`` imports it on first use."""
    import langchain_text_splitters  # noqa: F401


class Chunker:
    """Cuts articles with langchain's recursive splitter, sized by the model's tokenizer."""

    def __init__(self, count_tokens: TokenCounter, settings: ChunkerSettings | None = None) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.settings = settings or ChunkerSettings()
        self._count = count_tokens
        self._splitter = RecursiveCharacterTextSplitter(
            separators=list(SEPARATORS),
            keep_separator="end",
            chunk_size=self.settings.budget,
            chunk_overlap=self.settings.overlap_tokens,
            length_function=count_tokens,
            strip_whitespace=True,
        )

    def chunk(self, article: Article) -> list[Chunk]:
        """Chunks of one article, in order, each with exact offsets into ``article.text``."""
        text = article.text
        spans: list[tuple[int, int]] = []
        cursor = 0
        for piece in self._splitter.split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # the splitter only ever returns substrings; fall back to a scan
                start = text.find(piece)
            if start < 0:
                raise RuntimeError(f"chunk not found in article {article.id!r}")
            spans.extend(self._bounded(text, start, start + len(piece)))
            cursor = start + 1
        return self._records(article, spans)

    def _bounded(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Re-split a span over the budget (the splitter sums lengths) or over ``max_chars``."""
        fits = end - start <= self.settings.max_chars
        if fits and self._count(text[start:end]) <= self.settings.budget:
            return [(start, end)]
        cut = text.rfind(" ", start + 1, (start + end) // 2 + 1)
        cut = cut + 1 if cut > start else (start + end) // 2
        left_end = len(text[start:cut].rstrip()) + start
        right_start = cut + (len(text[cut:end]) - len(text[cut:end].lstrip()))
        return self._bounded(text, start, left_end) + self._bounded(text, right_start, end)

    def _records(self, article: Article, spans: list[tuple[int, int]]) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        for start, end in spans:
            piece = article.text[start:end]
            if not piece.strip():
                continue
            text_hash = hashlib.sha256(piece.encode("utf-8")).hexdigest()
            occurrence = seen.get(text_hash, 0)
            seen[text_hash] = occurrence + 1
            chunks.append(
                Chunk(
                    id=chunk_id(article.id, text_hash, occurrence),
                    article_id=article.id,
                    start=start,
                    end=end,
                    text=piece,
                    text_hash=text_hash,
                )
            )
        return chunks
