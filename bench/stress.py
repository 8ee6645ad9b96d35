"""`make stress`: does qa keep working under bad input, crashes and load? Prints a table of counts
and exits non-zero when any count is bad.

Sections: (1) over 500 hostile inputs indexed beside the seed articles; (2) `qa index` killed at
random moments, and builds on a full disk; (3) concurrent questions while the index is updated,
in-process and over HTTP; (4) hostile questions, in-process and through `qa ask`; (5) web attacks
on Gradio's file routes and on uploads. Takes a few minutes; `--quick` for a smaller run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# the stress cases and checks live with the tests (tests/stress), which run a sample of them
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "stress"))

from stress_corpus import run_bad_inputs  # noqa: E402
from stress_disk import run_full_disk  # noqa: E402
from stress_kill import run_kill_trials  # noqa: E402
from stress_load import MIXED, concurrent_asks, http_asks  # noqa: E402
from stress_questions import run_questions  # noqa: E402
from stress_tamper import run_tamper  # noqa: E402
from stress_web import run_web_attacks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="qa-stress-"))
    started = time.perf_counter()
    rows: list[tuple[str, Any, bool]] = []
    details: dict[str, list[str]] = defaultdict(list)
    print(f"stress run in {work}", flush=True)
    try:
        _section("1. hostile inputs")
        _guarded("hostile inputs", rows, lambda: _inputs_rows(work, args, rows, details))
        from qa.embed.encoder import open_encoder

        embedder = open_encoder()
        _section("2. crashes: kills and a full disk")
        _guarded("crashes", rows, lambda: _crash_rows(work, embedder, args, rows, details))
        _section("3. load: concurrent questions during an index update")
        _guarded(
            "load, questions, web", rows, lambda: _load_rows(work, embedder, args, rows, details)
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    _section("report")
    rows.append(("seconds", f"{time.perf_counter() - started:.0f}", True))
    return _report(rows, details)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-trials", type=int, default=50)
    parser.add_argument("--threads", type=int, default=20, help="concurrent in-process askers")
    parser.add_argument("--requests", type=int, default=20, help="concurrent HTTP /ask calls")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a hang")
    parser.add_argument("--workers", type=int, default=2, help="processes indexing inputs")
    parser.add_argument("--quick", action="store_true", help="no 50 MB files, 10 kill trials")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser


_CLOCK = [time.perf_counter()]


def _section(title: str) -> None:
    now = time.perf_counter()
    print(f"  ({now - _CLOCK[0]:.0f} s)\n\n== {title}", flush=True)
    _CLOCK[0] = now


def _guarded(section: str, rows: list, run: Any) -> None:
    """Run a section; if it breaks, the table says so (with the traceback above it)."""
    try:
        run()
    except Exception as exc:
        traceback.print_exc()
        rows.append((f"section {section!r} stopped: {type(exc).__name__}", str(exc)[:40], False))


def _inputs_rows(work: Path, args: Any, rows: list, details: dict) -> None:
    timeout = args.timeout
    r = run_bad_inputs(
        work / "inputs",
        big=not args.quick,
        timeout=timeout,
        log=work / "worker.log",
        workers=args.workers,
    )
    got, want = r.good
    skips = len(r.expected_skips)
    with_reason = r.skipped_with_reason
    rows += [
        ("hostile inputs tried", r.tried, r.tried >= 500),
        ("  crashes", len(r.crashes), not r.crashes),
        (f"  hangs (over {timeout:g} s)", len(r.hangs), not r.hangs),
        ("  bad inputs skipped with a reason", f"{with_reason}/{skips}", with_reason == skips),
        ("  inputs neither indexed nor reported", len(r.unaccounted), not r.unaccounted),
        ("  inputs with another wrong outcome", len(r.wrong), not r.wrong),
        ("  good articles indexed/expected", f"{got}/{want}", got == want),
        ("  /etc/passwd text indexed via HTML", len(r.leaks), not r.leaks),
    ]
    details["build of every input at once"].append(r.full_build)
    by_error: dict[str, list[str]] = defaultdict(list)
    for name, error in r.crashes.items():
        kind, place = error.split(": ", 1)[0], error.rsplit("(", 1)[-1].rstrip(")")
        by_error[f"{kind} at {place}"].append(name)
    for error, names in by_error.items():
        details["crashes (error at place: inputs)"].append(f"{error}: {', '.join(names)}")
    details["hangs"] += r.hangs
    details["neither indexed nor reported"] += [v.case.name for v in r.unaccounted]
    details["wrong outcome"] += [f"{v.case.name}: {'; '.join(v.problems)}" for v in r.wrong]
    details["XXE leaks"] += r.leaks
    details["slowest inputs (s)"] += [f"{s:.1f} {name}" for s, name in r.slowest]


def _crash_rows(work: Path, embedder: Any, args: Any, rows: list, details: dict) -> None:
    trials = 10 if args.quick else args.kill_trials
    kills = run_kill_trials(work / "kill", embedder, trials=trials)
    rows += [
        ("kill trials (SIGKILL `qa index`)", kills.trials, kills.trials >= trials),
        ("  corrupt reopenings", len(kills.corrupt), not kills.corrupt),
        ("  reopened old/new generation", f"{kills.outcomes['old']}/{kills.outcomes['new']}", True),
    ]
    details["kill moments"].append(", ".join(f"{m} {n}" for m, n in sorted(kills.moments.items())))
    details["kill trials"] += kills.corrupt + [f"final build: {kills.final}"]
    disk = run_full_disk(work / "disk", embedder, cli_headrooms=(0, 65_536))
    skipped = disk.how.startswith("skipped")
    clean, intact = f"{disk.clean}/{disk.trials}", f"{disk.intact}/{disk.trials}"
    if skipped:
        clean = intact = "skipped"
    rows += [
        ("full-disk builds failing cleanly", clean, skipped or disk.clean == disk.trials),
        ("  old index intact after full disk", intact, skipped or disk.intact == disk.trials),
    ]
    details["full disk"] += [disk.how, *disk.failures, f"rebuild after freeing: {disk.recovered}"]
    import qa

    good, corpus = work / "tamper-good", work / "tamper-corpus"
    shutil.copytree(SEED, corpus)
    qa.build_index(corpus, good, encoder=embedder)
    t = run_tamper(work / "tamper", good, corpus)
    rows += [
        ("tampered or poisoned indexes", t.trials, t.trials > 0),
        ("  refused by `qa ask` in one line", f"{t.refused_in_one_line}/{t.trials}", True),
        ("  hangs", len(t.hangs), not t.hangs),
        ("  tracebacks", len(t.tracebacks), not t.tracebacks),
        ("  unrepaired by `qa index`", len(t.unrepaired), not t.unrepaired),
    ]
    details["tampered indexes"] += t.hangs + t.tracebacks + t.unrepaired


def _load_rows(work: Path, embedder: Any, args: Any, rows: list, details: dict) -> None:
    load = concurrent_asks(
        work / "load", embedder, threads=args.threads, minimum=1, questions=MIXED
    )
    rows += [
        (f"concurrent asks ({args.threads} threads, 2 updates)", load.asks, load.asks > 0),
        ("  errors under load", len(load.errors), not load.errors),
    ]
    details["in-process load"] += load.errors + [f"answers from {dict(load.generations)}"]
    corpus, index = work / "serve" / "corpus", work / "serve" / "index"
    shutil.copytree(SEED, corpus)
    import qa

    qa.build_index(corpus, index, encoder=embedder)
    with _serve(index, corpus, work / "serve.log") as url:
        http = http_asks(url, corpus, index, embedder, requests=args.requests, questions=MIXED)
        rows += [
            ("HTTP /ask requests under load (`qa serve`)", http.asks, http.asks > 0),
            ("  HTTP errors under load", len(http.errors), not http.errors),
        ]
        details["HTTP load"] += http.errors + [f"answers from {dict(http.generations)}"]
        _section("4. hostile questions")
        questions = run_questions(qa.Assistant(index, embedder), index)
        q = questions
        rows += [
            ("hostile questions (in-process)", q.asked, True),
            ("  refused/answered in time", f"{q.refused}/{q.answered}", not q.problems_in_process),
            (
                "  `qa ask` runs: exit code and one line",
                f"{q.cli_ok}/{q.cli_runs}",
                q.cli_ok == q.cli_runs,
            ),
            ("  slowest answer (s)", f"{q.slowest:.2f}", q.slowest <= 2.0),
        ]
        details["questions"] += questions.problems
        _section("5. web attacks")
        web = run_web_attacks(url, index, corpus)
        rows.append(("web refusals/attempts", f"{web.refused}/{web.attempts}", not web.leaks))
        details["web"] += web.leaks


class _serve:
    """`qa serve` in a child process on a free port; the URL once it listens."""

    def __init__(self, index: Path, corpus: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        command = [sys.executable, "-m", "qa.cli", "serve", "--index", str(index)]
        command += ["--corpus", str(corpus), "--port", str(self.port)]
        self._log = log.open("w")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=ROOT, env=env
        )

    def __enter__(self) -> str:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self._log.write(line)
            if "Web chat running on" in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return f"http://127.0.0.1:{self.port}/"
        raise RuntimeError(f"`qa serve` did not start; see {self._log.name}")

    def _drain(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self._log.write(line)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _report(rows: list[tuple[str, Any, bool]], details: dict[str, list[str]]) -> int:
    print("\n== details")
    for title, lines in details.items():
        if lines:
            print(f"{title}:")
            for line in lines:
                print(f"  - {line}")
    width = max(len(label) for label, _, _ in rows)
    print("\n== counts")
    for label, value, ok in rows:
        print(f"{label:<{width}}  {value!s:>10}  {'' if ok else 'BAD'}")
    bad = [label.strip() for label, _, ok in rows if not ok]
    print(f"\n{len(bad)} bad count(s)" + (f": {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
