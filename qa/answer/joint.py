"""The joint model: reads a question's word pieces AGAINST a sentence's, in numpy.

Pooled and MaxSim similarities cannot see that "Who separated X" is not answered by "Y unified
X". This small trained layer over the frozen MiniLM word-piece vectors (the ones the reader
already caches per chunk) compares them: each question piece attends over the sentence's pieces
(a learned 384 -> 48 projection plus the raw cosine), is compared with what it attends to
([q, aligned, q * aligned, q - aligned, best cosine, attended cosine] -> 48 ReLU units), and a
learned importance per question piece pools the comparisons (weighted mean and max) into one
logit: does this sentence answer the question. Weights are one JSON file made by
``training/train_joint.py`` (``qa/answer/weights/joint-v1.json``; its sha256 in ``qa.config``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.weights_file import read_weights
from qa.errors import ModelError

_PARTS = ("proj", "att", "cmp_w", "cmp_b", "imp_w", "imp_b", "out_w", "out_b")
MAX_PIECES = 96  # sentence word pieces read (as trained: longer sentences are cut)


class JointModel:
    """``logits(question pieces, [sentence pieces, ...])``: one logit per sentence."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        w = {k: np.asarray(weights[k], dtype=np.float32) for k in _PARTS}
        self.proj, self.cmp_w, self.cmp_b = w["proj"], w["cmp_w"], w["cmp_b"]
        self.att_proj, self.att_cos = float(w["att"][0]), float(w["att"][1])
        self.imp_w, self.imp_b = w["imp_w"], float(w["imp_b"][0])
        self.out_w, self.out_b = w["out_w"], float(w["out_b"][0])
        self.manifest: dict[str, Any] = {}

    @classmethod
    def load(cls, path: str | Path, sha256: str | None = None) -> JointModel:
        """The weights in ``path`` (JSON); with ``sha256``, only if the file has that digest.

        Raises:
            ModelError: the file is missing, altered or not joint-model weights.
        """
        path = Path(path)
        raw, digest = read_weights(
            path, sha256, what="the joint reader's", script="training/train_joint.py"
        )
        try:
            m = json.loads(raw)
            shapes = m["shapes"]
            weights = {k: np.array(m["weights"][k]).reshape(shapes[k]) for k in _PARTS}
            model = cls(weights)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is not joint reader weights ({exc})") from exc
        model.manifest = {k: m[k] for k in ("name", "version", "script", "data", "combine")}
        model.manifest["sha256"] = digest
        return model

    def logits(self, question: np.ndarray, sentences: Sequence[np.ndarray]) -> np.ndarray:
        """(len(sentences),) float32 logits; ``question`` and each sentence are unit-length
        word-piece rows (no [CLS]/[SEP])."""
        Q = np.asarray(question, dtype=np.float32)  # noqa: N806
        out = np.full(len(sentences), -20.0, dtype=np.float32)
        if not len(Q) or not len(sentences):
            return out
        q = Q @ self.proj
        w = Q @ self.imp_w + self.imp_b
        w = np.exp(w - w.max())
        w /= w.sum()
        for j, rows in enumerate(sentences):
            S = np.asarray(rows[:MAX_PIECES], dtype=np.float32)  # noqa: N806
            if not len(S):
                continue
            s = S @ self.proj
            cos = Q @ S.T
            e = self.att_proj * (q @ s.T) + self.att_cos * cos
            a = np.exp(e - e.max(axis=1, keepdims=True))
            a /= a.sum(axis=1, keepdims=True)
            aligned = a @ s
            f = np.concatenate(
                [
                    q,
                    aligned,
                    q * aligned,
                    q - aligned,
                    cos.max(axis=1, keepdims=True),
                    (a * cos).sum(axis=1, keepdims=True),
                ],
                axis=1,
            )
            g = np.maximum(f @ self.cmp_w + self.cmp_b, 0.0)
            pooled = w @ g
            peak = g.max(axis=0)
            out[j] = float(np.concatenate([pooled, peak]) @ self.out_w + self.out_b)
        return out
