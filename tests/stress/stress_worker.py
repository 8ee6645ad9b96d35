"""A child process that loads and indexes hostile inputs, so a crash or a hang cannot take the
stress run down with it: the parent gives each request a deadline and restarts a stuck worker.

Protocol: one JSON request per line on stdin, one JSON reply per line on the original stdout
(the child's own stdout is redirected to stderr so library prints cannot corrupt it).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]
PASSWD_MARK = "root:x:0:0"


class Worker:
    """The parent's handle on one worker process (started lazily, restarted after a failure)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.restarts = 0
        self._proc: subprocess.Popen[str] | None = None

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request; the reply, or {"hang": True} / {"died": code} (worker restarted)."""
        proc = self._ensure()
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        line = _readline(proc.stdout, timeout)
        if line is None:
            self.stop()
            return {"hang": True, "seconds": timeout}
        if not line:
            code = proc.wait()
            self._proc = None
            return {"died": code}
        return json.loads(line)

    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self.restarts += 1
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
            with self.log.open("a") as err:
                self._proc = subprocess.Popen(
                    [sys.executable, __file__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    cwd=ROOT,
                    env=env,
                )
            assert self._proc.stdout
            ready = _readline(self._proc.stdout, 180)
            if not ready or json.loads(ready).get("ready") is not True:
                raise RuntimeError(f"stress worker did not start; see {self.log}")
        return self._proc

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _readline(stream: TextIO, timeout: float) -> str | None:
    """A line, "" at end of stream, or None when nothing arrived within ``timeout`` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else None


# -- the child ---------------------------------------------------------------------------------


def _error(exc: BaseException) -> dict[str, Any]:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    import qa

    return {
        "type": type(exc).__name__,
        "typed": isinstance(exc, qa.QAError),
        "message": str(exc)[:300],
        "where": where,
    }


def _handle(request: dict[str, Any], embedder: Any) -> dict[str, Any]:
    import qa
    from qa.index.local import generation as store

    corpus, index = Path(request["corpus"]), Path(request["index"])
    started = time.perf_counter()
    reply: dict[str, Any] = {"articles": [], "skipped": [], "error": None}
    try:
        if request["op"] == "case":
            loaded = qa.load_corpus(corpus)
            reply["skipped"] = [s.__dict__ for s in loaded.skipped]
            if not loaded.articles:
                return reply
        if request.get("cache"):
            _share_cache(index, Path(request["cache"]))
        report = qa.build_index(corpus, index, encoder=embedder)
        reply["skipped"] = [s.__dict__ for s in report.skipped]
        generation = store.open_generation(index)
        for row in generation.article_rows():
            text = generation.article(row["id"]).text
            reply["articles"].append(
                {"id": row["id"], "path": row["path"], "passwd": PASSWD_MARK in text}
            )
        generation.close()
    except Exception as exc:  # the point of the worker: report it, keep serving
        reply["error"] = _error(exc)
    finally:
        reply["seconds"] = round(time.perf_counter() - started, 3)
    return reply


def _share_cache(index: Path, cache: Path) -> None:
    """Point the index's embedding cache at a shared folder: each text is embedded once."""
    cache.mkdir(parents=True, exist_ok=True)
    index.mkdir(parents=True, exist_ok=True)
    link = index / "cache"
    if not link.exists():
        link.symlink_to(cache, target_is_directory=True)


def main() -> None:
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # library output goes to the log, never into the protocol
    sys.stdout = sys.stderr
    from qa.embed.encoder import open_encoder

    embedder = open_encoder()
    proto.write(json.dumps({"ready": True}) + "\n")
    proto.flush()
    for line in sys.stdin:
        reply = _handle(json.loads(line), embedder)
        proto.write(json.dumps(reply, ensure_ascii=True) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
