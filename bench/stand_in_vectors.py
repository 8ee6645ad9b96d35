"""Fill an index's embedding cache with stand-in vectors, so a large corpus indexes in minutes.

For behaviour comparisons at scale only (bench/compare_revisions.py on 200,000 chunks): on a
2-core machine without int8 dot-product instructions MiniLM embeds about 20 short chunks a
second, so a real 200k index takes hours. The stand-ins are deterministic unit vectors (a sum of
seeded random vectors of each chunk's words: similar texts get similar vectors) stored under the
real model's cache key, so `qa index` embeds nothing and builds everything else (HNSW, BM25,
sentence terms) as usual. Quality numbers of such an index mean nothing; equality does.

    .venv/bin/python bench/stand_in_vectors.py CORPUS INDEX
    .venv/bin/qa index CORPUS --index INDEX
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _word_vector(word: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("index")
    args = p.parse_args(argv)
    from qa.config import ChunkerSettings
    from qa.embed.cache import EmbeddingCache
    from qa.embed.encoder import open_encoder
    from qa.index.local.generation import cache_path
    from qa.ingest.chunking import Chunker
    from qa.ingest.corpus import load_corpus

    encoder = open_encoder()  # for the tokenizer and the cache key; it embeds nothing here
    info = encoder.info
    settings = ChunkerSettings(max_tokens=info.max_tokens, special_tokens=encoder.special_tokens)
    chunker = Chunker(encoder.count_tokens, settings)
    cache = EmbeddingCache(cache_path(args.index), info.cache_key, info.dimension)
    words: dict[str, np.ndarray] = {}
    batch_hashes: list[str] = []
    batch: list[np.ndarray] = []
    total = 0
    for article in load_corpus(args.corpus).articles:
        for chunk in chunker.chunk(article):
            vector = np.zeros(info.dimension, dtype=np.float32)
            for word in chunk.text.lower().split():
                if word not in words:
                    words[word] = _word_vector(word, info.dimension)
                vector += words[word]
            batch_hashes.append(chunk.text_hash)
            batch.append(vector / max(float(np.linalg.norm(vector)), 1e-9))
            if len(batch) == 5000:
                cache.put_many(batch_hashes, np.stack(batch))
                total += len(batch)
                batch_hashes, batch = [], []
                print(f"{total} chunks", file=sys.stderr, flush=True)
    if batch:
        cache.put_many(batch_hashes, np.stack(batch))
        total += len(batch)
    cache.close()
    print(f"{total} stand-in vectors in {cache_path(args.index)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
