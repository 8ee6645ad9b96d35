"""The OpenVINO int8 embedding backend's runtime (the export is qa/embed/int8_export.py).

The runtime loads without torch. Non-quantized ops stay fp32, so vectors do not depend on
whether the CPU has bf16 units.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.encoder import (
    ModelInfo,
    Progress,
    TokenVectors,
    encode_in_steps,
    finite,
    token_vectors,
)
from qa.embed.int8_export import (
    GRAPH_INPUTS,
    TOKENS_RECIPE,
    ensure_export,
    fast_tokenizer,
    feed_encoded,
)
from qa.embed.model import load_sentence_transformer
from qa.errors import ModelError

_OV_CONFIG = {
    "PERFORMANCE_HINT": "LATENCY",
    "INFERENCE_PRECISION_HINT": "f32",
    "ENABLE_CPU_PINNING": "NO",  # pinned threads stall when other processes share the cores
}


_SEQ_STEP = 32  # tokens; input lengths are rounded up to a multiple of this


class OpenVinoRuntime:
    """The exported int8 model on OpenVINO's CPU plugin, with the model's own fast tokenizer."""

    def __init__(self, folder: Path, export: Path) -> None:
        import openvino as ov

        meta = json.loads((export / "export.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length", 256))
        self.counter = fast_tokenizer(folder, None)
        self._tokenizer = fast_tokenizer(folder, self.max_tokens)
        config = dict(_OV_CONFIG)
        if os.environ.get("QA_EMBED_THREADS", "").isdigit():  # a Ray worker: its share of cores
            config["INFERENCE_NUM_THREADS"] = int(os.environ["QA_EMBED_THREADS"])
        if os.access(export, os.W_OK):  # OpenVINO keeps the compiled model: ~1 s off each start
            config["CACHE_DIR"] = str(export / "compiled")
        try:
            self._model = ov.Core().compile_model(str(export / "model.xml"), "CPU", config)
        except Exception as exc:
            raise ModelError(
                f"cannot load the exported model in {export}: {exc}; delete that folder to "
                "export it again"
            ) from exc
        self.dimension = int(self._model.output(0).get_partial_shape()[1].get_length())
        self.export_sha256 = str(meta["model_sha256"])

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for rows, _, outputs in self._batches(texts, batch_size):
            out[rows] = outputs[0]
        return out

    def encode_tokens(self, texts: list[str], batch_size: int) -> list[TokenVectors]:
        """Of the reader's export (two outputs): pooled and word-piece vectors per text."""
        out: list[TokenVectors | None] = [None] * len(texts)
        for rows, encodings, outputs in self._batches(texts, batch_size):
            pooled, hidden = finite(outputs[0], "openvino-int8"), outputs[1]
            for j, (i, enc) in enumerate(zip(rows.tolist(), encodings)):
                n, special = len(enc.ids), enc.special_tokens_mask
                out[i] = token_vectors(pooled[j], hidden[j, :n], enc.offsets, special)
        return out  # type: ignore[return-value]

    def _batches(
        self, texts: list[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, list[Any], list[np.ndarray]]]:
        """(rows of ``texts``, their encodings, the model's outputs) batch by batch."""
        # Longest first, so each batch pads little (as sentence-transformers does). Batches of
        # power-of-two sizes padded to a multiple of 32 tokens keep the input shapes few:
        # OpenVINO keeps buffers per shape seen, and arbitrary shapes grew a server past 3 GB.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        largest = 1 << (max(batch_size, 1).bit_length() - 1)
        begin = 0
        while begin < len(texts):
            size = min(largest, 1 << ((len(texts) - begin).bit_length() - 1))
            rows = order[begin : begin + size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            feed = feed_encoded(encodings, multiple=_SEQ_STEP)
            result = self._model([feed[name] for name in GRAPH_INPUTS])
            yield rows, encodings, [result[k] for k in range(len(self._model.outputs))]
            begin += size


class OpenVinoEncoder:
    """The Encoder of the int8 backend: exports the weights once, then runs without torch."""

    def __init__(
        self,
        name: str,
        folder: Path,
        weights_sha: str,
        *,
        batch_size: int = 64,
        cache_dir: str | Path | None = None,
    ) -> None:
        self._lock = threading.Lock()  # not safe for concurrent forward passes
        self.batch_size = batch_size
        self._folder, self._cache_dir = folder, cache_dir
        self._tokens: OpenVinoRuntime | None = None  # the reader's export, loaded on first use
        export = ensure_export(folder, weights_sha, load_sentence_transformer, cache_dir)
        self._runtime = OpenVinoRuntime(folder, export)
        self.special_tokens = len(self._runtime.counter.encode("", add_special_tokens=True).ids)
        self.info = ModelInfo(
            name=name,
            path=str(folder),
            weights_sha256=weights_sha,
            dimension=self._runtime.dimension,
            max_tokens=self._runtime.max_tokens,
            backend="openvino-int8",
            export_sha256=self._runtime.export_sha256,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._runtime.counter.encode(text, add_special_tokens=False).ids)

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors for passages, in order; ``progress(done, total)``."""
        return encode_in_steps(
            self._encode, texts, self.info.dimension, self.batch_size * 4, progress
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors for questions."""
        return self._encode(list(texts))

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Pooled and word-piece vectors, from the reader's export (made on first use)."""
        with self._lock:
            if self._tokens is None:
                export = ensure_export(
                    self._folder,
                    self.info.weights_sha256,
                    load_sentence_transformer,
                    self._cache_dir,
                    recipe=TOKENS_RECIPE,
                )
                self._tokens = OpenVinoRuntime(self._folder, export)
            return self._tokens.encode_tokens(list(texts), self.batch_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return finite(self._runtime.encode(texts, self.batch_size), "openvino-int8")
