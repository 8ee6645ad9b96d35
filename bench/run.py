"""`make bench`: index build, incremental updates, embedding speed, query latency, memory, size.

One command, one table. Two corpora side by side: the 609-article MultiHop-RAG news set (read
from shared/, never copied into the repo; scratch copies go to the work folder) and a synthetic
corpus of about 200,000 one-chunk news briefs generated from a fixed seed. The embedding speed-up
is measured in the same run: plain sentence-transformers fp32 against the optimized backend on
the same chunks, in alternating blocks.

    .venv/bin/python bench/run.py                  # everything (~45-60 min on 2 cores)
    .venv/bin/python bench/run.py --quick          # 20,000 synthetic chunks, fewer samples
    .venv/bin/python bench/run.py --skip-large     # news corpus only (~8 min)
    .venv/bin/python bench/run.py --quality        # + fp32 news index and Hits@10 of both

To compare behaviour and speed before and after a change on an existing index (same top-k,
same answers, latency side by side), see bench/compare_revisions.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_corpus import (  # noqa: E402
    news_questions,
    synthetic_questions,
    write_news,
    write_synthetic,
)
from bench_measure import dir_mb, fmt_duration, in_child  # noqa: E402
from bench_parts import (  # noqa: E402
    cold_ask,
    serve_ready,
    step_build,
    step_encode_ratio,
    step_export,
    step_latency,
    step_quality,
    step_reader_latency,
    step_recall,
)
from bench_scale import engines_part, ray_part  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "multihop-rag"
MARKER = ".newsqa-bench"
ADDED = 10


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20k synthetic chunks, smaller samples")
    p.add_argument("--skip-news", action="store_true", help="leave out the news corpus")
    p.add_argument("--skip-large", action="store_true", help="leave out the synthetic corpus")
    p.add_argument("--skip-serve", action="store_true", help="leave out `qa serve` start-up")
    p.add_argument(
        "--skip-updates", action="store_true", help="leave out bench/bench_updates.py's rows"
    )
    p.add_argument("--quality", action="store_true", help="fp32 news index + Hits@10 of both")
    p.add_argument("--profile", action="store_true", help="print a cProfile of retrieve()")
    p.add_argument("--skip-milvus", action="store_true", help="leave out the milvus-lite column")
    p.add_argument("--skip-ray", action="store_true", help="leave out the Ray embedding rows")
    p.add_argument("--large-chunks", type=int, help="synthetic corpus size (default 200000)")
    p.add_argument("--questions", type=int, default=200, help="questions per latency run")
    p.add_argument("--ratio-chunks", type=int, help="chunks for the fp32 ratio (default 2048)")
    p.add_argument("--backend", default="openvino-int8", help="optimized embedding backend")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "newsqa-bench")
    args = p.parse_args(argv)
    args.large_chunks = args.large_chunks or (20_000 if args.quick else 200_000)
    args.ratio_chunks = args.ratio_chunks or (512 if args.quick else 2048)
    args.skip_milvus = args.skip_milvus or not importlib.util.find_spec("milvus_lite")
    args.skip_ray = args.skip_ray or not importlib.util.find_spec("ray")
    return args


def _fresh_workdir(path: Path) -> None:
    if path.exists():
        if not (path / MARKER).exists():
            sys.exit(f"{path} exists and is not a bench folder; pass another --workdir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).touch()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Table:
    """Rows of measures, one column per corpus."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows: dict[str, dict[str, str]] = {}

    def put(self, column: str, row: str, value: str) -> None:
        self.rows.setdefault(row, {})[column] = value
        print(f"  [{column}] {row}: {value}", file=sys.stderr, flush=True)

    def render(self) -> str:
        width = max(len(r) for r in self.rows) + 2
        cells = [max([len(c)] + [len(v.get(c, "")) for v in self.rows.values()]) + 2 for c in self]
        lines = [f"{'measure':<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(self, cells))]
        lines.append("-" * len(lines[0]))
        for row, values in self.rows.items():
            lines.append(
                f"{row:<{width}}"
                + "".join(f"{values.get(c, '-'):>{w}}" for c, w in zip(self, cells))
            )
        return "\n".join(lines)

    def __iter__(self):
        return iter(self.columns)


def _corpus_part(
    table: Table, col: str, args: argparse.Namespace, folder: Path, write, questions: list[str]
) -> None:
    """Build, rebuild unchanged, add 10 articles, embedding ratio, latency, recall, sizes."""
    corpus, index = folder / "articles.jsonl", folder / "index"
    write(corpus, skip_last=ADDED)
    fresh = in_child(step_build, str(corpus), str(index), args.backend)
    table.put(col, "chunks indexed", f"{fresh['chunks']:,}")
    table.put(col, "build, fresh: wall", fmt_duration(fresh["seconds"]))
    table.put(col, "build, fresh: chunks/s (overall)", f"{fresh['chunks'] / fresh['seconds']:.1f}")
    table.put(col, "build, fresh: chunks/s (embedding)", _rate(fresh))
    table.put(col, "build, fresh: peak RSS", f"{fresh['peak_rss_mb']:.0f} MB")
    again = in_child(step_build, str(corpus), str(index), args.backend)
    table.put(
        col,
        "build, unchanged: wall (process)",
        f"{again['seconds']:.2f} s ({again['wall_s']:.1f} s)",
    )
    write(corpus, skip_last=0)
    added = in_child(step_build, str(corpus), str(index), args.backend)
    table.put(
        col,
        f"build, +{ADDED} articles: wall",
        f"{added['seconds']:.1f} s ({added['embedded']} chunks embedded)",
    )
    ratio = in_child(step_encode_ratio, str(index), args.ratio_chunks, args.backend)
    table.put(
        col,
        "embed chunks/s: st fp32 | optimized",
        f"{ratio['fp32_rate']:.1f} | {ratio['fast_rate']:.1f}",
    )
    table.put(
        col,
        "embed speed-up (same chunks, same run)",
        f"{ratio['fast_rate'] / ratio['fp32_rate']:.2f}x on {ratio['chunks']:,}",
    )
    table.put(
        col,
        "cosine to fp32: mean (p1, min)",
        f"{ratio['cos_mean']:.4f} ({ratio['cos_p01']:.3f}, {ratio['cos_min']:.3f})",
    )
    lat = in_child(step_latency, str(index), questions, args.profile)
    table.put(col, "Assistant.open (in process)", f"{lat['open_seconds']:.1f} s")
    table.put(
        col,
        f"retrieve() p50 | p95 ({lat['questions']} q)",
        f"{lat['retrieve_p50']:.0f} | {lat['retrieve_p95']:.0f} ms",
    )
    table.put(
        col,
        f"ask() p50 | p95 ({lat['questions']} q)",
        f"{lat['ask_p50']:.0f} | {lat['ask_p95']:.0f} ms",
    )
    table.put(col, "query process peak RSS", f"{lat['peak_rss_mb']:.0f} MB")
    if not args.skip_milvus:
        engines = {"local": col, "milvus-lite": f"{col}, milvus-lite"}
        engines_part(table, engines, folder / "engines", write, index, questions)
    if not args.skip_ray:
        ray_part(table, col, index, args.ratio_chunks, args.backend)
    sentence_bytes = lat["sentence_bytes"]
    table.put(
        col,
        "sentence index in memory",
        f"{sentence_bytes / 1e6:.0f} MB ({sentence_bytes / lat['chunks']:.0f} bytes/chunk)",
    )
    if lat.get("profile"):
        print(f"\n--- retrieve() profile, {col} ---\n{lat['profile']}", file=sys.stderr)
    rec = in_child(step_recall, str(index), questions)
    table.put(col, "vector index", rec["kind"])
    table.put(
        col, "vector recall@10 | @600 vs exact", f"{rec['recall@10']:.3f} | {rec['recall@600']:.3f}"
    )
    table.put(col, "vector search k=600 p50", f"{rec['search600_p50_ms']:.1f} ms")
    live = dir_mb(index, exclude=("cache",))
    table.put(
        col,
        "index on disk (+ embedding cache)",
        f"{live:.0f} MB (+{dir_mb(index / 'cache'):.0f} MB)",
    )
    per_chunk = live * 1e6 / max(fresh["chunks"], 1) / 2  # two generations are kept on disk
    table.put(
        col,
        "bytes/chunk: generation | vectors",
        f"{per_chunk:,.0f} | {rec['vector_bytes_per_chunk']:,.0f}",
    )


def _rate(build: dict) -> str:
    return f"{build['embedded'] / build['embed_seconds']:.1f}" if build["embed_seconds"] else "-"


def _news(table: Table, args: argparse.Namespace) -> None:
    col = "news (609 art.)"
    folder = args.workdir / "news"
    folder.mkdir()
    source = NEWS / "articles.jsonl"
    questions = news_questions(NEWS / "dev_questions.jsonl", args.questions)
    _corpus_part(
        table,
        col,
        args,
        folder,
        lambda p, skip_last: write_news(source, p, skip_last=skip_last),
        questions,
    )
    index = str(folder / "index")
    readers = in_child(step_reader_latency, index, questions)
    table.put(
        col,
        f"ask() p50 | p95, reader none ({readers['questions']} q)",
        f"{readers['none_p50']:.0f} | {readers['none_p95']:.0f} ms",
    )
    table.put(
        col,
        "ask() p50 | p95, reader trained (same run)",
        f"{readers['trained_p50']:.0f} | {readers['trained_p95']:.0f} ms "
        f"({readers['trained_p50'] / readers['none_p50']:.2f}x)",
    )
    table.put(
        col,
        "word-piece vectors per chunk (reader)",
        f"{readers['token_bytes_per_chunk'] / 1e3:.0f} KB",
    )
    first, second = cold_ask(index, questions[0]), cold_ask(index, questions[1])
    table.put(col, "`qa ask` cold start: 1st | 2nd", f"{first:.1f} | {second:.1f} s")
    if not args.skip_serve:
        ready = serve_ready(index, str(folder / "uploads"), _free_port())
        table.put(col, "`qa serve` time to ready", f"{ready:.1f} s")
    if args.quality:
        fp32 = in_child(
            step_build, str(folder / "articles.jsonl"), str(folder / "index-fp32"), "torch"
        )
        table.put(
            col,
            "build, fresh, torch fp32: wall | chunks/s",
            f"{fmt_duration(fp32['seconds'])} | {_rate(fp32)}",
        )
        q_path = str(NEWS / "dev_questions.jsonl")
        base = in_child(step_quality, str(folder / "index-fp32"), q_path)
        fast = in_child(step_quality, index, q_path)
        for key in ("hits@10", "hits@4", "mrr@10"):
            table.put(col, f"{key}: fp32 | {args.backend}", f"{base[key]:.4f} | {fast[key]:.4f}")


def _large(table: Table, args: argparse.Namespace) -> None:
    n = args.large_chunks
    col = f"synthetic ({n // 1000}k)"
    folder = args.workdir / "synthetic"
    folder.mkdir()
    questions = synthetic_questions(n, args.questions)
    _corpus_part(
        table,
        col,
        args,
        folder,
        lambda p, skip_last: write_synthetic(p, n, skip_last=skip_last),
        questions,
    )


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if not args.skip_news and not (NEWS / "articles.jsonl").exists():
        sys.exit(f"news data not found at {NEWS}; pass --skip-news")
    _fresh_workdir(args.workdir)
    os.environ.setdefault("QA_CACHE_DIR", str(args.workdir / "models"))
    corpora = ([] if args.skip_news else ["news (609 art.)"]) + (
        [] if args.skip_large else [f"synthetic ({args.large_chunks // 1000}k)"]
    )
    milvus = [] if args.skip_milvus else [f"{c}, milvus-lite" for c in corpora]
    columns = [c for pair in zip(corpora, milvus) for c in pair] if milvus else corpora
    table = Table(columns or ["-"])
    started = time.perf_counter()
    export = in_child(step_export, args.backend)
    first = columns[0] if columns else "-"
    table.put(first, f"{args.backend} model export (once)", f"{export['seconds']:.1f} s")
    durations = []
    for name, part, skip in (
        ("news", _news, args.skip_news),
        ("synthetic", _large, args.skip_large),
    ):
        if not skip:
            part_started = time.perf_counter()
            part(table, args)
            durations.append(f"{name} {fmt_duration(time.perf_counter() - part_started)}")
    total = fmt_duration(time.perf_counter() - started)
    print(
        f"\nnewsqa bench: {args.backend} against sentence-transformers fp32 (torch), "
        f"{os.cpu_count()} CPUs, work folder {args.workdir}"
    )
    print(table.render())
    print(f"\ntook {total}: " + ", ".join(durations))
    if not args.skip_updates:  # updates against the full-rewrite path, segments, rankings
        import bench_updates

        print("\n-- updates (bench/bench_updates.py) --", flush=True)
        extra = (["--skip-news"] if args.skip_news else []) + (
            ["--skip-large"] if args.skip_large else []
        )
        bench_updates.main(
            ["--workdir", str(args.workdir / "updates"), "--chunks", str(args.large_chunks)] + extra
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
