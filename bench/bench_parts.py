"""The benchmark steps. Each runs in its own process (see bench_measure.in_child)."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from bench_measure import percentile_ms, timed


def step_export(backend: str) -> dict[str, Any]:
    """Load (and the first time, export) the optimized backend."""
    from qa.embed.encoder import open_encoder

    embedder, seconds = timed(lambda: open_encoder(backend=backend))
    return {"seconds": seconds, "export_sha256": embedder.info.export_sha256}


def step_build(corpus: str, index: str, backend: str) -> dict[str, Any]:
    import qa

    report, seconds = timed(lambda: qa.build_index(corpus, index, backend=backend))
    return {
        "seconds": seconds,
        "chunks": report.chunks,
        "embedded": report.chunks_embedded,
        "embed_seconds": report.embed_seconds,
        "added": len(report.added),
        "articles": report.articles,
    }


def step_latency(index: str, questions: list[str], profile: bool) -> dict[str, Any]:
    """retrieve() and ask() latency of an Assistant opened once, as a server would."""
    import qa

    assistant, open_seconds = timed(lambda: qa.Assistant.open(index))
    for q in questions[:5]:  # warm caches and lazy imports
        assistant.ask(q)
    retrieve = [timed(lambda q=q: assistant.retrieve(q, k=10))[1] for q in questions]
    ask = [timed(lambda q=q: assistant.ask(q))[1] for q in questions]
    out = {
        "open_seconds": open_seconds,
        "questions": len(questions),
        "retrieve_p50": percentile_ms(retrieve, 50),
        "retrieve_p95": percentile_ms(retrieve, 95),
        "ask_p50": percentile_ms(ask, 50),
        "ask_p95": percentile_ms(ask, 95),
        "chunks": assistant.stats()["chunks"],
        "vector_kind": assistant.index.manifest.vectors.get("type"),
        "sentence_bytes": getattr(assistant.index, "sentence_terms_bytes", 0),  # local only
    }
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for q in questions[:100]:
            assistant.retrieve(q, k=10)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def step_encode_ratio(index: str, count: int, backend: str) -> dict[str, Any]:
    """Plain sentence-transformers fp32 against ``backend`` on the same chunks, interleaved."""
    from sentence_transformers import SentenceTransformer

    from qa.embed.encoder import open_encoder
    from qa.embed.model import bundled_model_dir
    from qa.index.local import generation as store

    gen = store.open_generation(index)
    rows = np.linspace(0, gen.chunk_count - 1, min(count, gen.chunk_count)).astype(int)
    texts = [c.text for c in gen.chunks_at(sorted(set(rows.tolist())))]
    gen.close()
    plain = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    fast = open_encoder(backend=backend)
    plain.encode(texts[:8])
    fast.encode_documents(texts[:8])
    t_plain = t_fast = 0.0
    cosines = []
    for begin in range(0, len(texts), 256):  # alternate blocks, so load changes hit both alike
        block = texts[begin : begin + 256]
        a, secs = timed(lambda b=block: plain.encode(b, batch_size=64, normalize_embeddings=True))
        t_plain += secs
        b, secs = timed(lambda b=block: fast.encode_documents(b))
        t_fast += secs
        cosines.append(np.sum(np.asarray(a) * b, axis=1))
    cos = np.concatenate(cosines)
    return {
        "chunks": len(texts),
        "fp32_rate": len(texts) / t_plain,
        "fast_rate": len(texts) / t_fast,
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "cos_p01": float(np.percentile(cos, 1)),
    }


def step_recall(index: str, questions: list[str]) -> dict[str, Any]:
    """Recall of the index's vector search against exact search, and its bytes per chunk."""
    import faiss

    from qa.embed.encoder import open_encoder
    from qa.index.local import generation as store

    gen = store.open_generation(index)
    embedder = open_encoder(backend=gen.manifest.model["backend"])
    queries = embedder.encode_queries(questions)
    # the largest segment (a fresh build has one): it scans 8-bit codes from CODES_FROM chunks
    largest = max(gen.segments, key=lambda s: s.chunk_count)
    vectors = largest.vectors
    exact = faiss.IndexFlatIP(vectors.dimension)
    exact.add(vectors.vectors_at(np.arange(vectors.size)))
    out: dict[str, Any] = {"kind": vectors.kind, "chunks": vectors.size}
    for k in (10, 600):
        _, approx_rows = vectors.search(queries, k)
        _, exact_rows = exact.search(queries, k)
        overlap = [len(set(a) & set(b)) / k for a, b in zip(approx_rows, exact_rows)]
        out[f"recall@{k}"] = float(np.mean(overlap))
    searches = [timed(lambda q=q: vectors.search(q, 600))[1] for q in queries]
    out["search600_p50_ms"] = percentile_ms(searches, 50)
    out["vector_bytes_per_chunk"] = (largest.path / "vectors.faiss").stat().st_size / vectors.size
    gen.close()
    return out


def step_quality(index: str, questions: str) -> dict[str, Any]:
    import qa

    result = qa.evaluate(qa.Assistant.open(index), questions, k=10)
    overall = result.summary["all"]
    return {key: overall.get(key) for key in ("hits@10", "hits@4", "mrr@10", "recall@k")}


def cold_ask(index: str, question: str) -> float:
    """Seconds for a whole `qa ask` process: start, load model and index, answer, exit."""
    qa_bin = Path(sys.executable).with_name("qa")
    started = time.perf_counter()
    subprocess.run(
        [str(qa_bin), "ask", question, "--index", index],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return time.perf_counter() - started


def serve_ready(index: str, corpus: str, port: int, timeout: float = 180.0) -> float:
    """Seconds from starting `qa serve` until its page answers on 127.0.0.1 (then stop it)."""
    qa_bin = Path(sys.executable).with_name("qa")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(qa_bin), "serve", "--index", index, "--corpus", corpus, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"qa serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"qa serve not ready after {timeout:.0f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def step_reader_latency(index: str, questions: list[str]) -> dict[str, Any]:
    """ask() with today's scoring ("none") and the trained reader, question by question.

    One Assistant (one retrieval setup), each reader with its own empty caches; the two readers
    alternate which goes first on each question, so load on the machine hits both alike. Also
    what the trained reader's word-piece vectors cost per chunk, to price caching them at
    index time instead.
    """
    import qa
    from qa.answer.extractive import ExtractiveReader
    from qa.answer.trained import TrainedReader
    from qa.config import DEFAULT_ANSWER_K

    assistant = qa.Assistant.open(index)
    encoder = assistant.encoder
    readers = {"none": ExtractiveReader(encoder), "trained": TrainedReader(encoder)}
    k = DEFAULT_ANSWER_K
    assistant.respond(questions[0], k=k, answer_k=k, reader=readers["trained"])  # lazy export
    times: dict[str, list[float]] = {name: [] for name in readers}
    for n, q in enumerate(questions):
        order = list(readers) if n % 2 == 0 else list(reversed(readers))
        for name in order:
            _, seconds = timed(
                lambda q=q, r=readers[name]: assistant.respond(q, k=k, answer_k=k, reader=r)
            )
            times[name].append(seconds)
    cache = readers["trained"].sentences
    kept = len(cache)  # chunks whose word-piece vectors are held
    out: dict[str, Any] = {"questions": len(questions)}
    for name, values in times.items():
        out[f"{name}_p50"] = percentile_ms(values, 50)
        out[f"{name}_p95"] = percentile_ms(values, 95)
    out["token_bytes_per_chunk"] = cache.nbytes / max(kept, 1)
    out["chunks_kept"] = kept
    return out
