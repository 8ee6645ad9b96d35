"""The Encoder protocol, the record of the model behind an index, and the backend factory.

Two backends (``qa.config.BACKENDS``): "torch" (sentence-transformers fp32, qa.embed.torch_fp32)
and "openvino-int8" (static int8: qa.embed.int8_export makes it once, qa.embed.openvino_int8 runs
it). Each is imported only when chosen, so `qa --help` and a query process on int8 never import
torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import BACKENDS, DEFAULT_BACKEND
from qa.embed.model import model_identity
from qa.errors import ModelError

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModelInfo:
    """What the index records about the model that made its vectors."""

    name: str
    path: str
    weights_sha256: str
    dimension: int
    max_tokens: int
    backend: str
    export_sha256: str = ""  # the exported int8 model, for backends other than torch

    @property
    def cache_key(self) -> str:
        """Vectors are cached per weights, backend and exported model, so they never mix."""
        key = f"{self.weights_sha256[:16]}:{self.backend}"
        return f"{key}:{self.export_sha256[:12]}" if self.export_sha256 else key

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def manifest_section(self) -> dict[str, Any]:
        """What an index's manifest records of this model (the "model" section)."""
        return {
            "name": self.name,
            "weights_sha256": self.weights_sha256,
            "backend": self.backend,
            "export_sha256": self.export_sha256,  # the int8 model file; "" for torch
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
        }


@dataclass(frozen=True)
class TokenVectors:
    """One text's vectors from one forward pass: pooled, and one per word piece.

    What the trained reader compares word by word (each question word's best match among a
    sentence's word pieces). Special tokens ([CLS], [SEP]) are left out.
    """

    pooled: np.ndarray  # (dimension,) float32, unit length
    tokens: np.ndarray  # (pieces, dimension) float32, unit rows
    offsets: np.ndarray  # (pieces, 2) int32: each piece's character span in the text


def token_vectors(
    pooled: np.ndarray, hidden: np.ndarray, offsets: np.ndarray, special: np.ndarray
) -> TokenVectors:
    """A ``TokenVectors`` from one text's rows of a forward pass (padding already cut off)."""
    keep = ~np.asarray(special, dtype=bool)
    rows = np.asarray(hidden, dtype=np.float32)[keep]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return TokenVectors(
        pooled=np.asarray(pooled, dtype=np.float32),
        tokens=rows / np.maximum(norms, 1e-12),
        offsets=np.asarray(offsets, dtype=np.int32).reshape(-1, 2)[keep],
    )


class Encoder(Protocol):
    """A loaded embedding model: token counting and unit-length float32 embeddings."""

    info: ModelInfo
    special_tokens: int  # added around every text ([CLS], [SEP])

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, special tokens excluded, never truncated."""
        ...

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Pooled and per-word-piece vectors of each text, from one forward pass each."""
        ...


def finite(vectors: np.ndarray, backend: str) -> np.ndarray:
    """``vectors``, unless a row holds NaN or infinity (a damaged model or export).

    Raises:
        ModelError: naming how many rows, and the fix.
    """
    bad = ~np.isfinite(vectors).all(axis=1) if vectors.size else np.zeros(0, dtype=bool)
    if bad.any():
        raise ModelError(
            f"the {backend} model produced {int(bad.sum())} vector(s) with NaN or infinity; "
            "its files are damaged: delete the export folder in the model cache "
            "($QA_CACHE_DIR or ~/.cache/newsqa) or reinstall the model package"
        )
    return vectors


def encode_in_steps(
    encode: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    dimension: int,
    step: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """``encode`` over ``texts`` ``step`` at a time, reporting ``progress(done, total)``."""
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for begin in range(0, len(texts), max(step, 1)):
        batch = list(texts[begin : begin + step])
        out[begin : begin + len(batch)] = encode(batch)
        if progress:
            progress(begin + len(batch), len(texts))
    return out


def open_encoder(
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    batch_size: int = 64,
    cache_dir: str | Path | None = None,
) -> Encoder:
    """Load ``model`` (None: the bundled all-MiniLM-L6-v2) on ``backend``.

    Args:
        model: Model name or folder.
        backend: One of ``BACKENDS``.
        batch_size: Texts per forward pass.
        cache_dir: Where exported backends are kept (default: ``model_cache_dir()``).

    Raises:
        ModelError: unknown backend, missing or unverified weights.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    name, folder, sha = model_identity(model)
    if backend == "torch":
        from qa.embed.torch_fp32 import TorchEncoder

        return TorchEncoder(name, folder, sha, batch_size=batch_size)
    from qa.embed.openvino_int8 import OpenVinoEncoder

    return OpenVinoEncoder(name, folder, sha, batch_size=batch_size, cache_dir=cache_dir)


def exported_sha256(
    model: str | None, backend: str, cache_dir: str | Path | None = None
) -> str | None:
    """The fingerprint of ``backend``'s export of ``model`` as it is now, without loading it.

    "" for torch (nothing is exported); None when the export does not exist yet.
    """
    if backend == "torch":
        return ""
    from qa.embed.int8_export import export_fingerprint

    return export_fingerprint(model_identity(model)[2], cache_dir)
