"""The torch backend: sentence-transformers fp32 on the CPU (the one encoder importing torch)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.embed.encoder import (
    ModelInfo,
    Progress,
    TokenVectors,
    encode_in_steps,
    finite,
    token_vectors,
)
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

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Pooled (mean of the word pieces, unit length) and word-piece vectors of each text."""
        import torch

        texts = list(texts)
        out: list[TokenVectors | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        transformer = self._model[0].auto_model
        with self._lock, torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                rows = order[begin : begin + self.batch_size]
                feed = self._tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.info.max_tokens,
                    return_offsets_mapping=True,
                    return_special_tokens_mask=True,
                    return_tensors="pt",
                )
                offsets = feed.pop("offset_mapping").numpy()
                special = feed.pop("special_tokens_mask").numpy()
                hidden = transformer(**feed).last_hidden_state
                mask = feed["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
                pooled = finite(pooled.numpy(), "torch")
                hidden, lengths = hidden.numpy(), feed["attention_mask"].sum(1).tolist()
                for j, i in enumerate(rows):
                    n = lengths[j]
                    out[i] = token_vectors(pooled[j], hidden[j, :n], offsets[j, :n], special[j, :n])
        return out  # type: ignore[return-value]

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
