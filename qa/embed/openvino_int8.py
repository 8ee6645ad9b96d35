"""The OpenVINO int8 embedding backend: a one-time export of the bundled weights, and its runtime.

The export (torch -> OpenVINO graph with mean pooling and normalisation -> NNCF static int8,
calibrated on the model card that ships with the weights) runs once per machine and weights into
a user cache folder; it is reproducible, so its fingerprint identifies the vectors it makes. The
runtime then loads without torch. Non-quantized ops stay fp32, so vectors do not depend on
whether the CPU has bf16 units.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
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
from qa.embed.model import file_sha256, load_sentence_transformer
from qa.errors import ModelError

EXPORT_RECIPE = "openvino-int8-v1"  # bump when the export changes: a new folder, new cache key
# The reader's export: the same recipe with the word pieces' vectors (last_hidden_state) as a
# second output. A model of its own, so the pooled export, its vectors and its fingerprint (what
# an index records) stay exactly as they were; it is exported the first time a reader needs it.
TOKENS_RECIPE = "openvino-int8-tokens-v1"
_OV_CONFIG = {
    "PERFORMANCE_HINT": "LATENCY",
    "INFERENCE_PRECISION_HINT": "f32",
    "ENABLE_CPU_PINNING": "NO",  # pinned threads stall when other processes share the cores
}


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
    folder: Path,
    weights_sha: str,
    load_torch_model: Callable[[Path], Any],
    cache_dir: str | Path | None = None,
    *,
    recipe: str = EXPORT_RECIPE,
) -> Path:
    """The int8 export of the model in ``folder``, exporting it once (locked, atomic).

    The folder name holds the weights hash and the export recipe, so other weights or a changed
    recipe get a folder of their own.

    Args:
        folder: The sentence-transformers model folder.
        weights_sha: Its verified weights hash.
        load_torch_model: Loads the model with sentence-transformers (only called to export).
        cache_dir: Where exports are kept (default: ``model_cache_dir()``).
        recipe: ``EXPORT_RECIPE`` (pooled vectors) or ``TOKENS_RECIPE`` (also word pieces).
    """
    root = Path(cache_dir) if cache_dir else model_cache_dir()
    target = _export_folder(root, weights_sha, recipe)
    if (target / "export.json").is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with (root / f".{target.name}.lock").open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits, then reuses the export
            if not (target / "export.json").is_file():
                tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
                try:
                    _export(load_torch_model(folder), folder, weights_sha, tmp, recipe)
                    os.replace(tmp, target)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ModelError(
            f"cannot write the openvino-int8 export to {root}: {exc}; set QA_CACHE_DIR to a "
            "writable folder"
        ) from exc
    return target


def _export_folder(root: Path, weights_sha: str, recipe: str = EXPORT_RECIPE) -> Path:
    return root / f"{weights_sha[:16]}-{recipe}"


def export_fingerprint(weights_sha: str, cache_dir: str | Path | None = None) -> str | None:
    """sha256 of the exported model file of these weights, or None when not exported yet."""
    root = Path(cache_dir) if cache_dir else model_cache_dir()
    try:
        meta = json.loads(
            (_export_folder(root, weights_sha) / "export.json").read_text(encoding="utf-8")
        )
        return str(meta["model_sha256"])
    except (OSError, ValueError, KeyError):
        return None


def _export(
    model: Any, folder: Path, weights_sha: str, out: Path, recipe: str = EXPORT_RECIPE
) -> None:
    """Convert the torch model (with mean pooling and normalisation) and quantize it to int8."""
    import openvino as ov
    import torch

    tokenizer = _fast_tokenizer(folder, int(model.max_seq_length))
    tokens = recipe == TOKENS_RECIPE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        graph = ov.convert_model(
            _pooled_encoder(model[0].auto_model.eval(), tokens=tokens),
            example_input={
                k: torch.from_numpy(v) for k, v in _feed(tokenizer, ["a b", "c"]).items()
            },
            input=[(name, [-1, -1], ov.Type.i64) for name in _INPUTS],
        )
    calibration = [_feed(tokenizer, [text]) for text in _calibration_texts(folder)]
    quantized = _quantize(graph, calibration)
    ov.save_model(quantized, str(out / "model.xml"), compress_to_fp16=False)
    meta = {
        "recipe": recipe,
        "weights_sha256": weights_sha,
        "model_sha256": file_sha256(out / "model.bin"),
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


def _pooled_encoder(transformer: Any, *, tokens: bool = False) -> Any:
    """The transformer plus mean pooling and L2 normalisation, as one traceable module.

    ``tokens``: also output last_hidden_state (the reader's export, ``TOKENS_RECIPE``).
    """
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
            pooled = torch.nn.functional.normalize(mean, p=2, dim=1)
            return (pooled, hidden) if tokens else pooled

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
    return _feed_encoded(tokenizer.encode_batch(texts), multiple)


def _feed_encoded(encodings: list[Any], multiple: int = 1) -> dict[str, np.ndarray]:
    """``_feed`` of texts already tokenized."""
    width = -(-max(len(e.ids) for e in encodings) // multiple) * multiple
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


class OpenVinoRuntime:
    """The exported int8 model on OpenVINO's CPU plugin, with the model's own fast tokenizer."""

    def __init__(self, folder: Path, export: Path) -> None:
        import openvino as ov

        meta = json.loads((export / "export.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length", 256))
        self.counter = _fast_tokenizer(folder, None)
        self._tokenizer = _fast_tokenizer(folder, self.max_tokens)
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
            feed = _feed_encoded(encodings, multiple=_SEQ_STEP)
            result = self._model([feed[name] for name in _INPUTS])
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
