"""Updates cost what changed: incremental writes against the full-rewrite path, in one run.

At a synthetic archive (200,000 one-chunk briefs, stand-in vectors: bench/stand_in_vectors.py;
MiniLM embeds ~10 chunks/s here, so the base is never embedded; the articles an update adds are
embedded for real) and at the news corpus (stand-in vectors for its base too):

- wall and peak RSS of an unchanged re-run, +10 articles, -10 articles, and +10 articles through
  the full-rewrite path (``build_index(rewrite=True)``: what every build did before segments);
- top-10 passages (ids and scores) of a segmented index against a fresh build of the same
  corpus, and before against after a merge (``--optimize``);
- retrieve() p50/p95 with 20 small segments against the merged index.

    .venv/bin/python bench/bench_updates.py [--chunks 200000] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_corpus import _brief, news_questions, synthetic_questions  # noqa: E402
from bench_measure import in_child, percentile_ms, timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT.parent / "shared" / "data" / "multihop-rag"


def step_build(corpus: str, index: str, rewrite: bool, optimize: bool) -> dict[str, Any]:
    """One build in a fresh process; ``seconds`` times build_index with the model loaded and
    the chunker and the build's modules imported (as in the web chat's server after its first
    update: langchain alone takes a second or more to import), ``wall_s`` the whole process."""
    import faiss  # noqa: F401  (a server has its index open, so FAISS loaded)

    import qa
    import qa.index.build  # noqa: F401  (qa.build_index is imported on first use)
    from qa.embed.encoder import open_encoder
    from qa.index.local import generation as store
    from qa.ingest.chunking import Chunker
    from qa.text.tokens import tokenize

    encoder = open_encoder()
    encoder.encode_documents(["warm up"])  # first inference compiles; a server has done it
    tokenize(["warm up"])
    Chunker(encoder.count_tokens)  # imports langchain's splitter (Chunker imports it lazily)
    report, seconds = timed(
        lambda: qa.build_index(corpus, index, encoder=encoder, rewrite=rewrite, optimize=optimize)
    )
    segments = len(store.open_generation(index).segments)
    return {
        "seconds": seconds,
        "embedded": report.chunks_embedded,
        "embed_seconds": report.embed_seconds,
        "chunks": report.chunks,
        "added": len(report.added),
        "removed": len(report.removed),
        "segments": segments,
    }


def step_small_updates(corpus: str, index: str, lines: list[str]) -> dict[str, Any]:
    """One build per line appended (one process, the model loaded once), automatic merges off."""
    import qa
    from qa.embed.encoder import open_encoder
    from qa.index.local import writer

    writer.AUTO_MERGE_SEGMENTS = 10_000  # this measurement wants the segments
    encoder = open_encoder()
    encoder.encode_documents(["warm up"])
    seconds = []
    folder = str(Path(corpus).parent)  # as the other steps give it: stamps are per corpus path
    for line in lines:
        with open(corpus, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        seconds.append(timed(lambda: qa.build_index(folder, index, encoder=encoder))[1])
    return {"p50": percentile_ms(seconds, 50), "max": max(seconds) * 1000}


def step_rankings(index: str, questions: list[str]) -> dict[str, Any]:
    """Top-10 passages of each question, and retrieve() latency (the Assistant opened once)."""
    import qa

    assistant = qa.Assistant.open(index)
    for q in questions[:5]:
        assistant.retrieve(q, k=10)
    ranked, seconds = [], []
    for q in questions:
        passages, took = timed(lambda q=q: assistant.retrieve(q, k=10))
        seconds.append(took)
        ranked.append([[p.article_id, p.start, p.score] for p in passages])
    return {
        "ranked": ranked,
        "p50": percentile_ms(seconds, 50),
        "p95": percentile_ms(seconds, 95),
        "segments": assistant.index.segment_count,
    }


def compare(a: list, b: list) -> str:
    """Questions with the same top-10 ids in the same order, and the largest score difference
    among those."""
    same = [x for x, y in zip(a, b) if [p[:2] for p in x] == [p[:2] for p in y]]
    diff = max(
        (abs(p[2] - q[2]) for x, y in zip(a, b) for p, q in zip(x, y) if p[:2] == q[:2]),
        default=0.0,
    )
    return f"{len(same)}/{len(a)} identical top-10 ids, max |score diff| {diff:.1e}"


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _stand_in(corpus: Path, index: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "bench" / "stand_in_vectors.py"
    subprocess.run([sys.executable, str(script), str(corpus), str(index)], check=True, env=env)


def _row(rows: list, name: str, value: str) -> None:
    rows.append((name, value))
    print(f"{name:<52} {value}", flush=True)


def _updates(
    rows: list, col: str, folder: Path, lines: list[str], extra: list[str], questions, n: int
) -> None:
    """Unchanged, +n, -n, +n by full rewrite; 20 small segments vs merged; segmented vs fresh.

    ``extra`` holds 2n + 20 articles not in ``lines``.
    """
    corpus, index = folder / "corpus" / "articles.jsonl", folder / "index"
    if not (index / "CURRENT").exists():
        corpus.parent.mkdir(parents=True, exist_ok=True)
        _write(corpus, lines)
        _stand_in(corpus.parent, index)
        fresh = in_child(step_build, str(corpus.parent), str(index), False, False)
        _row(rows, f"{col}: fresh build (stand-in vectors)", f"{fresh['seconds']:.1f} s")
    run = lambda rewrite=False, optimize=False: in_child(  # noqa: E731
        step_build, str(corpus.parent), str(index), rewrite, optimize
    )
    again = run()
    _row(
        rows, f"{col}: unchanged re-run", f"{again['seconds']:.2f} s, {again['peak_rss_mb']:.0f} MB"
    )
    current = lines + extra[:n]
    _write(corpus, current)
    plus = run()
    _row(
        rows,
        f"{col}: +{n} articles (segments)",
        f"{plus['seconds']:.2f} s ({plus['embedded']} embedded in {plus['embed_seconds']:.2f} s), "
        f"{plus['peak_rss_mb']:.0f} MB, {plus['segments']} segments",
    )
    middle = len(lines) // 2
    current = current[:middle] + current[middle + n :]
    _write(corpus, current)
    minus = run()
    _row(
        rows,
        f"{col}: -{n} articles (deletions)",
        f"{minus['seconds']:.2f} s, {minus['peak_rss_mb']:.0f} MB",
    )
    current = current + extra[n : 2 * n]
    _write(corpus, current)
    full = run(rewrite=True)
    _row(
        rows,
        f"{col}: +{n} articles, full-rewrite path",
        f"{full['seconds']:.2f} s ({full['embedded']} embedded in {full['embed_seconds']:.2f} s), "
        f"{full['peak_rss_mb']:.0f} MB",
    )
    _row(
        rows,
        f"{col}: +{n} speed-up, segments vs full rewrite",
        f"{full['seconds'] / plus['seconds']:.1f}x",
    )
    small = in_child(step_small_updates, str(corpus), str(index), extra[2 * n : 2 * n + 20])
    _row(
        rows,
        f"{col}: +1 article x20 (one process): p50 | max",
        f"{small['p50']:.0f} | {small['max']:.0f} ms",
    )
    segmented = in_child(step_rankings, str(index), questions)
    copy = folder / "fresh"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index, copy)
    in_child(step_build, str(corpus.parent), str(copy), True, False)  # a fresh single segment
    rebuilt = in_child(step_rankings, str(copy), questions)
    merged_build = run(optimize=True)
    merged = in_child(step_rankings, str(index), questions)
    _row(rows, f"{col}: merge (--optimize) wall", f"{merged_build['seconds']:.1f} s")
    _row(
        rows,
        f"{col}: retrieve p50 | p95, {segmented['segments']} segments",
        f"{segmented['p50']:.0f} | {segmented['p95']:.0f} ms",
    )
    _row(
        rows,
        f"{col}: retrieve p50 | p95, merged",
        f"{merged['p50']:.0f} | {merged['p95']:.0f} ms "
        f"(ratio {segmented['p50'] / merged['p50']:.2f} | {segmented['p95'] / merged['p95']:.2f})",
    )
    q = len(questions)
    _row(
        rows,
        f"{col}: segmented vs fresh build ({q} q)",
        compare(segmented["ranked"], rebuilt["ranked"]),
    )
    _row(
        rows,
        f"{col}: before vs after merge ({q} q)",
        compare(segmented["ranked"], merged["ranked"]),
    )
    _row(
        rows, f"{col}: merged vs fresh build ({q} q)", compare(merged["ranked"], rebuilt["ranked"])
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chunks", type=int, default=200_000, help="synthetic archive size")
    p.add_argument("--questions", type=int, default=200, help="synthetic questions")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/newsqa-bench-updates"))
    p.add_argument("--skip-news", action="store_true")
    p.add_argument("--skip-large", action="store_true")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows: list = []
    started = time.perf_counter()
    if not args.skip_news:
        news = [line for line in (NEWS / "articles.jsonl").read_text().splitlines() if line.strip()]
        # the last 22 articles: 1 added, 1 by full rewrite, 20 one at a time
        questions = news_questions(NEWS / "dev_questions.jsonl", 10_000)
        _updates(rows, "news", args.workdir / "news", news[:-22], news[-22:], questions, 1)
    if not args.skip_large:
        import random

        rng = random.Random(7)
        briefs = [_brief(rng, i) for i in range(args.chunks + 30)]
        for b in briefs:
            b.pop("facts")
        lines = [json.dumps(b) for b in briefs]  # as bench_corpus.write_synthetic writes them
        base = args.chunks - 10  # +10 makes the archive the size asked
        _updates(
            rows,
            f"synthetic {args.chunks // 1000}k",
            args.workdir / "synthetic",
            lines[:base],
            lines[base : base + 40],
            synthetic_questions(args.chunks, args.questions),
            10,
        )
    print(f"\n(bench_updates took {time.perf_counter() - started:.0f} s)")
    (args.workdir / "rows.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
