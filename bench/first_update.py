"""A server's first update, with and without `Assistant.prepare_updates()` ahead of it.

A web chat that takes uploads calls `prepare_updates()` in the background at start, so its
first upload does not wait for the build's imports (langchain's splitter, the build modules).
This measures that first update side by side: each trial copies BASE (a folder holding
`corpus/` and `index/`), indexes the copy once unchanged at its own path (stamps are kept per
corpus path), appends one article line, then in a fresh process opens the Assistant, optionally
prepares, waits 2 s (the server idling) and times `update_index`.

    .venv/bin/python bench/first_update.py BASE NEW_LINE.jsonl --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_TRIAL = r"""
import sys, time, qa
a = qa.Assistant.open(sys.argv[1] + "/index")
if sys.argv[2] == "prepare":
    a.prepare_updates()
time.sleep(2)
t = time.perf_counter()
r = a.update_index(sys.argv[1] + "/corpus")
print(f"{time.perf_counter() - t:.3f} {len(r.added)} {r.chunks_embedded}")
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("base", type=Path, help="folder with corpus/ (one .jsonl) and index/")
    p.add_argument("line", type=Path, help="a .jsonl file whose last line is the added article")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    qa_cli = Path(sys.executable).with_name("qa")
    added = args.line.read_bytes().splitlines()[-1] + b"\n"
    (jsonl,) = (args.base / "corpus").glob("*.jsonl")
    times: dict[str, list[float]] = {"cold": [], "prepare": []}
    with tempfile.TemporaryDirectory(prefix="qa-first-update-") as tmp:
        trial = Path(tmp) / "trial"
        for _ in range(args.rounds):
            for mode in times:  # alternating, so machine load hits both alike
                shutil.rmtree(trial, ignore_errors=True)
                shutil.copytree(args.base, trial)
                index = ["--index", str(trial / "index"), "--quiet"]
                subprocess.run(
                    [qa_cli, "index", trial / "corpus", *index],
                    check=True,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                with (trial / "corpus" / jsonl.name).open("ab") as fh:
                    fh.write(added)
                run = [sys.executable, "-c", _TRIAL, str(trial), mode]
                out = subprocess.run(run, check=True, capture_output=True, text=True, env=env)
                seconds, n_added, embedded = out.stdout.split()
                times[mode].append(float(seconds))
                print(f"{mode:8} {float(seconds):.2f} s ({n_added} added, {embedded} embedded)")
    for mode, values in times.items():
        print(f"{mode:8} median {sorted(values)[len(values) // 2]:.2f} s of {len(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
