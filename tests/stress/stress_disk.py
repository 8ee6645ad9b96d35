"""Stress section 2b: a full disk. The index lives on a tiny file system that is filled up to a
little headroom; each build must fail cleanly (a typed qa error or an OSError; from the CLI exit
code 1 and one line, no traceback) and leave the previous generation live and answering."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stress_inputs import article_text

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus"
QUESTION = "who denied cooperation in the Palestine Street strike?"
# Bytes left free before each build. An update of 10 articles writes one small segment (about
# 75 KB on the seed corpus, plus its embedding cache rows), so 384 KB, which stopped a whole new
# generation, now lets it finish: the largest headroom stays under one update's size.
HEADROOMS = (0, 8_192, 32_768, 65_536, 98_304)


class NoSmallDisk(Exception):
    """Neither a tmpfs nor a loop-mounted ext4 image could be mounted (message says why)."""


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int = 4) -> Iterator[str]:
    """Mount a ``size_mb`` file system at ``where``; yields how it was made.

    Tries a tmpfs, then a loop-mounted ext4 image; raises NoSmallDisk when both are refused.
    """
    where.mkdir(parents=True, exist_ok=True)
    tried = []
    image = Path(tempfile.mkdtemp(prefix="stress-disk-")) / "disk.img"
    attempts = [
        ("tmpfs", [["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)]]),
        (
            "loop ext4 image",
            [
                ["truncate", "-s", f"{size_mb}M", str(image)],
                ["mkfs.ext4", "-q", "-F", str(image)],
                ["mount", "-o", "loop", str(image), str(where)],
            ],
        ),
    ]
    for how, commands in attempts:
        try:
            for command in commands:
                subprocess.run(command, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            tried.append(f"{how}: {getattr(exc, 'stderr', '') or exc}".strip())
            continue
        try:
            yield f"{how} of {size_mb} MB"
        finally:
            gc.collect()  # close sqlite handles left by failed builds before unmounting
            if subprocess.run(["umount", str(where)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(where)], capture_output=True)
            shutil.rmtree(image.parent, ignore_errors=True)
        return
    shutil.rmtree(image.parent, ignore_errors=True)
    raise NoSmallDisk("; ".join(tried))


def fill(disk: Path, headroom: int) -> Path:
    """Write a filler file that leaves about ``headroom`` bytes free on ``disk``."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    filler = disk / "filler.bin"
    with filler.open("wb") as fh:
        left = max(0, free - headroom)
        block = b"\0" * (1 << 20)
        with contextlib.suppress(OSError):  # ENOSPC on the last block is fine
            while left > 0:
                left -= fh.write(block[: min(left, len(block))])
    return filler


def add_articles(corpus: Path, tag: str, n: int = 10) -> None:
    for i in range(n):
        text = article_text(f"disk-{tag}-{i}") + article_text(f"disk-{tag}-{i}-b")
        (corpus / f"disk-{tag}-{i:02d}.txt").write_text(text)


def old_index_intact(index: Path, name: str, embedder: Any) -> str:
    """'' when generation ``name`` is still live, complete and answering; else what is wrong."""
    import qa
    from qa.index.local import generation as store

    try:
        gen = store.open_generation(index)
        live, sizes = gen.name, (gen.vector_count(), gen.lexical.size, gen.size)
        gen.close()
        if live != name:
            return f"the live generation changed to {live}"
        if len(set(sizes)) != 1:
            return f"inconsistent generation: {sizes}"
        if qa.Assistant(index, embedder).ask(QUESTION).abstained:
            return "the seed question is no longer answered"
    except Exception as exc:
        return f"reopening failed: {type(exc).__name__}: {exc}"
    return ""


@dataclass
class DiskResult:
    """Builds on a full disk and what they left behind."""

    how: str = ""
    trials: int = 0
    clean: int = 0  # failed with a typed qa error / OSError, or exit 1 and one line (CLI)
    intact: int = 0  # the previous generation stayed live and answered
    recovered: str = "not run"
    failures: list[str] = field(default_factory=list)


def run_full_disk(work: Path, embedder: Any, *, cli_headrooms: tuple[int, ...]) -> DiskResult:
    """In-process builds at each of HEADROOMS, then `qa index` runs at ``cli_headrooms``."""
    import qa
    from qa.index.local import generation as store

    result = DiskResult()
    disk, corpus = work / "disk", work / "corpus"
    shutil.copytree(SEED, corpus)
    try:
        with small_disk(disk) as how:
            result.how = how
            index = disk / "index"
            name = qa.build_index(corpus, index, encoder=embedder).generation
            trials = [("build_index", h) for h in HEADROOMS] + [
                ("`qa index`", h) for h in cli_headrooms
            ]
            for n, (how_built, headroom) in enumerate(trials):
                add_articles(corpus, f"trial{n}")  # every build has new text to embed and write
                filler = fill(disk, headroom)
                run = _cli if how_built == "`qa index`" else _in_process
                outcome = run(corpus, index, embedder)
                filler.unlink()
                label = f"{how_built} with {headroom} bytes free"
                name = _record(result, label, outcome, index, name, embedder)
            report = qa.build_index(corpus, index, encoder=embedder)
            ok = report.articles == len(qa.load_corpus(corpus).articles)
            ok = ok and store.open_generation(index).name == report.generation
            result.recovered = "ok" if ok else f"rebuild after freeing space gave {report}"
    except NoSmallDisk as exc:
        result.how = f"skipped: cannot mount a small file system ({exc})"
    return result


def _record(
    result: DiskResult, label: str, outcome: str, index: Path, name: str, embedder: Any
) -> str:
    """Count one trial; returns the name of the generation that should now be live."""
    from qa.index.local import generation as store

    result.trials += 1
    if outcome == "built":  # the headroom sufficed: not a full-disk trial after all
        result.failures.append(f"{label}: the build succeeded (headroom too large)")
        gen = store.open_generation(index)
        gen.close()
        return gen.name
    if outcome.startswith("clean"):
        result.clean += 1
    else:
        result.failures.append(f"{label}: {outcome}")
    problem = old_index_intact(index, name, embedder)
    if problem:
        result.failures.append(f"{label}: old index not intact: {problem}")
    else:
        result.intact += 1
    return name


def _in_process(corpus: Path, index: Path, embedder: Any) -> str:
    import qa

    try:
        qa.build_index(corpus, index, encoder=embedder)
    except (qa.QAError, OSError) as exc:
        return f"clean: {type(exc).__name__}: {exc}"
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
        return f"untyped error {type(exc).__module__}.{type(exc).__name__}: {exc} ({where})"
    return "built"


def _cli(corpus: Path, index: Path, embedder: Any = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(index), "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode == 0:
        return "built"
    if proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("qa index: error:"):
        return f"clean: {lines[0]}"
    last = lines[-1] if lines else ""
    trace = "with a traceback" if "Traceback" in proc.stderr else "without a traceback"
    return f"exit code {proc.returncode}, {len(lines)} stderr lines {trace}; last: {last}"
