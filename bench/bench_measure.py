"""Measuring helpers: run a step in a fresh process (for its own peak RSS), percentiles, sizes."""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG).

    A spawned step outlives a killed bench otherwise: on 2026-12-02 one kept building into a
    bench folder for 40 minutes after its bench was killed, and the bench restarted there read
    its writes (9,728 vectors of the embedding cache replaced by the real model's)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the step may outlive a killed bench
        pass


def _child(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: Any) -> None:
    _die_with_parent()
    try:
        result = fn(*args)
        result["peak_rss_mb"] = _peak_rss_mb()
        queue.put(("ok", result))
    except BaseException as exc:  # report any failure to the parent instead of hanging it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss on Linux: a spawned child starts as a fork of
    its parent, and ru_maxrss keeps the parent's RSS from before the exec (a bench holding
    900 MB of corpus made every child's peak at least 900 MB); VmHWM is the exec'd image's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a spawned process; its dict result plus ``peak_rss_mb`` and ``wall_s``.

    A fresh process per step means each step loads the model and index itself (as `qa ask`
    would) and its peak RSS is its own.
    """
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    started = time.perf_counter()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    status, payload = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed: {payload}")
    payload["wall_s"] = time.perf_counter() - started
    return payload


def percentile_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    if not ordered:
        return float("nan")
    pos = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[pos] * 1000


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def dir_mb(path: Path, *, exclude: tuple[str, ...] = ()) -> float:
    """Size of the files under ``path`` in MB, leaving out top-level entries named in exclude."""
    total = 0
    for item in path.rglob("*"):
        rel = item.relative_to(path).parts
        if item.is_file() and rel[0] not in exclude:
            total += item.stat().st_size
    return total / 1e6


def fmt_duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
