"""The reader at inference: load reader-v1.json, score candidates, answer or abstain (numpy only).

This is the reference for integrating the reader into the product (a `Reader`/`Reranker`):

    reader = Reader.load("training/reader-v1.json")
    q = reader.question(text, idf)                    # once per question (idf: stem -> float)
    best, logit, order = reader.read(q, q_pooled, q_tokens, q_offsets, candidates)
    answered = logit >= reader.threshold

``candidates`` are features.Candidate objects (pooled vector, token vectors, cached
SentenceText of the sentence and of its article, doc id and position for neighbours).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import features as F
import numpy as np

NO_ANSWER = -50.0  # answerability logit when the rules leave no candidate
QUESTION_FEATURES = ("rank_logit", "rank_margin", "rank_logsumexp") + tuple(F.FEATURES)


@dataclass
class Logistic:
    """A logistic head over standardized features: logit = ((x - mean) / scale) @ coef + bias."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.bias

    def to_json(self, names: Sequence[str]) -> dict:
        return {
            "features": list(names),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "bias": float(self.bias),
        }

    @classmethod
    def from_json(cls, d: dict, names: Sequence[str]) -> Logistic:
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


def read(q: F.QuestionText, x: np.ndarray, ranker: Logistic, answer: Logistic,
         rules: bool = True) -> tuple[int, float, np.ndarray]:  # fmt: skip
    """(best candidate row, answerability logit, ranker logits) for one question's features."""
    logits = ranker.logit(x)
    allowed = F.rule_mask(q, x) if rules else np.ones(len(x), dtype=bool)
    if not allowed.any():
        return int(np.argmax(logits)), NO_ANSWER, logits
    rows = np.flatnonzero(allowed)
    top = int(rows[np.argmax(logits[rows])])
    score = float(answer.logit(question_row(x[rows], logits[rows])[None])[0])
    return top, score, np.where(allowed, logits, -np.inf)


class Reader:
    """The trained reader: two logistic heads, hard rules and the abstention threshold."""

    def __init__(self, ranker: Logistic, answer: Logistic, threshold: float,
                 stem: F.Stem | None = None) -> None:  # fmt: skip
        self.ranker = ranker
        self.answer = answer
        self.threshold = threshold
        self.stem = stem or F.default_stem()

    @classmethod
    def load(cls, path: str | Path) -> Reader:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            Logistic.from_json(m["ranker"], F.FEATURES),
            Logistic.from_json(m["answerability"], QUESTION_FEATURES),
            float(m["thresholds"]["answerability_logit"]),
        )

    def question(self, text: str, idf: Callable[[str], float]) -> F.QuestionText:
        return F.with_idf(F.analyse_question(text, self.stem), idf)

    def sentence(self, text: str) -> F.SentenceText:
        return F.analyse_sentence(text, self.stem)

    def read(self, q: F.QuestionText, q_pooled: np.ndarray, q_tokens: np.ndarray,
             q_offsets: np.ndarray, cands: Sequence[F.Candidate],
             all_tokens: np.ndarray | None = None) -> tuple[int, float, np.ndarray]:  # fmt: skip
        """(best candidate, answerability logit, candidate order best first; rule-barred last)."""
        x = F.candidate_features(q, q_pooled, q_tokens, q_offsets, cands, all_tokens)
        top, score, logits = read(q, x, self.ranker, self.answer)
        return top, score, np.argsort(-logits, kind="stable")
