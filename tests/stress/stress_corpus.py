"""Stress section 1: over 500 hostile inputs, each loaded and indexed on its own (to pin a crash
or a hang on one input), then all of them at once beside the seed articles."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stress_cases import all_cases
from stress_inputs import Case, Verdict, judge, link_cases, write_cases
from stress_worker import Worker

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus"
_POSITIONS: dict[str, str] = {}  # case name -> its folder under work/cases


@dataclass
class InputsResult:
    """What happened to the hostile inputs."""

    tried: int = 0
    crashes: dict[str, str] = field(default_factory=dict)  # case name -> error
    hangs: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    full_build: str = "not run"  # the build with every input that did not hang
    seed_indexed: int = 0
    seed_expected: int = 0
    leaks: list[str] = field(default_factory=list)  # articles holding /etc/passwd content
    slowest: list[tuple[float, str]] = field(default_factory=list)

    @property
    def expected_skips(self) -> list[Verdict]:
        return [v for v in self.verdicts if any(e.expect == "skip" for e in v.case.entries)]

    @property
    def skipped_with_reason(self) -> int:
        return sum(
            1 for v in self.expected_skips if v.reasons and all(r.strip() for r in v.reasons)
        )

    @property
    def unaccounted(self) -> list[Verdict]:
        return [v for v in self.verdicts if any("neither indexed" in p for p in v.problems)]

    @property
    def wrong(self) -> list[Verdict]:
        """Other problems (a good input not indexed, a bad one indexed); crashes and hangs
        are counted on their own."""
        failed = {*self.crashes, *self.hangs}
        return [
            v
            for v in self.verdicts
            if v.problems and v not in self.unaccounted and v.case.name not in failed
        ]

    @property
    def good(self) -> tuple[int, int]:
        """(articles indexed, articles expected) over the seed and the good hostile inputs."""
        got, want = self.seed_indexed, self.seed_expected
        for v in self.verdicts:
            expected = sum(e.articles for e in v.case.entries if e.expect == "index")
            want += expected
            got += min(v.indexed, expected)
        return got, want


def run_bad_inputs(
    work: Path, *, big: bool, timeout: float, log: Path, workers: int = 2
) -> InputsResult:
    """Write the hostile inputs under ``work``, index them, and account for every one."""
    cases = all_cases(big=big)
    result = InputsResult(tried=len(cases))
    _POSITIONS.clear()
    for i, case in enumerate(cases):
        _POSITIONS[case.name] = f"{i:04d}"
        write_cases(_case_dir(work, case), [case])
    pool = [Worker(log) for _ in range(max(1, workers))]
    try:
        started = time.perf_counter()
        per_case = _one_by_one(work, cases, pool, timeout, result)
        print(f"    one by one: {elapsed(started)}; now all at once", flush=True)
        _all_at_once(work, cases, pool[0], result, per_case)
    finally:
        for worker in pool:
            worker.stop()
    return result


def _one_by_one(
    work: Path, cases: list[Case], pool: list[Worker], timeout: float, result: InputsResult
) -> dict[str, dict[str, Any]]:
    """Each case in its own corpus and index, spread over the workers of ``pool``."""
    todo: queue.Queue[Case] = queue.Queue()
    for case in cases:
        todo.put(case)
    replies: dict[str, dict[str, Any]] = {}
    timings: list[tuple[float, str]] = []
    lock = threading.Lock()

    def drain(worker: Worker) -> None:
        while True:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                return
            reply = _try_case(work, case, worker, timeout)
            with lock:
                _record(case, reply, result, replies)
                timings.append((reply.get("seconds", 0.0), case.name))
                if len(timings) % 100 == 0:
                    print(f"    {len(timings)}/{len(cases)} inputs tried one by one", flush=True)

    threads = [threading.Thread(target=drain, args=(w,)) for w in pool]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    order = {c.name: i for i, c in enumerate(cases)}
    result.hangs.sort(key=order.get)
    result.crashes = dict(sorted(result.crashes.items(), key=lambda kv: order[kv[0]]))
    result.slowest = sorted(timings, reverse=True)[:5]
    return replies


def _try_case(work: Path, case: Case, worker: Worker, timeout: float) -> dict[str, Any]:
    index = work / "case-index" / _POSITIONS[case.name]
    request = {"op": "case", "corpus": str(_case_dir(work, case)), "index": str(index)}
    reply = worker.run({**request, "cache": str(work / "cache")}, timeout)
    shutil.rmtree(index, ignore_errors=True)
    return reply


def _record(
    case: Case, reply: dict[str, Any], result: InputsResult, replies: dict[str, dict[str, Any]]
) -> None:
    if reply.get("hang"):
        result.hangs.append(case.name)
    elif "died" in reply:
        result.crashes[case.name] = f"worker process died (exit code {reply['died']})"
    elif reply["error"] and not reply["error"]["typed"]:
        e = reply["error"]
        result.crashes[case.name] = f"{e['type']}: {e['message']} ({e['where']})"
    else:
        replies[case.name] = reply


def _all_at_once(
    work: Path,
    cases: list[Case],
    worker: Worker,
    result: InputsResult,
    per_case: dict[str, dict[str, Any]],
) -> None:
    import qa

    seed_ids = {a.id for a in qa.load_corpus(SEED).articles}
    result.seed_expected = len(seed_ids)
    present = [c for c in cases if c.name not in result.hangs]
    reply = _build(work / "all", present, worker, work)
    result.full_build = _outcome(reply)
    if result.crashes or reply.get("error") or "hang" in reply or "died" in reply:
        clean = [c for c in present if c.name not in result.crashes]
        reply = _build(work / "clean", clean, worker, work)
        if reply.get("error") or "hang" in reply or "died" in reply:
            result.full_build += f"; without the crashing inputs: {_outcome(reply)}"
            reply = {"articles": [], "skipped": []}
            for r in per_case.values():
                reply["articles"] += r["articles"]
                reply["skipped"] += r["skipped"]
        else:
            result.full_build += "; without the crashing inputs: ok"
    judged = [c for c in cases if c.name not in result.hangs and c.name not in result.crashes]
    result.verdicts = judge(judged, reply["articles"], reply["skipped"])
    for name in [*result.crashes, *result.hangs]:
        case = next(c for c in cases if c.name == name)
        result.verdicts.append(Verdict(case, problems=[result.crashes.get(name, "hang")]))
    indexed_ids = {a["id"] for a in reply["articles"]}
    result.seed_indexed = len(seed_ids & indexed_ids)
    result.leaks = [
        f"{a['path']} ({a['id']})"
        for a in reply["articles"]
        if a["passwd"] and not a["path"].startswith("fs/")
    ]


def _build(corpus: Path, cases: list[Case], worker: Worker, work: Path) -> dict[str, Any]:
    shutil.copytree(SEED, corpus)
    for case in cases:
        link_cases(_case_dir(work, case), corpus, [case])
    request = {"op": "build", "corpus": str(corpus), "index": f"{corpus}-index"}
    return worker.run({**request, "cache": str(work / "cache")}, timeout=900)


def _case_dir(work: Path, case: Case) -> Path:
    """Each case is written to its own folder, named after its position in the catalog."""
    return work / "cases" / _POSITIONS[case.name]


def _outcome(reply: dict[str, Any]) -> str:
    if reply.get("hang"):
        return "hung"
    if "died" in reply:
        return f"worker died (exit code {reply['died']})"
    if reply.get("error"):
        e = reply["error"]
        return f"failed: {e['type']}: {e['message'][:120]} ({e['where']})"
    return f"ok ({len(reply['articles'])} articles, {len(reply['skipped'])} skipped entries)"


def elapsed(started: float) -> str:
    return f"{time.perf_counter() - started:.0f} s"
