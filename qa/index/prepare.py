"""What a build hands its writer: chunks (stored ones kept), vectors (cached ones kept), and
the text BM25 sees per chunk."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from qa.embed.cache import EmbeddingCache
from qa.embed.encoder import Encoder
from qa.index.base import IndexWriter, StoredArticle
from qa.ingest.chunking import Chunker
from qa.records import Article, Chunk
from qa.text.dates import date_words

# progress(stage, done, total); stages: "load", "chunk", "embed", "write", and "ray" (the
# number of Ray workers, when they are started).
BuildProgress = Callable[[str, int, int], None]

_EMBED_STEP = 512  # chunks embedded per cache commit: a killed build keeps what it embedded


def chunk_all(
    articles: tuple[Article, ...],
    old: dict[str, StoredArticle],
    make_chunker: Callable[[], Chunker],
    report: BuildProgress,
) -> list[Chunk]:
    """Chunks of every article; an article whose text is unchanged keeps its stored chunks.

    The chunker (langchain: seconds to import) is made only when an article needs it."""
    chunks: list[Chunk] = []
    chunker: Chunker | None = None
    for n, article in enumerate(articles, start=1):
        stored = old.get(article.id)
        if stored is not None and stored.meta["sha256"] == article.sha256 and stored.chunks:
            chunks.extend(
                Chunk(
                    id=cid,
                    article_id=article.id,
                    start=s,
                    end=e,
                    text=article.text[s:e],
                    text_hash=h,
                )
                for s, e, cid, h in stored.chunks
            )
        else:
            chunker = chunker or make_chunker()
            chunks.extend(chunker.chunk(article))
        if n % 25 == 0 or n == len(articles):
            report("chunk", n, len(articles))
    return chunks


def embed_chunks(
    writer: IndexWriter, encoder: Encoder, chunks: list[Chunk], report: BuildProgress
) -> tuple[np.ndarray, int, float]:
    """Vectors for all chunks, embedding only text the cache has not seen; (vectors, n, secs)."""
    info = encoder.info
    cache = EmbeddingCache(writer.cache_path(), info.cache_key, info.dimension)
    try:
        known = cache.get_many(c.text_hash for c in chunks)
        todo: dict[str, str] = {}
        for c in chunks:
            if c.text_hash not in known:
                todo.setdefault(c.text_hash, c.text)
        started = time.perf_counter()
        hashes, texts = list(todo), list(todo.values())
        report("embed", 0, len(texts))
        for begin in range(0, len(texts), _EMBED_STEP):
            part = slice(begin, begin + _EMBED_STEP)
            vecs = encoder.encode_documents(texts[part])
            cache.put_many(hashes[part], vecs)
            known.update(zip(hashes[part], vecs))
            report("embed", min(begin + _EMBED_STEP, len(texts)), len(texts))
        seconds = time.perf_counter() - started
    finally:
        cache.close()
    matrix = np.zeros((len(chunks), info.dimension), dtype=np.float32)
    for i, c in enumerate(chunks):
        matrix[i] = known[c.text_hash]
    return matrix, len(texts), seconds


def lexical_text(article: Article, text: str) -> str:
    """What BM25 sees for a chunk: the article's title, outlet and date, then the chunk text.

    News questions name outlets, dates and headlines; indexing them with every chunk lets a
    lexical match on them reach the chunks that hold the facts.
    """
    head = [article.title or "", article.source or "", date_words(article.published)]
    return "\n".join([part for part in head if part] + [text])


def lexical_texts_of(articles: tuple[Article, ...], chunks: list[Chunk]) -> list[str]:
    by_id = {a.id: a for a in articles}
    return [lexical_text(by_id[c.article_id], c.text) for c in chunks]
