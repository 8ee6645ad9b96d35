"""The answer-form weight per answer kind (ReaderSettings.slot_weights), measured on four sets.

    .venv/bin/python bench/slot_weights.py --workdir DIR                      # all four sets
    .venv/bin/python bench/slot_weights.py --workdir DIR --sets seed,squad    # some of them

Sets: "train" (the 10 SQuAD 2.0 train articles the reader was trained on, never used to tune
the weights), "squad" (the 10 dev articles), "seed" and "multihop" (as in bench/reader_eval.py;
indexes are built once under --workdir and shared with it). Each question is read once by the
joint reader up to its lead: the ranker's logits, the rules' allowed sentences, which sentences
hold the answer's form, the joint model's logits on the head; the lead is then chosen again for
every weight of the grid, and the table counts, per answer kind and set, the answerable
questions whose gold answer is in the lead (answered at the reader's threshold). Before any
count, each question's lead at the shipped settings is checked against the reader's own answer,
so the re-choice cannot drift from qa/answer/trained.py unnoticed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reader_eval import DATA, ensure_index, inputs, long_questions, squad_inputs  # noqa: E402

SQUAD_TRAIN = DATA / "squad2-partial" / "train-10-articles.json"
GRID = (0.0, 0.75, 1.5, 2.25, 3.0)


@dataclasses.dataclass
class Read:
    """One question read up to its lead."""

    kind: str
    logits: np.ndarray  # the ranker's, per candidate
    allowed: np.ndarray
    slot: np.ndarray  # the sentence holds the answer's form
    doc: np.ndarray  # the candidate's article
    gold: np.ndarray  # the sentence holds a gold answer
    head_logit: float  # the trained answerability head's logit (inf: a long question)
    lead: int  # the reader's own lead at the shipped settings
    joint: Any  # (the joint model, the question's word pieces, the candidates)


def read_all(name: str, workdir: Path) -> tuple[list[Read | None], int]:
    """Every answerable question of the set with a gold answer string (None: the gates or
    rules abstained), and how many there are."""
    import qa
    from qa.answer.abstain import passage_gates
    from qa.answer.features import candidate_features
    from qa.answer.scorer import question_row
    from qa.answer.slots import slot_test
    from qa.answer.trained import TrainedReader, _idf
    from qa.config import DEFAULT_ANSWER_K, DEFAULT_RETRIEVE_K, ReaderSettings
    from qa.evaluation import _plain, load_questions
    from qa.questions import clean_question

    if name == "train":
        corpus, questions = squad_inputs(workdir, SQUAD_TRAIN, "squad-train")
    else:
        corpus, questions = inputs(name, workdir)
    assistant = qa.Assistant.open(ensure_index(name, corpus, workdir))
    free = ReaderSettings(min_logit=-math.inf, joint_min_logit=-math.inf)
    reader = TrainedReader(assistant.encoder, free, joint=True)
    long = long_questions(questions, free.max_question_words)
    out: list[Read | None] = []
    for item in load_questions(questions):
        yes_no = all(a.strip().lower() in ("yes", "no") for a in item["answers"])
        if not item["answerable"] or not item["answers"] or yes_no:
            continue
        question, _ = clean_question(item["question"])
        found = assistant.retriever.search(question, max(DEFAULT_RETRIEVE_K, DEFAULT_ANSWER_K))
        top = dataclasses.replace(found, hits=found.hits[:DEFAULT_ANSWER_K])
        hits, index = list(top.hits), assistant.index
        answer = reader.answer(question, top, index)
        if passage_gates(question, top.plan, hits, index, reader._terms, reader.gates):
            out.append(None)
            continue
        q = reader.scorer.question(question, _idf(index, top))
        sentences, cands, tokens = reader._candidates(q, hits, index)
        qv = assistant.encoder.encode_tokens([question])[0]
        x = candidate_features(q, qv.pooled, qv.tokens, qv.offsets, cands, tokens)
        logits = reader.scorer.ranker.logit(x)
        allowed, why = reader.rules.allowed(q, x, logits, [s.text for s in sentences], cands)
        if why:
            out.append(None)
            continue
        rows = np.flatnonzero(allowed)
        head_logit = float(reader.scorer.answer.logit(question_row(x[rows], logits[rows])[None])[0])
        holds = slot_test(q.kind, question)
        golds = [_plain(g) for g in item["answers"]]
        first = answer.citations[0]
        lead = next(
            i
            for i, s in enumerate(sentences)
            if s.start == first.quote_start and hits[s.hit].chunk.article_id == first.article_id
        )
        read = Read(
            kind=q.kind,
            logits=logits,
            allowed=allowed,
            slot=np.array([holds(s.text) for s in sentences], dtype=bool),
            doc=np.array([c.doc for c in cands]),
            gold=np.array([any(g in _plain(s.text) for g in golds) for s in sentences]),
            head_logit=head_logit if item["id"] not in long else math.inf,
            lead=lead,
            joint=(reader.joint, qv.tokens, cands),
        )
        out.append(read)
    return out, len(out)


def lead(read: Read, weight: float, scope: str, combine: dict) -> tuple[int, float]:
    """(lead, combined answerability logit) with ``weight`` for the question's kind, as
    TrainedReader._slot_bonus and _joint_read choose them."""
    logits, rows = read.logits, np.flatnonzero(read.allowed)
    best = int(rows[np.argmax(logits[rows])])
    slot, same = read.slot.copy(), read.doc == read.doc[best]
    if scope == "article-first":
        near = np.zeros(len(logits), dtype=bool)
        near[rows] = logits[rows] + weight > logits[best]
        if (slot & same & near).any():
            slot &= same
    elif scope == "article":
        slot &= same
    ranked = logits + weight * slot
    head = rows[np.argsort(-ranked[rows], kind="stable")[: int(combine["top_n"])]]
    model, q_tokens, cands = read.joint
    joint = model.logits(q_tokens, [cands[i].tokens for i in head.tolist()])
    ranked = ranked.astype(np.float64)
    ranked[head] += float(combine["rank_weight"]) * joint
    top = int(np.argmax(ranked[head]))
    answer = (
        float(combine["v1"]) * read.head_logit
        + float(combine["joint"]) * float(joint[top])
        + float(combine["bias"])
    )
    return int(head[top]), answer


def main(argv: list[str] | None = None) -> int:
    from qa.config import ReaderSettings

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", type=Path, required=True, help="indexes and inputs (reused)")
    p.add_argument("--sets", default="train,squad,seed,multihop")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    shipped = ReaderSettings()
    weights = dict(shipped.slot_weights)
    counts: dict[str, dict[str, collections.Counter]] = collections.defaultdict(dict)
    totals = {}
    for name in args.sets.split(","):
        reads, totals[name] = read_all(name, args.workdir)
        for read in reads:
            if read is None:
                continue
            combine = read.joint[0].manifest["combine"]
            weight = weights.get(read.kind, shipped.slot_weight)
            again, _ = lead(read, weight, shipped.slot_scope, combine)
            if again != read.lead:
                raise SystemExit(f"{name}: the re-chosen lead differs from the reader's")
            per = counts[read.kind].setdefault(name, collections.Counter())
            for w in GRID:
                top, logit = lead(read, w, shipped.slot_scope, combine)
                per[w] += int(bool(read.gold[top]) and logit >= shipped.joint_min_logit)
    print("gold answer in the lead, answerable questions with a gold answer string, per kind")
    print(f"(shipped: {weights}, else {shipped.slot_weight}; questions per set: {totals})")
    print(f"{'kind':8}{'set':10}" + "".join(f"{w:>8}" for w in GRID))
    for kind in sorted(counts):
        for name, per in counts[kind].items():
            print(f"{kind:8}{name:10}" + "".join(f"{per[w]:>8}" for w in GRID))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
