"""Embedding spread over Ray actors: the first load of a large archive on many cores or machines.

Embedding is what a build spends its time on (MiniLM here: 5-100 chunks/s a core; reading,
cleaning and chunking 200,000 articles takes about 9 s in all), so only it is distributed.
``RayEncoder`` is an ``Encoder``: the build is the same code as a plain build, its chunk ids
are the same, and it still writes through the index's ``IndexWriter`` and embedding cache. Each
actor loads the model once and embeds batches for the whole build; every actor's model must be
the driver's (same weights, backend and int8 export), or the build is refused.

Ray core actors rather than a Ray Data pipeline: the build embeds in steps (``_EMBED_STEP``
chunks in qa/index/prepare.py, committed to the cache so a killed build keeps its work), and a
Dataset would start its actors, and load the model, again at every step.

    qa index corpus --index milvus://host:19530/newsqa --ray             # a local Ray
    qa index corpus --index milvus://host:19530/newsqa --ray ray://head:10001
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.embed.encoder import Encoder, ModelInfo, Progress, finite, open_encoder
from qa.errors import ModelError, QAError

RAY_BATCH = 64  # texts per remote call: the encoders' own forward-pass batch
# How long the actors may take to start and load the model before the build gives up (a model
# loads in about 3 s here; a cluster short of free CPUs would otherwise wait for ever).
START_TIMEOUT_S = 180.0
LOCAL = "local"  # `--ray` without an address: a Ray started for this run and stopped after


class RayError(QAError):
    """Ray is missing, or its cluster cannot be reached or used."""


class _Worker:
    """One model, loaded once, in a Ray actor."""

    def __init__(self, model: str | None, backend: str, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ["QA_EMBED_THREADS"] = str(threads)  # the int8 backend's thread count
        if backend == "torch":
            import torch

            torch.set_num_threads(threads)
        self.encoder = open_encoder(model, backend=backend)

    def info(self) -> dict[str, Any]:
        return self.encoder.info.manifest_section()

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_documents(texts)


class RayEncoder:
    """An ``Encoder`` whose ``encode_documents`` runs on ``workers`` Ray actors.

    Token counting and questions stay on the driver's own encoder (cheap, and the chunker
    needs it for every article).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        model: str | None = None,
        backend: str | None = None,
        workers: int | None = None,
        cpus_per_worker: int = 1,
        local: Encoder | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise RayError(
                "--ray needs Ray: pip install -e '.[scale]' (or pip install 'ray[data]')"
            ) from exc
        self._ray = ray
        self._started = False
        self.local = local or open_encoder(model, **({"backend": backend} if backend else {}))
        self.info: ModelInfo = self.local.info
        self.special_tokens = self.local.special_tokens
        if not ray.is_initialized():
            self._start(address, workers, cpus_per_worker)
        available = int(ray.cluster_resources().get("CPU", 1))
        count = workers or max(1, available // cpus_per_worker)
        actor = ray.remote(num_cpus=cpus_per_worker)(_Worker)
        self._actors = [
            actor.remote(model, backend or self.info.backend, cpus_per_worker) for _ in range(count)
        ]
        try:
            self._check_models()
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        return len(self._actors)

    def _start(self, address: str | None, workers: int | None, cpus: int) -> None:
        local = address in (None, "", LOCAL)
        try:
            if local:
                self._ray.init(
                    num_cpus=(workers or os.cpu_count() or 1) * cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            else:
                self._ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            where = "a local Ray" if local else f"the Ray cluster at {address}"
            raise RayError(
                f"cannot start or reach {where}: {exc}; check the address (ray://HOST:10001 "
                "or HOST:6379) and that `ray status` works there"
            ) from exc
        self._started = True

    def _check_models(self) -> None:
        mine = self.info.manifest_section()
        try:
            theirs = self._ray.get([a.info.remote() for a in self._actors], timeout=START_TIMEOUT_S)
        except self._ray.exceptions.GetTimeoutError as exc:
            raise RayError(
                f"{len(self._actors)} Ray worker(s) did not start within {START_TIMEOUT_S:.0f} s: "
                "the cluster has fewer free CPUs than workers asked for (pass --ray-workers)"
            ) from exc
        except Exception as exc:
            raise RayError(f"a Ray worker could not load the model: {exc}") from exc
        for section in theirs:
            if section != mine:
                diff = sorted(k for k in mine if section.get(k) != mine[k])
                raise ModelError(
                    f"a Ray worker's model differs from this machine's in {', '.join(diff)}: "
                    "install the same model package and qa version on every node (an int8 "
                    "export differs per machine: use --backend torch across mixed machines)"
                )

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.encode_queries(texts)

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors for ``texts``, in order, batches spread over the actors."""
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        starts = list(range(0, len(texts), RAY_BATCH))
        pending = {
            self._actors[i % len(self._actors)].encode.remote(list(texts[s : s + RAY_BATCH])): s
            for i, s in enumerate(starts)
        }
        done = 0
        while pending:
            ready, _ = self._ray.wait(list(pending), num_returns=1)
            start = pending.pop(ready[0])
            block = self._ray.get(ready[0])
            out[start : start + len(block)] = block
            done += len(block)
            if progress:
                progress(done, len(texts))
        return finite(out, f"{self.info.backend} (Ray)")

    def close(self) -> None:
        """Stop the actors, and the local Ray if this encoder started it."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
