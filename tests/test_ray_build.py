"""A build whose embedding runs on Ray actors (a local Ray of 2 CPUs, started and stopped by the
build) is the same index as a plain build: the same chunks, vectors equal to float noise, the
same answers; here through the CLI into Milvus (`qa index --ray --index milvus-lite:...`)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from conftest import DATA, SEED
from tests_engines import needs_milvus

import qa
from qa.cli import main
from qa.index.base import Filters

pytestmark = pytest.mark.skipif(
    not importlib.util.find_spec("ray"), reason="Ray is not installed (pip install '.[scale]')"
)
QUESTIONS = [json.loads(line) for line in (DATA / "seed_questions.jsonl").read_text().splitlines()]


def _every_chunk(assistant: qa.Assistant) -> dict[str, tuple[str, int, int, str]]:
    """Every chunk of the index by id, found by asking the engine for all its dense hits."""
    index = assistant.index
    count = index.catalog().chunks
    ids = list(index.dense(assistant.encoder.encode_queries(["strike"])[0], count, Filters()))
    assert len(ids) == count
    return {c.id: (c.article_id, c.start, c.end, c.text) for c in index.chunks(ids)}


def test_a_ray_worker_with_another_model_is_refused(encoder):
    import ray

    from qa.embed.ray_pool import RayEncoder
    from qa.errors import ModelError

    with pytest.raises(ModelError, match="backend"):  # the driver's int8, the worker's torch
        RayEncoder(workers=1, backend="torch", local=encoder)
    assert not ray.is_initialized()  # the Ray it started is stopped again


@needs_milvus
def test_qa_index_ray_is_the_plain_build(tmp_path, capsys, encoder):
    ray_at, plain_at = f"milvus-lite:{tmp_path / 'ray.db'}", f"milvus-lite:{tmp_path / 'plain.db'}"
    assert main(["index", str(SEED), "--index", ray_at, "--ray", "--ray-workers", "2"]) == 0
    out = capsys.readouterr()
    assert "embedding on 2 Ray worker(s)" in out.err and ": 17 embedded" in out.out
    qa.build_index(SEED, plain_at, encoder=encoder)
    ray, plain = qa.Assistant(ray_at, encoder), qa.Assistant(plain_at, encoder)
    chunks = _every_chunk(ray)
    assert chunks == _every_chunk(plain)
    ids = sorted(chunks)
    probe = encoder.encode_queries(["Iraqi officials denied cooperating with US strikes"])[0]
    np.testing.assert_allclose(
        ray.index.cosines(probe, ids), plain.index.cosines(probe, ids), atol=1e-5
    )
    for q in QUESTIONS:
        assert ray.ask(q["question"]).to_dict() == plain.ask(q["question"]).to_dict(), q["id"]
