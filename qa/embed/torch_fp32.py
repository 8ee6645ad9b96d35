"""The torch backend: sentence-transformers fp32 on the CPU (the one encoder importing torch)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.embed.encoder import ModelInfo, Progress, encode_in_steps, finite
from qa.embed.model import load_sentence_transformer


class TorchEncoder:
    """all-MiniLM-L6-v2 (or another sentence-transformers model) in fp32."""

    def __init__(self, name: str, folder: Path, weights_sha: str, *, batch_size: int = 64):
        self._lock = threading.Lock()  # not safe for concurrent forward passes
        self.batch_size = batch_size
        self._model = load_sentence_transformer(folder)
        self._tokenizer = self._model.tokenizer
        self.special_tokens = len(self._tokenizer("", add_special_tokens=True)["input_ids"])
        self.info = ModelInfo(
            name=name,
            path=str(folder),
            weights_sha256=weights_sha,
            dimension=int(self._model.get_embedding_dimension()),
            max_tokens=int(self._model.max_seq_length),
            backend="torch",
        )

    def count_tokens(self, text: str) -> int:
        ids = self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)
        return len(ids["input_ids"])

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors for passages, in order; ``progress(done, total)``."""
        encode = lambda batch: self._encode(batch, query=False)  # noqa: E731
        return encode_in_steps(encode, texts, self.info.dimension, self.batch_size * 4, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors for questions."""
        return self._encode(list(texts), query=True)

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        with self._lock:
            encode = self._model.encode_query if query else self._model.encode_document
            vecs = encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return finite(np.asarray(vecs, dtype=np.float32), "torch")
