"""Stress section 2a: SIGKILL `qa index` at random moments, some inside the atomic switch, and
check that every reopening finds a complete old or new generation that answers a question."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stress_inputs import article_text

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus"
QUESTION = "who denied cooperation in the Palestine Street strike?"
CHEAP = "Who won the 2022 World Cup?"  # abstains quickly
SEED_ARTICLE = "000_0f7bfc05e65b6324"
# Where the kill lands; the last four are inside the switch (write, fsync, rename, CURRENT, GC).
MOMENTS = (
    "random",
    "loaded",
    "embedding",
    "building",
    "manifest",
    "renamed",
    "pointer",
    "switched",
)


@dataclass
class KillResult:
    """Kill trials and what the reopenings found."""

    trials: int = 0
    finished_first: int = 0  # builds that completed before their kill moment came
    moments: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # "old" / "new" generation live
    corrupt: list[str] = field(default_factory=list)
    final: str = "not run"


class _Stderr:
    """Collects a child's stderr in a thread, so its progress lines can time the kill."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr
        for chunk in iter(lambda: proc.stderr.read(64), ""):
            self.text += chunk

    def join(self) -> None:
        self._thread.join(timeout=5)


def qa_index(corpus: Path, index: Path, *, optimize: bool = False) -> subprocess.Popen[str]:
    """`qa index CORPUS --index DIR` as the spec runs it (a fresh process: loads the model);
    with ``optimize`` the update is followed by a merge of all segments."""
    extra = ["--optimize"] if optimize else []
    return subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(index), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def _trigger(moment: str, index: Path, err: _Stderr, rng: random.Random, span: float) -> Callable:
    """A predicate that turns true at ``moment`` of the build (checked every millisecond)."""
    started = time.monotonic()
    before = (index / "CURRENT").read_text().strip()
    gens = {p.name for p in index.glob("gen-*")}
    delay = rng.uniform(0, span) if moment == "random" else rng.uniform(0, 0.3)
    seen: list[float] = []

    def after(condition: bool, pause: float) -> bool:
        if condition and not seen:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= pause

    def building() -> list[Path]:
        return list(index.glob(".building-*"))

    checks: dict[str, Callable[[], bool]] = {
        "random": lambda: time.monotonic() - started >= delay,
        "loaded": lambda: after("loaded" in err.text, delay),
        "embedding": lambda: after("embedding" in err.text, delay),
        "building": lambda: after(bool(building()), delay / 10),
        "manifest": lambda: any((b / "manifest.json").exists() for b in building()),
        "renamed": lambda: bool({p.name for p in index.glob("gen-*")} - gens),
        "pointer": lambda: (index / "CURRENT.tmp").exists(),
        "switched": lambda: _read(index / "CURRENT") not in ("", before),
    }
    return checks[moment]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _mutate(corpus: Path, rng: random.Random, trial: str) -> None:
    """Add a few articles, and sometimes change or remove an earlier one."""
    for n in range(rng.randint(2, 4)):
        (corpus / f"kill-{trial}-{n}.txt").write_text(article_text(f"kill-{trial}-{n}"))
    earlier = sorted(corpus.glob("kill-*.txt"))
    if len(earlier) > 8 and rng.random() < 0.5:
        rng.choice(earlier[:-6]).unlink()
    if len(earlier) > 8 and rng.random() < 0.5:
        path = rng.choice(earlier[:-6])
        if path.exists():
            path.write_text("An editor's note was added.\n\n" + path.read_text())


def check_generation(
    index: Path, allowed: list[set[str]], assistant: Any, embedder: Any
) -> tuple[str, set[str]]:
    """('', article ids) when the live generation is complete, holds one of the ``allowed``
    article sets and answers, from a fresh open and from the long-lived ``assistant``; else
    (what is wrong, ids)."""
    import qa
    from qa.index.local import generation as store

    ids: set[str] = set()
    try:
        gen = store.open_generation(index)
        ids = {r["id"] for r in gen.article_rows()}
        counts = gen.manifest.counts
        if ids not in allowed:
            return f"{gen.name}: {len(ids)} articles, neither the old nor the new set", ids
        if counts != {"articles": len(ids), "chunks": gen.chunk_count}:
            return f"{gen.name}: manifest counts {counts} do not match the stored rows", ids
        if not gen.vector_count() == gen.lexical.size == gen.size:
            return f"{gen.name}: {gen.vector_count()} vectors, {gen.lexical.size} BM25 rows", ids
        live = [r for r, ok in enumerate(_live_rows(gen)) if ok]
        for c in gen.chunks_at(live[:400]):
            if gen.article(c.article_id).text[c.start : c.end] != c.text:
                return f"{gen.name}: a chunk of {c.article_id} is not an exact span", ids
        answer = qa.Assistant(index, embedder).ask(QUESTION)  # a fresh reopening answers
        if answer.abstained or SEED_ARTICLE not in {c.article_id for c in answer.citations}:
            return f"{gen.name}: the seed question is no longer answered", ids
        assistant.ask(CHEAP)  # the long-lived one still works, and has switched if it should
        if assistant.stats()["generation"] != gen.name:
            return "the open Assistant did not switch to the live generation", ids
        gen.close()
    except Exception as exc:
        return f"reopening failed: {type(exc).__name__}: {exc}", ids
    return "", ids


def _live_rows(gen: Any) -> list[bool]:
    """Per global row of a generation: whether its article is live (not deleted)."""
    out: list[bool] = []
    for segment, mask in zip(gen.segments, gen.masks()):
        out.extend([True] * segment.chunk_count if mask is None else mask.tolist())
    return out


def _chain(work: Path, trials: int, seed: int, embedder: Any, result: KillResult) -> None:
    try:
        _trials(work, trials, seed, embedder, result)
    except Exception as exc:  # report it in the table rather than lose the thread silently
        result.corrupt.append(f"trial chain {seed} stopped: {type(exc).__name__}: {exc}")


def _trials(work: Path, trials: int, seed: int, embedder: Any, result: KillResult) -> None:
    import qa
    from qa.index.local import generation as store

    rng = random.Random(seed)
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(SEED, corpus)
    qa.build_index(corpus, index, encoder=embedder)
    assistant = qa.Assistant(index, embedder)
    span, done = 8.0, 0
    while done < trials:
        gen = store.open_generation(index)
        old = {r["id"] for r in gen.article_rows()}
        gen.close()
        _mutate(corpus, rng, f"{seed}-{done}-{rng.randrange(10**6)}")
        new = {a.id for a in qa.load_corpus(corpus).articles}
        moment = rng.choice(MOMENTS)
        merging = rng.random() < 0.4  # an update then a merge: kills land in either
        proc = qa_index(corpus, index, optimize=merging)
        err = _Stderr(proc)
        started, ready = time.monotonic(), _trigger(moment, index, err, rng, span)
        while proc.poll() is None and not ready() and time.monotonic() - started < 120:
            time.sleep(0.001)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        err.join()
        if not killed:
            span = max(2.0, time.monotonic() - started)  # a full build: calibrates "random"
            result.finished_first += 1
            if "Traceback" in err.text:
                result.corrupt.append(f"uninterrupted `qa index` failed: {err.text[-300:]}")
            continue
        done += 1
        result.trials += 1
        result.moments[f"{moment} (merge)" if merging else moment] += 1
        problem, live = check_generation(index, [old, new], assistant, embedder)
        result.outcomes["new" if live == new else "old" if live == old else "?"] += 1
        if problem:
            result.corrupt.append(f"kill at {moment!r}: {problem}")
    final = qa.build_index(corpus, index, encoder=embedder)
    leftovers = list(index.glob(".building-*"))
    if final.articles != len(new) or leftovers:
        result.final = f"final build: {final.articles} articles, leftovers {leftovers}"
    elif result.final == "not run":
        result.final = "ok"


def run_kill_trials(work: Path, embedder: Any, *, trials: int, chains: int = 2) -> KillResult:
    """``trials`` kills spread over ``chains`` independent index folders run side by side."""
    result = KillResult()
    per_chain = [trials // chains + (1 if i < trials % chains else 0) for i in range(chains)]
    threads = [
        threading.Thread(target=_chain, args=(work / f"chain-{i}", n, 1000 + i, embedder, result))
        for i, n in enumerate(per_chain)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result
