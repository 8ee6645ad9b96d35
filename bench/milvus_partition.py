"""Which Milvus partition key serves filtered searches best: none, outlet, or a month bucket.

Builds three chunks-like collections with the same rows on real milvus-lite and measures them
side by side in one run, queries interleaved (the variant order rotates per query) so that load
on the shared machine hits all three alike:

- ``none``:   no partition key (the schema before this measurement);
- ``outlet``: ``is_partition_key`` on ``outlet_key`` (the casefolded outlet);
- ``month``:  ``is_partition_key`` on ``month`` (YYYYMM, 0 undated); date filters also get
  ``month in [...]`` so that a server can prune partitions by it.

Rows (fixed seed, nothing read from disk): ``--rows`` chunks; 384-d float32 unit vectors drawn
around 256 random topic centres (cosine to the centre about 0.5, so queries have real
neighbourhoods: uniform random vectors in 384-d have none); 50 outlets with Zipf-like shares
(share of rank r proportional to 1/r^1.1: the largest about 23%, the rarest about 0.3%); dates
uniform over 2021-2023, 2% undated. No text and no BM25 field: only dense search is measured.
Queries are 384-d vectors around random topic centres; each is searched top ``--k`` (600,
the dense candidate depth measured here) with no filter, one outlet, a rare outlet, three
outlets, one month, one year, and outlet + year, outlet + month. Recall is against an exact
filtered search in numpy over the same rows.

Measured first on a milvus-lite file (the engine in this process, over its local gRPC), then,
unless ``--no-server``, against ``milvus-lite server`` on the same data directory (127.0.0.1,
a free port; stopped at the end), where the server's RSS is read after each collection loads.
Every loop is bounded: ``--queries`` per filter and ``--budget`` seconds of searching per phase.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python bench/milvus_partition.py \\
        [--rows 100000] [--queries 30] [--k 600] [--budget 600] [--dir /tmp/mv-partition]

Writes a Markdown table to stdout (and the raw numbers as JSON with ``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_measure import percentile_ms

DIM = 384
OUTLETS = 50
TOPICS = 256
SEED = 20261202
VARIANTS = ("none", "outlet", "month")
NUM_PARTITIONS = 16  # the server's default for a partition key; milvus-lite always makes 16
BATCH = 2_000


@dataclass
class Rows:
    vectors: np.ndarray  # (n, DIM) float32 unit rows
    outlet: np.ndarray  # outlet rank 1..OUTLETS
    day: np.ndarray  # YYYYMMDD, 0 undated
    month: np.ndarray  # YYYYMM, 0 undated

    def key(self, rank: int) -> str:
        return f"outlet {rank:02d}"


@dataclass(frozen=True)
class Case:
    """One filter: the outlets (ranks) and the day range it keeps."""

    name: str
    outlets: tuple[int, ...] = ()
    days: tuple[int, int] | None = None

    def mask(self, rows: Rows) -> np.ndarray:
        keep = np.ones(len(rows.day), dtype=bool)
        if self.outlets:
            keep &= np.isin(rows.outlet, self.outlets)
        if self.days:
            keep &= (rows.day > 0) & (rows.day >= self.days[0]) & (rows.day <= self.days[1])
        return keep

    def expression(self, rows: Rows, variant: str) -> str:
        """The filter as the engine's reader writes it (``rows.filter_expression``)."""
        parts = []
        if self.outlets:
            keys = ", ".join(json.dumps(rows.key(r)) for r in sorted(self.outlets))
            parts.append(f"outlet_key in [{keys}]")
        if self.days:
            a, b = self.days
            if variant == "month":
                parts.append(f"month in [{', '.join(str(m) for m in _months(a, b))}]")
            parts += ["day > 0", f"day >= {a}", f"day <= {b}"]
        return " and ".join(parts)


@dataclass
class Timings:
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    recall: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    returned: dict[tuple[str, str], list[int]] = field(default_factory=dict)


def _months(a: int, b: int) -> list[int]:
    out, y, m = [], a // 10000, a // 100 % 100
    while y * 100 + m <= b // 100:
        out.append(y * 100 + m)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _topics(rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _around(rng: np.random.Generator, centres: np.ndarray, topic: np.ndarray) -> np.ndarray:
    # noise of norm ~sqrt(3) against a unit centre: cosine to the centre about 0.5
    v = centres[topic] + rng.standard_normal((len(topic), DIM)).astype(np.float32) * 0.088
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_rows(n: int) -> tuple[Rows, np.ndarray]:
    """The rows and the topic centres, from the fixed seed."""
    rng = np.random.default_rng(SEED)
    centres = _topics(rng)
    share = 1.0 / np.arange(1, OUTLETS + 1) ** 1.1
    outlet = rng.choice(np.arange(1, OUTLETS + 1), size=n, p=share / share.sum())
    first = np.datetime64("2021-01-01")
    dates = first + rng.integers(0, 3 * 365, size=n).astype("timedelta64[D]")
    text = np.datetime_as_string(dates, unit="D")
    day = np.array([int(t.replace("-", "")) for t in text], dtype=np.int64)
    day[rng.random(n) < 0.02] = 0
    vectors = np.empty((n, DIM), dtype=np.float32)
    for begin in range(0, n, 10_000):
        end = min(n, begin + 10_000)
        vectors[begin:end] = _around(rng, centres, rng.integers(0, TOPICS, size=end - begin))
    return Rows(vectors, outlet, day, day // 100), centres


def cases() -> list[Case]:
    return [
        Case("no filter"),
        Case("one outlet (#5)", outlets=(5,)),
        Case("rare outlet (#50)", outlets=(50,)),
        Case("3 outlets (#2,#12,#40)", outlets=(2, 12, 40)),
        Case("one month", days=(20220601, 20220630)),
        Case("one year", days=(20220101, 20221231)),
        Case("outlet #5 + year", outlets=(5,), days=(20220101, 20221231)),
        Case("outlet #5 + month", outlets=(5,), days=(20220601, 20220630)),
    ]


# -- building ------------------------------------------------------------------------------------


def create(client: Any, name: str, variant: str) -> None:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("article_id", DataType.VARCHAR, max_length=64)
    s.add_field(
        "outlet_key", DataType.VARCHAR, max_length=256, is_partition_key=variant == "outlet"
    )
    s.add_field("day", DataType.INT64)
    s.add_field("month", DataType.INT64, is_partition_key=variant == "month")
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    extra = {"num_partitions": NUM_PARTITIONS} if variant != "none" else {}
    client.create_collection(
        name, schema=s, index_params=index, consistency_level="Strong", **extra
    )


def build(client: Any, rows: Rows, variant: str) -> dict[str, float]:
    name = f"bench_{variant}"
    if client.has_collection(name):
        client.drop_collection(name)
    started = time.perf_counter()
    create(client, name, variant)
    for begin in range(0, len(rows.day), BATCH):
        end = min(len(rows.day), begin + BATCH)
        client.insert(
            name,
            [
                {
                    "id": f"c{i}",
                    "article_id": f"a{i // 8}",
                    "outlet_key": rows.key(int(rows.outlet[i])),
                    "day": int(rows.day[i]),
                    "month": int(rows.month[i]),
                    "vector": rows.vectors[i].tolist(),
                }
                for i in range(begin, end)
            ],
        )
    inserted = time.perf_counter()
    client.flush(name)
    client.load_collection(name)
    flushed = time.perf_counter()
    search(client, name, rows.vectors[0], 10, "")  # builds any index still missing
    searched = time.perf_counter()
    return {
        "insert_s": inserted - started,
        "flush_load_s": flushed - inserted,
        "first_search_s": searched - flushed,
    }


# -- searching -----------------------------------------------------------------------------------


def exact(rows: Rows, query: np.ndarray, keep: np.ndarray, k: int) -> set[int]:
    ids = np.flatnonzero(keep)
    if len(ids) <= k:
        return set(ids.tolist())
    scores = rows.vectors[ids] @ query
    return set(ids[np.argpartition(-scores, k)[:k]].tolist())


def search(
    client: Any, name: str, query: np.ndarray, k: int, expression: str, ef: int = 0
) -> list[int]:
    """Top ``k`` ids; ``ef`` 0 sends no search parameters (what the engine's reader does)."""
    hits = client.search(
        name,
        data=[query.tolist()],
        anns_field="vector",
        limit=k,
        filter=expression,
        output_fields=["article_id"],
        search_params={"params": {"ef": ef}} if ef else None,
    )[0]
    return [int(h["id"][1:]) for h in hits]


def run_queries(
    client: Any, rows: Rows, queries: np.ndarray, args: argparse.Namespace, truth: dict
) -> tuple[Timings, int]:
    """Every case and ef for every query on every variant, the variant order rotating."""
    out = Timings()
    all_cases = cases()
    k, budget = args.k, args.budget
    for case in all_cases:  # warm-up: lazy index loads and caches, not timed
        for variant in VARIANTS:
            search(client, f"bench_{variant}", queries[0], k, case.expression(rows, variant))
    deadline = time.monotonic() + budget
    done = 0
    for qi, query in enumerate(queries):
        if time.monotonic() > deadline:
            break
        for ci, (case, ef) in enumerate((c, e) for c in all_cases for e in args.ef):
            shift = (qi + ci) % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                expression = case.expression(rows, variant)
                started = time.perf_counter()
                got = search(client, f"bench_{variant}", query, k, expression, ef)
                elapsed = time.perf_counter() - started
                want = truth[(qi, case.name)]
                key = (variant, f"{case.name}|{ef}")
                out.seconds.setdefault(key, []).append(elapsed)
                out.recall.setdefault(key, []).append(
                    len(want & set(got)) / len(want) if want else 1.0
                )
                out.returned.setdefault(key, []).append(len(got))
        done += 1
    return out, done


def make_queries(centres: np.ndarray, count: int) -> np.ndarray:
    rng = np.random.default_rng(SEED + 1)
    return _around(rng, centres, rng.integers(0, TOPICS, size=count))


# -- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cli = Path(sys.executable).with_name("milvus-lite")
    args = ["server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([str(cli), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("milvus-lite server did not listen within 120 s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk(data_dir: Path, variant: str) -> tuple[float, int]:
    """MB on disk and data segments (Parquet files) of one collection."""
    found = [p for p in data_dir.rglob(f"bench_{variant}") if p.is_dir()]
    total = sum(f.stat().st_size for d in found for f in d.rglob("*") if f.is_file())
    return total / 2**20, sum(1 for d in found for _ in d.rglob("data_*.parquet"))


# -- the run -------------------------------------------------------------------------------------


def phase_file(db: Path, rows: Rows, args: argparse.Namespace, truth: dict) -> dict[str, Any]:
    from pymilvus import MilvusClient

    client = MilvusClient(str(db))
    builds = {}
    for variant in VARIANTS:
        builds[variant] = build(client, rows, variant)
        print(f"built {variant}: {builds[variant]}", file=sys.stderr, flush=True)
    partitions = {v: len(client.list_partitions(f"bench_{v}")) for v in VARIANTS}
    queries = make_queries(args.centres, args.queries)
    timings, done = run_queries(client, rows, queries, args, truth)
    client.close()
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(db))  # the file's lock, for the server phase
    return {"builds": builds, "partitions": partitions, "timings": timings, "queries": done}


def server_rss(db: Path, variant: str, k: int) -> dict[str, float]:
    """RSS of a fresh server before and after it loads and searches one collection."""
    from pymilvus import MilvusClient

    proc, uri = start_server(db)
    try:
        client = MilvusClient(uri=uri, timeout=120)
        before = rss_mb(proc.pid)
        client.load_collection(f"bench_{variant}")
        search(client, f"bench_{variant}", np.ones(DIM, dtype=np.float32) / DIM**0.5, k, "")
        after = rss_mb(proc.pid)
        client.close()
        return {"before": before, "after": after}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def phase_server(db: Path, rows: Rows, args: argparse.Namespace, truth: dict) -> dict[str, Any]:
    from pymilvus import MilvusClient

    rss = {v: server_rss(db, v, args.k) for v in VARIANTS}
    proc, uri = start_server(db)
    try:
        client = MilvusClient(uri=uri, timeout=120)
        for variant in VARIANTS:
            client.load_collection(f"bench_{variant}")
        queries = make_queries(args.centres, args.queries)
        timings, done = run_queries(client, rows, queries, args, truth)
        client.close()
        return {"rss": rss, "timings": timings, "queries": done}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def table(timings: Timings, rows: Rows, efs: list[int]) -> str:
    head = "| filter (matching rows) | ef |"
    rule = "|---|---|"
    for v in VARIANTS:
        head += f" {v}: p50 / p95 ms, recall |"
        rule += "---|"
    lines = [head, rule]
    for case in cases():
        for ef in efs:
            line = f"| {case.name} ({int(case.mask(rows).sum()):,}) | {ef or 'default'} |"
            for v in VARIANTS:
                line += _cell(timings, (v, f"{case.name}|{ef}"))
            lines.append(line)
    return "\n".join(lines)


def _cell(t: Timings, key: tuple[str, str]) -> str:
    s = t.seconds.get(key, [])
    if not s:
        return " - |"
    recall = float(np.mean(t.recall[key]))
    return f" {percentile_ms(s, 50):.0f} / {percentile_ms(s, 95):.0f}, {recall:.3f} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=30, help="queries per filter (at most)")
    p.add_argument("--k", type=int, default=600)
    p.add_argument("--budget", type=float, default=600.0, help="seconds of searching per phase")
    p.add_argument("--dir", type=Path, default=Path("/tmp/mv-partition"))
    p.add_argument(
        "--ef",
        default="0,600",
        help="HNSW ef values, comma-separated; 0 sends none (milvus-lite then uses 64)",
    )
    p.add_argument("--no-server", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.ef = [int(e) for e in args.ef.split(",")]
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    db = args.dir / "bench.db"
    started = time.perf_counter()
    rows, args.centres = make_rows(args.rows)
    queries = make_queries(args.centres, args.queries)
    truth = {
        (qi, c.name): exact(rows, q, c.mask(rows), args.k)
        for qi, q in enumerate(queries)
        for c in cases()
    }
    file_phase = phase_file(db, rows, args, truth)
    sizes = {v: disk(db, v) for v in VARIANTS}
    server_phase = None if args.no_server else phase_server(db, rows, args, truth)
    print(f"{args.rows:,} rows, top-{args.k}, {file_phase['queries']} queries per filter (file)")
    if server_phase:
        print(f"{server_phase['queries']} queries per filter (server)")
    print(f"partitions: {file_phase['partitions']}")
    for v in VARIANTS:
        b = file_phase["builds"][v]
        rss = ""
        if server_phase:
            r = server_phase["rss"][v]
            rss = f", server RSS {r['before']:.0f} -> {r['after']:.0f} MB loading it alone"
        print(
            f"{v}: insert {b['insert_s']:.1f} s, flush+load {b['flush_load_s']:.1f} s, "
            f"first search {b['first_search_s']:.1f} s, "
            f"disk {sizes[v][0]:.0f} MB in {sizes[v][1]} segments{rss}"
        )
    print("\nmilvus-lite file:\n")
    print(table(file_phase["timings"], rows, args.ef))
    if server_phase:
        print("\n`milvus-lite server` on the same data directory:\n")
        print(table(server_phase["timings"], rows, args.ef))
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average {os.getloadavg()}")
    if args.json:
        raw = {
            "file": {k: v for k, v in file_phase.items() if k != "timings"},
            "server_rss": server_phase["rss"] if server_phase else None,
            "seconds": {
                phase: {f"{v}|{c}": s for (v, c), s in ph["timings"].seconds.items()}
                for phase, ph in (("file", file_phase), ("server", server_phase))
                if ph
            },
        }
        args.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
