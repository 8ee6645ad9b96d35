"""The one-time OpenVINO int8 export of the bundled weights, and the inputs both it and the
runtime feed the graph.

The export (torch -> OpenVINO graph with mean pooling and normalisation -> NNCF static int8,
calibrated on the model card that ships with the weights) runs once per machine and weights into
a user cache folder; it is reproducible, so its fingerprint identifies the vectors it makes.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.model import file_sha256
from qa.errors import ModelError

EXPORT_RECIPE = "openvino-int8-v1"  # bump when the export changes: a new folder, new cache key
# The reader's export: the same recipe with the word pieces' vectors (last_hidden_state) as a
# second output. A model of its own, so the pooled export, its vectors and its fingerprint (what
# an index records) stay exactly as they were; it is exported the first time a reader needs it.


# The reader's export: the same recipe with the word pieces' vectors (last_hidden_state) as a
# second output. A model of its own, so the pooled export, its vectors and its fingerprint (what
# an index records) stay exactly as they were; it is exported the first time a reader needs it.
TOKENS_RECIPE = "openvino-int8-tokens-v1"


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

    tokenizer = fast_tokenizer(folder, int(model.max_seq_length))
    tokens = recipe == TOKENS_RECIPE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        graph = ov.convert_model(
            _pooled_encoder(model[0].auto_model.eval(), tokens=tokens),
            example_input={
                k: torch.from_numpy(v) for k, v in feed(tokenizer, ["a b", "c"]).items()
            },
            input=[(name, [-1, -1], ov.Type.i64) for name in GRAPH_INPUTS],
        )
    calibration = [feed(tokenizer, [text]) for text in _calibration_texts(folder)]
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


GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


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


def fast_tokenizer(folder: Path, max_tokens: int | None) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens:
        tokenizer.enable_truncation(max_tokens)
    else:
        tokenizer.no_truncation()
    return tokenizer


def feed(tokenizer: Any, texts: list[str], multiple: int = 1) -> dict[str, np.ndarray]:
    """Right-padded int64 inputs, as long as the longest text rounded up to ``multiple``."""
    return feed_encoded(tokenizer.encode_batch(texts), multiple)


def feed_encoded(encodings: list[Any], multiple: int = 1) -> dict[str, np.ndarray]:
    """``feed`` of texts already tokenized."""
    width = -(-max(len(e.ids) for e in encodings) // multiple) * multiple
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
