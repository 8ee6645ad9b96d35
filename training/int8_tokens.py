"""An OpenVINO int8 export of MiniLM with TWO outputs: the pooled vector and last_hidden_state.

The product's export (qa/embed/int8_export.py, recipe "openvino-int8-v1") outputs only the pooled,
normalized vector. The reader also needs token vectors; this is the same recipe (torch ->
OpenVINO graph -> NNCF static int8 calibrated on the model card's text, non-quantized ops in
fp32) with last_hidden_state as a second output, so we can measure how much int8 token vectors
differ from fp32 ones and what that does to the reader. The helper functions are copied from
qa/openvino_int8.py (commit 64ec567), trimmed; the product has since gained its own tokens
export (``TOKENS_RECIPE`` in qa/embed/int8_export.py), which this lab copy predates. Written
under $READER_LAB, never in the repo.
"""

from __future__ import annotations

import os
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
from encode import CACHE, MAX_TOKENS, Encoded, _pack, model_dir

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OV_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}


def _two_outputs(transformer: Any) -> Any:
    import torch

    class Both(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1), hidden

    return Both()


def _tokenizer(max_tokens: int | None) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_tokens) if max_tokens else tok.no_truncation()
    return tok


def _feed(tokenizer: Any, texts: list[str]) -> tuple[dict[str, np.ndarray], list[Any]]:
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return feed, encodings


def _calibration_texts() -> list[str]:
    text = (model_dir() / "README.md").read_text(encoding="utf-8")
    words = text.split()
    windows = [" ".join(words[i : i + 180]) for i in range(0, len(words), 60)]
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.split()) > 8]
    return windows[:32] + paragraphs[:16]


def export(out: Path = CACHE / "ov-int8-tokens") -> Path:
    """Export once (returns the folder holding model.xml)."""
    if (out / "model.xml").is_file():
        return out
    import nncf
    import openvino as ov
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir()), local_files_only=True).eval()
    tok = _tokenizer(MAX_TOKENS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        example = {k: torch.from_numpy(v) for k, v in _feed(tok, ["a b", "c"])[0].items()}
        graph = ov.convert_model(
            _two_outputs(model),
            example_input=example,
            input=[(name, [-1, -1], ov.Type.i64) for name in _INPUTS],
        )
    calibration = [_feed(tok, [t])[0] for t in _calibration_texts()]
    nncf.set_log_level(40)
    with open(os.devnull, "w") as quiet, redirect_stdout(quiet), redirect_stderr(quiet):
        quantized = nncf.quantize(
            graph,
            nncf.Dataset(calibration),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(calibration),
        )
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out / "model.xml"), compress_to_fp16=False)
    return out


class Int8Encoder:
    """Pooled + token vectors from the two-output int8 export (same packing as encode.encode)."""

    def __init__(self, folder: Path | None = None) -> None:
        import openvino as ov

        folder = folder or export()
        self.model = ov.Core().compile_model(str(folder / "model.xml"), "CPU", _OV_CONFIG)
        self.tok = _tokenizer(MAX_TOKENS)

    def encode(self, texts: list[str], batch_size: int = 32) -> Encoded:
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        items: list[Any] = [None] * len(texts)
        for b in range(0, len(order), batch_size):
            rows = order[b : b + batch_size]
            feed, encodings = _feed(self.tok, [texts[i] for i in rows])
            pooled, hidden = self.model([feed[n] for n in _INPUTS]).values()
            norms = np.linalg.norm(hidden, axis=2, keepdims=True)
            unit = hidden / np.maximum(norms, 1e-12)
            for j, i in enumerate(rows):
                enc = encodings[j]
                n = len(enc.ids)
                special = np.array(enc.special_tokens_mask, dtype=bool)
                offsets = np.array(enc.offsets, dtype=np.int32).reshape(n, 2)
                items[i] = (pooled[j], unit[j, :n], offsets, special)
        return _pack(items)
