"""The trained sentence scorer: two logistic heads and hard rules over the reader's features.

The ranker scores each candidate sentence as the one that answers; the answerability head reads
the best allowed candidate (its logit, margin, log-sum-exp and features) and says whether it
answers at all. Weights are one plain JSON file shipped in the package
(``qa/answer/weights/``, no pickle), checked against the sha256 recorded in ``qa.config``.
Made by ``training/train_reader.py`` (README, "How it answers").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import features as F
from qa.answer.analysis import (
    QuestionText,
    SentenceText,
    Stem,
    analyse_question,
    analyse_sentence,
    default_stem,
    with_idf,
)
from qa.answer.weights_file import read_weights
from qa.errors import ModelError

NO_ANSWER = -50.0  # answerability logit when the rules leave no candidate
QUESTION_FEATURES = ("rank_logit", "rank_margin", "rank_logsumexp") + tuple(F.FEATURES)
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class Logistic:
    """A logistic head over standardized features: logit = ((x - mean) / scale) @ coef + bias."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.bias

    def to_json(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "features": list(names),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "bias": float(self.bias),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], names: Sequence[str]) -> Logistic:
        if list(d["features"]) != list(names):
            raise ValueError("the weights were trained on other features than features.py makes")
        return cls(np.array(d["mean"]), np.array(d["scale"]), np.array(d["coef"]), float(d["bias"]))


def question_row(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Answerability inputs: the best candidate's ranker logit, margin, log-sum-exp, features."""
    order = np.argsort(-logits, kind="stable")
    best = logits[order[0]]
    margin = best - logits[order[1]] if len(order) > 1 else 5.0
    lse = float(np.log(np.exp(logits - best).sum()) + best)
    return np.concatenate([[best, min(margin, 5.0), lse], x[order[0]]])


def read(
    q: QuestionText, x: np.ndarray, ranker: Logistic, answer: Logistic, rules: bool = True
) -> tuple[int, float, np.ndarray]:
    """(best candidate row, answerability logit, ranker logits; rule-barred rows -inf, unless
    the rules bar every row: then the answerability logit is ``NO_ANSWER``)."""
    logits = ranker.logit(x)
    allowed = F.rule_mask(q, x) if rules else np.ones(len(x), dtype=bool)
    if not allowed.any():
        return int(np.argmax(logits)), NO_ANSWER, logits
    rows = np.flatnonzero(allowed)
    top = int(rows[np.argmax(logits[rows])])
    score = float(answer.logit(question_row(x[rows], logits[rows])[None])[0])
    return top, score, np.where(allowed, logits, -np.inf)


class SentenceScorer:
    """The trained heads, the rules, and the text analysis they were trained with."""

    def __init__(self, ranker: Logistic, answer: Logistic, stem: Stem | None = None) -> None:
        self.ranker = ranker
        self.answer = answer
        self.stem = stem or default_stem()
        self.manifest: dict[str, Any] = {}

    @classmethod
    def load(cls, path: str | Path, sha256: str | None = None) -> SentenceScorer:
        """The weights in ``path`` (JSON); with ``sha256``, only if the file has that digest.

        Raises:
            ModelError: the file is missing, altered or not weights of these features.
        """
        path = Path(path)
        raw, digest = read_weights(
            path, sha256, what="the reader's", script="training/train_reader.py"
        )
        try:
            m = json.loads(raw)
            scorer = cls(
                Logistic.from_json(m["ranker"], F.FEATURES),
                Logistic.from_json(m["answerability"], QUESTION_FEATURES),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is not reader weights ({exc})") from exc
        scorer.manifest = {k: m[k] for k in ("name", "version", "script", "data") if k in m}
        scorer.manifest["sha256"] = digest
        return scorer

    def question(self, text: str, idf: Callable[[str], float]) -> QuestionText:
        return with_idf(analyse_question(text, self.stem), idf)

    def sentence(self, text: str) -> SentenceText:
        return analyse_sentence(text, self.stem)

    def read(
        self,
        q: QuestionText,
        q_pooled: np.ndarray,
        q_tokens: np.ndarray,
        q_offsets: np.ndarray,
        cands: Sequence[F.Candidate],
        all_tokens: np.ndarray | None = None,
    ) -> tuple[int, float, np.ndarray]:
        """(best candidate, answerability logit, ranker logits; rule-barred -inf)."""
        x = F.candidate_features(q, q_pooled, q_tokens, q_offsets, cands, all_tokens)
        return read(q, x, self.ranker, self.answer)
