"""The archive listing at scale: ``LocalIndex.articles`` over 100,000 articles, per query shape.

The web chat's Archive tab asks three listing calls per page (the count, the page, the whole
archive's counts). This times the local engine's SQL on a synthetic ``meta.sqlite`` of the
real schema (100,000 articles, 10 chunk rows each, 300 outlets, 20 years of dates; no vectors:
the listing reads only SQLite), so it runs in about a minute without embedding anything.

    .venv/bin/python bench/archive_listing.py [--articles 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.index.base import ArticleQuery, Filters  # noqa: E402
from qa.index.local.generation import SCHEMA_SQL  # noqa: E402
from qa.index.local.reader import LocalIndex  # noqa: E402

_WORDS = ["strike", "minister", "port", "bridge", "council", "election", "court", "flood"]
_CHUNKS_PER_ARTICLE = 10


def _fill(path: Path, n: int) -> None:
    rng = random.Random(14)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_SQL)
    articles, chunks = [], []
    for i in range(n):
        title = " ".join(rng.choice(_WORDS) for _ in range(8)).capitalize() if i % 20 else None
        day = f"{2005 + rng.randrange(20)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        published = day if i % 7 else None
        text = f"CITY, 1 May — The {' '.join(rng.choice(_WORDS) for _ in range(60))}."
        articles.append(
            (f"a{i:06d}", title, f"Outlet {i % 300}", published, None, None, f"a{i:06d}.txt")
            + (None, "0" * 64, text)
        )
        chunks += [
            (i * _CHUNKS_PER_ARTICLE + k, f"a{i:06d}:{k}", f"a{i:06d}", 0, 10, "h")
            for k in range(_CHUNKS_PER_ARTICLE)
        ]
    db.executemany("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)", articles)
    db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)", chunks)
    db.commit()
    db.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        path = Path(tmp) / "meta.sqlite"
        started = time.perf_counter()
        _fill(path, args.articles)
        print(f"filled {args.articles:,} articles in {time.perf_counter() - started:.1f} s")
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        # the reader's one dependency for the listing: select() on its generation's meta.sqlite
        reader = SimpleNamespace(
            _gen=SimpleNamespace(select=lambda sql, a=(): db.execute(sql, a).fetchall())
        )
        shapes = {
            "first page, newest first": ArticleQuery(),
            "page 2,000 by title": ArticleQuery(sort="title", descending=False, offset=49_950),
            "by passages": ArticleQuery(sort="passages"),
            "title contains 'port bridge'": ArticleQuery(text="port bridge"),
            "one outlet, 2010-2012": ArticleQuery(
                filters=Filters.of(["Outlet 7"], "2010-01-01", "2012-12-31")
            ),
            "counts only (limit 0)": ArticleQuery(limit=0),
        }
        print(f"{'query':34} {'median ms':>10} {'max ms':>8} {'rows':>5} {'matching':>9}")
        for name, query in shapes.items():
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                page = LocalIndex.articles(reader, query)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"{name:34} {statistics.median(times):10.1f} {max(times):8.1f} "
                f"{len(page.rows):5} {page.total:9,}"
            )
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
