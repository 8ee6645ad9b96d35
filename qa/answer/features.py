"""The trained reader's features: how well one candidate sentence (and its neighbours) answers.

Inputs from the embedding side (the bundled all-MiniLM-L6-v2, frozen): the pooled unit vector
of the question and of each sentence, and their word pieces' unit vectors
(``qa.embed.encoder.TokenVectors``) with the question's character offsets.

Feature families (names in FEATURES, in order):
  semantic   pooled cosine; ColBERT-style MaxSim of the question's content words (each word's
             best cosine to the sentence's word pieces, IDF-weighted mean, min, the IDF-weighted
             largest shortfall), over the sentence alone and over the sentence and its
             neighbours; the same for the question's focus words (names, numbers, dates); the
             share of the sentence's pieces the question does not already say
  lexical    IDF-weighted share of the question's stems in the sentence, in the window, in the
             whole article; focus words missing from the window / from the article
  kind       the answer kind asked for and whether the sentence holds a new one
  contrast   the question's figure/date absent while the sentence has another one; negation in
             the question or in the sentence only; an opposite; "what did X say" with X not in
             the window or no speech verb
  relative   the candidate's pooled cosine and MaxSim minus the best among the candidates
  shape      statement or headline, length
Ported from training/features.py (issue 11); training/ imports this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.answer.analysis import KINDS, OPPOSITE, QuestionText, SentenceText, has_stem

NOVEL_COSINE = 0.6  # a sentence token below this best cosine to the question says something new
_has = has_stem
_OPPOSITE = OPPOSITE


def word_pieces(spans: Sequence[tuple[int, int]], offsets: np.ndarray) -> list[np.ndarray]:
    """Indices of the wordpieces (rows of ``offsets``) inside each word span."""
    out = []
    for a, b in spans:
        inside = np.flatnonzero(
            (offsets[:, 0] >= a) & (offsets[:, 1] <= b) & (offsets[:, 1] > offsets[:, 0])
        )
        out.append(inside)
    return out


@dataclass
class Candidate:
    """A sentence to score: its pooled vector, token vectors, text analysis and neighbours."""

    pooled: np.ndarray  # (384,)
    tokens: np.ndarray  # (n, 384), unit rows, no special tokens
    text: SentenceText
    doc: int  # candidates with the same doc are one article/chunk sequence
    position: int  # sentence number inside the doc (neighbours are position +- 1)
    doc_text: SentenceText | None = None  # the whole document (article) analysed, optional


FEATURES = (
    "cos", "cos_rel",
    "ms_mean", "ms_min", "ms_short", "ms_rel",
    "msw_mean", "msw_min", "msw_short",
    "ms_focus_min", "msw_focus_min",
    "ms_all_mean",
    "novel",
    "lex", "lex_win", "lex_doc",
    "focus_sent", "focus_win", "focus_miss_win", "focus_miss_doc", "has_focus",
    "miss_win", "miss_idf_win", "miss_sim_max", "miss_sim_min", "miss_idf_sent", "antonym",
    *(f"kind_{k}" for k in KINDS),
    "fit", "fit_person", "fit_place", "fit_entity", "fit_number", "fit_date",
    "fit_win",
    "num_conflict", "num_support",
    "neg_q_only", "neg_s_only",
    "say_q", "speaker_sent", "speaker_ok", "speaker_win",
    "statement", "log_words",
)  # fmt: skip


def _segment_max(sims: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(k, total) similarities -> (k, n_candidates) best per candidate segment (-1 if empty)."""
    out = np.full((sims.shape[0], len(sizes)), -1.0)
    nonempty = sizes > 0
    if sims.shape[1]:
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])[nonempty]
        out[:, nonempty] = np.maximum.reduceat(sims, starts, axis=1)
    return out


def _window(per_cand: np.ndarray, cands: Sequence[Candidate]) -> np.ndarray:
    """Max over the candidate and its neighbours (same doc, position +- 1) along axis -1."""
    where = {(c.doc, c.position): i for i, c in enumerate(cands)}
    out = per_cand.copy()
    for i, c in enumerate(cands):
        for d in (-1, 1):
            j = where.get((c.doc, c.position + d))
            if j is not None:
                out[..., i] = np.maximum(out[..., i], per_cand[..., j])
    return out


@functools.cache
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """numpy's BLAS on one thread: these products are small, and on a shared machine two BLAS
    threads cost 16.7 ms a question against 3.6 ms on one (50 candidates, 22 question pieces)."""
    return _blas().limit(limits=1, user_api="blas")


def neighbourhood_max(per_cand: np.ndarray, cands: Sequence[Candidate]) -> np.ndarray:
    """Per candidate: the largest value over it and its neighbours (a window feature)."""
    return _window(per_cand, cands)


def _weighted_stats(m: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``m`` (words x candidates): weighted mean, min, largest weighted shortfall."""
    if m.shape[0] == 0:
        ones = np.ones(m.shape[1])
        return ones, ones, np.zeros(m.shape[1])
    wn = w / w.sum()
    short = ((1.0 - m) * (w / w.max())[:, None]).max(0)
    return (wn[:, None] * m).sum(0), m.min(0), short


def candidate_features(
    q: QuestionText,
    q_pooled: np.ndarray,
    q_tokens: np.ndarray,
    q_offsets: np.ndarray,
    cands: Sequence[Candidate],
    all_tokens: np.ndarray | None = None,
) -> np.ndarray:
    """(n_candidates, len(FEATURES)) float32 features of each candidate for question ``q``.

    ``all_tokens``, optional, is the candidates' token vectors already concatenated in order
    (float32), e.g. cached per chunk; otherwise they are concatenated here.
    """
    n = len(cands)
    sizes = np.array([len(c.tokens) for c in cands])
    if all_tokens is None:
        all_tokens = np.concatenate([c.tokens for c in cands]).astype(np.float32, copy=False)
    with _one_blas_thread():
        sims = q_tokens.astype(np.float32, copy=False) @ all_tokens.T  # (q tokens, all tokens)
    best_tok = _segment_max(sims, sizes)  # (question tokens, n)
    words = _word_maxsim(best_tok, word_pieces(q.spans, q_offsets))
    words_win = _window(words, cands)
    w = q.weights if len(q.weights) == len(q.stems) else np.ones(len(q.stems))
    ms_mean, ms_min, ms_short = _weighted_stats(words, w)
    msw_mean, msw_min, msw_short = _weighted_stats(words_win, w)
    focus = q.focus
    cos = np.stack([c.pooled for c in cands]).astype(np.float32) @ q_pooled.astype(np.float32)
    cols = {
        "cos": cos,
        "cos_rel": cos - cos.max(),
        "ms_mean": ms_mean,
        "ms_min": ms_min,
        "ms_short": ms_short,
        "ms_rel": ms_mean - ms_mean.max(),
        "msw_mean": msw_mean,
        "msw_min": msw_min,
        "msw_short": msw_short,
        "ms_focus_min": words[focus].min(0) if focus.any() else np.ones(n),
        "msw_focus_min": words_win[focus].min(0) if focus.any() else np.ones(n),
        "ms_all_mean": best_tok.mean(0) if len(best_tok) else np.ones(n),
        "novel": _novelty(sims, sizes),
        **_lexical(q, w, cands, words_win),
        **_fits(q, cands),
        **{f"kind_{k}": np.full(n, float(q.kind == k)) for k in KINDS},
        "statement": np.array([float(c.text.statement) for c in cands]),
        "log_words": np.log1p([c.text.n_words for c in cands]),
    }
    return np.stack([np.asarray(cols[f], dtype=np.float64) for f in FEATURES], 1).astype(np.float32)


def _word_maxsim(best_tok: np.ndarray, pieces: list[np.ndarray]) -> np.ndarray:
    """(words, n): each content word's mean over its wordpieces of their best cosine."""
    n = best_tok.shape[1]
    if not pieces:
        return np.zeros((0, n))
    return np.stack([best_tok[p].mean(0) if len(p) else np.ones(n) for p in pieces])


def _novelty(sims: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Share of each candidate's tokens whose best cosine to any question token is low."""
    if sims.shape[0] == 0 or sims.shape[1] == 0:
        return np.zeros(len(sizes))
    novel = (sims.max(0) < NOVEL_COSINE).astype(np.float64)
    ends = np.cumsum(sizes)
    counts = np.diff(np.concatenate([[0.0], np.cumsum(novel)[ends - 1]]))
    counts[sizes == 0] = 0.0
    return counts / np.maximum(sizes, 1)


def _nan_to(reduce: Callable, m: np.ndarray, empty: float) -> np.ndarray:
    """``reduce`` over axis 0 ignoring NaN; ``empty`` where a column is all NaN (or no rows)."""
    if m.shape[0] == 0:
        return np.full(m.shape[1], empty)
    full = ~np.isnan(m).all(0)
    out = np.full(m.shape[1], empty)
    out[full] = reduce(m[:, full], axis=0)
    return out


def _opposite(q: QuestionText, s: SentenceText) -> bool:
    """The sentence has the opposite of a question word and not the word itself."""
    for word in q.surface:
        for other in _OPPOSITE.get(word, ()):
            if other in s.words and word not in s.words:
                return True
    return False


def _lexical(
    q: QuestionText, w: np.ndarray, cands: Sequence[Candidate], words_win: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(cands)
    has = np.array([[_has(c.text, s) for c in cands] for s in q.stems], dtype=float).reshape(
        len(q.stems), n
    )
    has_win = _window(has, cands)
    has_doc = np.array(
        [[_has(c.doc_text, s) if c.doc_text else 1.0 for c in cands] for s in q.stems], dtype=float
    ).reshape(len(q.stems), n)
    wn = w / w.sum() if len(w) else w
    share = lambda m: (wn[:, None] * m).sum(0) if len(w) else np.ones(n)  # noqa: E731
    focus = q.focus
    f_share = lambda m: m[focus].mean(0) if focus.any() else np.ones(n)  # noqa: E731
    f_miss = lambda m: (1.0 - m[focus]).sum(0) if focus.any() else np.zeros(n)  # noqa: E731
    idf_rel = w / w.max() if len(w) else w
    absent = 1.0 - has_win
    miss_sims = np.where(absent > 0, words_win, np.nan) if len(w) else np.zeros((0, n))
    return {
        "miss_win": np.minimum(absent.sum(0), 3.0) if len(w) else np.zeros(n),
        "miss_idf_win": (absent * idf_rel[:, None]).max(0) if len(w) else np.zeros(n),
        "miss_idf_sent": ((1.0 - has) * idf_rel[:, None]).max(0) if len(w) else np.zeros(n),
        "miss_sim_max": _nan_to(np.nanmax, miss_sims, 0.0),
        "miss_sim_min": _nan_to(np.nanmin, miss_sims, 1.0),
        "antonym": np.array([float(_opposite(q, c.text)) for c in cands]),
        "lex": share(has),
        "lex_win": share(has_win),
        "lex_doc": share(has_doc),
        "focus_sent": f_share(has),
        "focus_win": f_share(has_win),
        "focus_miss_win": np.minimum(f_miss(has_win), 2.0),
        "focus_miss_doc": np.minimum(f_miss(has_doc), 2.0),
        "has_focus": np.full(n, float(focus.any())),
    }


def _new_kind(q: QuestionText, s: SentenceText) -> bool:
    """The sentence holds something of the kind asked for that the question does not say."""
    if q.kind == "number":
        found = s.numbers | s.dates if q.measure else s.numbers
        return bool(found - q.numbers - q.dates)
    if q.kind == "date":
        return bool(s.dates - q.dates)
    if q.kind in ("person", "place", "entity"):
        return bool(s.names - set(q.stems))
    return bool(s.stems - set(q.stems))


def _fits(q: QuestionText, cands: Sequence[Candidate]) -> dict[str, np.ndarray]:
    fit = np.array([float(_new_kind(q, c.text)) for c in cands])
    out = {"fit": fit, "fit_win": _window(fit, cands)}
    for k in ("person", "place", "entity", "number", "date"):
        out[f"fit_{k}"] = fit * (q.kind == k)
    asked = q.numbers | q.dates
    support = np.array(
        [float(bool(asked) and asked <= (c.text.numbers | c.text.dates)) for c in cands]
    )
    other = np.array([float(bool((c.text.numbers | c.text.dates) - asked)) for c in cands])
    out["num_support"] = support
    out["num_conflict"] = float(bool(asked)) * (1.0 - support) * other
    out["neg_q_only"] = np.array([float(q.negated and not c.text.negated) for c in cands])
    out["neg_s_only"] = np.array([float(c.text.negated and not q.negated) for c in cands])
    say = bool(q.speaker)
    spk = np.array([np.mean([_has(c.text, s) for s in q.speaker]) if say else 1.0 for c in cands])
    speech = np.array([float(c.text.speech or not q.speaker_cue) for c in cands])
    out["say_q"] = np.full(len(cands), float(say))
    out["speaker_sent"] = spk
    out["speaker_ok"] = (spk >= 1.0) * speech if say else np.ones(len(cands))
    out["speaker_win"] = _window(out["speaker_ok"], cands)
    return out


STRICT_KINDS = ("number", "date")


def rule_mask(q: QuestionText, x: np.ndarray) -> np.ndarray:
    """Candidates the hard rules allow (bool per row of ``candidate_features``' output).

    * a figure or date question ("how many", "when") is answered only by a sentence holding a
      figure or date the question does not already give;
    * "what did X say" / "according to X" is answered only by a sentence that, with its
      neighbours, names X (all of X's content words) next to a speech cue ("said", "statement").
    No allowed candidate: the reader abstains.
    """
    ok = np.ones(len(x), dtype=bool)
    if q.kind in STRICT_KINDS:
        ok &= x[:, FEATURES.index("fit")] > 0
    if q.speaker:
        ok &= x[:, FEATURES.index("speaker_win")] > 0
    return ok
