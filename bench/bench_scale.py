"""`make bench` parts for scale-out: the local engine against milvus-lite side by side, and the
embedding rate on Ray actors (1 and 2 workers against the plain encoder, same chunks).

Both engines are measured on the same corpus in the same run, with the vectors already in the
embedding cache (copied from the local build of the same run), so the rows compare what the
engines themselves cost: writing a fresh index, +10 articles, and query latency.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from bench_measure import fmt_duration, in_child, timed
from bench_parts import step_latency

ADDED = 10


def step_cached_build(corpus: str, location: str) -> dict[str, Any]:
    """A build whose vectors all come from the embedding cache."""
    import qa

    report, seconds = timed(lambda: qa.build_index(corpus, location))
    return {"seconds": seconds, "chunks": report.chunks, "embedded": report.chunks_embedded}


def step_ray_rates(index: str, count: int, backend: str) -> dict[str, Any]:
    """Chunks/s of the plain encoder and of Ray pools of 1 and 2 workers on the same chunks."""
    from qa.embed.encoder import open_encoder
    from qa.embed.ray_pool import RayEncoder
    from qa.index.local import generation as store

    gen = store.open_generation(index)
    rows = np.linspace(0, gen.chunk_count - 1, min(count, gen.chunk_count)).astype(int)
    texts = [c.text for c in gen.chunks_at(sorted(set(rows.tolist())))]
    gen.close()
    local = open_encoder(backend=backend)
    local.encode_documents(texts[:8])
    out: dict[str, Any] = {"chunks": len(texts)}
    _, seconds = timed(lambda: local.encode_documents(texts))
    out["plain"] = len(texts) / seconds
    reference = local.encode_documents(texts[:256])
    for workers in (1, 2):
        with RayEncoder(workers=workers, local=local) as pool:
            pool.encode_documents(texts[:8])  # warm the actors
            vectors, seconds = timed(lambda p=pool: p.encode_documents(texts))
        out[f"ray{workers}"] = len(texts) / seconds
        out[f"ray{workers}_cos_min"] = float(np.sum(vectors[:256] * reference, axis=1).min())
    return out


def _copy_cache(local_index: Path, cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(local_index / "cache" / "embeddings.sqlite", cache_file)


def engines_part(
    table: Any,
    columns: dict[str, str],
    folder: Path,
    write: Any,
    local_index: Path,
    questions: list[str],
) -> None:
    """Local and milvus-lite, vectors cached: fresh build, +10 articles, latency.

    ``columns`` names the table column of each engine ("local", "milvus-lite").
    """
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "articles.jsonl"
    places = {
        "local": (
            str(folder / "local-cached"),
            folder / "local-cached" / "cache" / "embeddings.sqlite",
        ),
        "milvus-lite": (
            f"milvus-lite:{folder / 'milvus.db'}",
            folder / "milvus.db.cache" / "embeddings.sqlite",
        ),
    }
    for _, cache in places.values():
        _copy_cache(local_index, cache)
    write(corpus, skip_last=ADDED)
    fresh = {e: in_child(step_cached_build, str(corpus), loc) for e, (loc, _) in places.items()}
    write(corpus, skip_last=0)
    added = {e: in_child(step_cached_build, str(corpus), loc) for e, (loc, _) in places.items()}
    latency = {e: in_child(step_latency, loc, questions, False) for e, (loc, _) in places.items()}
    for engine in places:
        f, a, lat = fresh[engine], added[engine], latency[engine]
        cells = {
            "engine build, vectors cached: wall | chunks/s": (
                f"{fmt_duration(f['seconds'])} | {f['chunks'] / f['seconds']:.0f}"
            ),
            f"engine +{ADDED} articles, vectors cached": f"{a['seconds']:.1f} s",
            f"engine retrieve() p50 | p95 ({lat['questions']} q)": (
                f"{lat['retrieve_p50']:.0f} | {lat['retrieve_p95']:.0f} ms"
            ),
            "engine ask() p50 | p95": f"{lat['ask_p50']:.0f} | {lat['ask_p95']:.0f} ms",
        }
        for row, value in cells.items():
            table.put(columns[engine], row, value)


def ray_part(table: Any, column: str, local_index: Path, count: int, backend: str) -> None:
    """Ray rows: chunks/s with 1 and 2 workers here, and what 16 cores would give."""
    rates = in_child(step_ray_rates, str(local_index), count, backend)
    one, two = rates["ray1"], rates["ray2"]
    table.put(
        column,
        f"Ray embed chunks/s: plain | 1 | 2 workers ({rates['chunks']:,} chunks)",
        f"{rates['plain']:.1f} | {one:.1f} | {two:.1f}",
    )
    table.put(
        column,
        "Ray vectors: min cosine to plain (256 chunks)",
        f"{min(rates['ray1_cos_min'], rates['ray2_cos_min']):.6f}",
    )
    efficiency = two / (2 * one)
    table.put(
        column,
        "Ray: 16 cores, by the measured per-worker rate",
        f"~{16 * one * efficiency:.0f} chunks/s ({efficiency:.0%} of linear at 2 workers)",
    )
