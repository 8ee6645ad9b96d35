"""Runtime cost of the reader, and what int8 token vectors do to it.

    cd training && HF_HUB_OFFLINE=1 nice -n 10 /work/main/.venv/bin/python bench_reader.py \
        [--weights reader-v1.json] [--int8]

1. Reader cost per question for 60 candidate sentences (SQuAD dev questions, the sentences of
   their top retrieved paragraphs): question analysis, features + both heads, with the
   candidates' token vectors already concatenated (cached per chunk) and without; and the
   per-sentence text analysis that can be cached at index time.
2. Encoder cost (torch fp32, bundled MiniLM) for 60 sentences in one batch, pooled vectors and
   token vectors coming from the same forward pass.
3. --int8: export MiniLM to OpenVINO int8 with last_hidden_state as a second output (the
   product's recipe otherwise), compare its token vectors with fp32 ones, time it, and evaluate
   the fp32-trained reader on SQuAD dev with int8 vectors.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import encode  # noqa: E402
import features as F  # noqa: E402
import numpy as np  # noqa: E402
import squad  # noqa: E402
import train_reader as T  # noqa: E402
from reader_runtime import WEIGHTS_DIR, Reader  # noqa: E402

HERE = Path(__file__).resolve().parent
N_CANDIDATES = 60


def sixty(split: T.Split, qi: int, tf: dict) -> list[int]:
    """Paragraphs in retrieval order until they hold 60 sentences (cut to 60 later)."""
    old = T.TOP_PARAGRAPHS
    T.TOP_PARAGRAPHS = 30
    try:
        ranked = T.retrieve(split, qi, tf)
    finally:
        T.TOP_PARAGRAPHS = old
    out, n = [], 0
    for p in ranked:
        out.append(p)
        n += len(split.paragraphs[p].spans)
        if n >= N_CANDIDATES:
            break
    return out


def bench_reader(reader: Reader, dev: T.Split, tf: dict, n_questions: int) -> dict:
    cases = []
    for qi in range(0, len(dev.questions), max(1, len(dev.questions) // n_questions)):
        cands, _ = T.candidates(dev, sixty(dev, qi, tf))
        cands = cands[:N_CANDIDATES]
        tokens, offsets = T._no_special(dev.q_enc, qi)
        concat = np.concatenate([c.tokens for c in cands])
        cases.append((qi, cands, tokens, offsets, concat))
    idf = dev.bm25.idf
    t = time.perf_counter()
    qs = [reader.question(dev.questions[qi].text, idf) for qi, *_ in cases]
    t_question = (time.perf_counter() - t) / len(cases)
    timings, cpu = {}, {}
    for cached in (True, False):
        t, c = time.perf_counter(), time.process_time()
        for q, (qi, cands, tokens, offsets, concat) in zip(qs, cases, strict=True):
            reader.read(q, dev.q_enc.pooled[qi], tokens, offsets, cands, concat if cached else None)
        timings[cached] = (time.perf_counter() - t) / len(cases)
        cpu[cached] = (time.process_time() - c) / len(cases)
    texts = [dev.paragraphs[0].sentence(i) for i in range(len(dev.paragraphs[0].spans))] * 20
    t = time.perf_counter()
    for s in texts:
        reader.sentence(s)
    t_sentence = (time.perf_counter() - t) / len(texts)
    return {
        "questions": len(cases),
        "candidates_per_question": float(np.mean([len(c[1]) for c in cases])),
        "ms_question_analysis": round(1000 * t_question, 3),
        "ms_features_and_heads_tokens_cached": round(1000 * timings[True], 3),
        "ms_features_and_heads_tokens_concatenated_here": round(1000 * timings[False], 3),
        "cpu_ms_features_and_heads_tokens_cached": round(1000 * cpu[True], 3),
        "ms_sentence_analysis_each_cacheable": round(1000 * t_sentence, 4),
    }


def bench_torch(sentences: list[str], repeats: int = 5) -> dict:
    import torch

    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        encode.encode(sentences[:8])  # warm up
        t, c = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            encode.encode(sentences, batch_size=N_CANDIDATES)
        out[f"ms_per_60_sentences_{threads}_threads"] = round(
            1000 * (time.perf_counter() - t) / repeats, 1
        )
        out[f"cpu_ms_per_60_sentences_{threads}_threads"] = round(
            1000 * (time.process_time() - c) / repeats, 1
        )
    return out


def bench_int8(sentences: list[str], repeats: int = 5) -> dict:
    from int8_tokens import Int8Encoder

    enc = Int8Encoder()
    enc.encode(sentences[:8])
    t, c = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        enc.encode(sentences, batch_size=N_CANDIDATES)
    return {
        "ms_per_60_sentences": round(1000 * (time.perf_counter() - t) / repeats, 1),
        "cpu_ms_per_60_sentences": round(1000 * (time.process_time() - c) / repeats, 1),
    }


def int8_study(reader: Reader, args: argparse.Namespace, stem: F.Stem) -> dict:
    from int8_tokens import Int8Encoder

    t = time.perf_counter()
    enc8 = Int8Encoder()
    export_s = time.perf_counter() - t
    dev = T.load_split(args.dev, "dev", stem)
    sentences = squad.all_sentences(dev.paragraphs)
    t = time.perf_counter()
    s8 = enc8.encode(sentences)
    q8 = enc8.encode([q.text for q in dev.questions])
    encode_s = time.perf_counter() - t
    fp = dev.s_enc
    same = np.array_equal(fp.start, s8.start)
    tok_cos = (fp.tokens.astype(np.float32) * s8.tokens).sum(1) if same else np.zeros(1)
    pooled_cos = (fp.pooled * s8.pooled).sum(1)
    s8.tokens = s8.tokens.astype(np.float32)
    q8.tokens = q8.tokens.astype(np.float32)
    dev.s_enc, dev.q_enc = s8, q8
    tf = T.term_freqs(dev, stem)
    thr = float(json.loads(Path(args.weights).read_text())["thresholds"]["answerability_logit"])
    results = {
        "same_tokenization": bool(same),
        "token_cosine_int8_vs_fp32_mean": round(float(tok_cos.mean()), 4),
        "token_cosine_p05": round(float(np.quantile(tok_cos, 0.05)), 4),
        "pooled_cosine_mean": round(float(pooled_cos.mean()), 4),
        "export_or_load_s": round(export_s, 1),
        "encode_dev_s": round(encode_s, 1),
        "texts": len(sentences) + len(dev.questions),
    }
    for setting in ("paragraph", "retrieved"):
        scored = T.evaluate(dev, reader.ranker, reader.answer, setting, tf)
        results[setting] = T.summary(scored, thr)
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / "reader-v1.json"))
    ap.add_argument("--dev", default="/work/shared/data/squad2-partial/dev-10-articles.json")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--int8-speed-only", action="store_true")
    args = ap.parse_args()
    stem = F.default_stem()
    reader = Reader.load(args.weights)
    dev = T.load_split(args.dev, "dev", stem)
    tf = T.term_freqs(dev, stem)
    report = {"reader": bench_reader(reader, dev, tf, args.questions)}
    print(json.dumps(report, indent=1), flush=True)
    sample = [s for s in squad.all_sentences(dev.paragraphs)[:600:10]][:N_CANDIDATES]
    report["torch_fp32_encoder"] = bench_torch(sample)
    print(json.dumps(report["torch_fp32_encoder"], indent=1), flush=True)
    if args.int8_speed_only:
        print(json.dumps(bench_int8(sample), indent=1), flush=True)
    if args.int8:
        report["int8_encoder"] = bench_int8(sample)
        print(json.dumps(report["int8_encoder"], indent=1), flush=True)
        report["int8"] = int8_study(reader, args, stem)
        print(json.dumps(report["int8"], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
