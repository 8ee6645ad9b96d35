"""The index folder: manifest, incremental rebuilds, no re-embedding, mismatches, crash safety."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import qa
from qa import store


def test_seed_index_is_self_describing(seed_index):
    gen = store.open_generation(seed_index)
    m = gen.manifest
    assert m["schema_version"] == store.SCHEMA_VERSION and m["package_version"] == qa.__version__
    assert m["model"]["name"] == "all-MiniLM-L6-v2"
    assert m["model"]["weights_sha256"].startswith("53aa51172d14")
    assert m["model"]["dimension"] == 384 and m["chunker"]["max_tokens"] == 256
    assert m["counts"] == {"articles": 5, "chunks": gen.chunk_count}
    assert gen.vectors.size == gen.lexical.size == gen.chunk_count
    for path in gen.path.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle"}
    # every stored chunk is an exact span of its stored article
    for row in gen.article_rows():
        article = gen.article(row["id"])
        for c in gen.chunks_of(row["id"]):
            assert article.text[c.start : c.end] == c.text


def test_comment_boilerplate_not_indexed(seed_index):
    gen = store.open_generation(seed_index)
    texts = [c.text for r in gen.article_rows() for c in gen.chunks_of(r["id"])]
    joined = "\n".join(texts)
    assert "Brian Harry" not in joined and "moderates all comments" not in joined


def _embedded(report):
    return report.chunks_embedded


def test_incremental_add_change_delete(seed_copy, tmp_path, embedder):
    index = tmp_path / "index"
    first = qa.build_index(seed_copy, index, embedder=embedder)
    assert len(first.added) == 5 and first.chunks_embedded == first.chunks

    again = qa.build_index(seed_copy, index, embedder=embedder)
    assert again.chunks_embedded == 0 and len(again.unchanged) == 5
    assert again.generation == first.generation  # nothing changed: nothing written

    new = seed_copy / "005_new.txt"
    new.write_text(
        "Kurdish officials deny airspace claims\n\nERBIL, 3 March 2024 — The Kurdistan "
        "Region's interior ministry denied that its airspace was used in the raid.\n"
    )
    added = qa.build_index(seed_copy, index, embedder=embedder)
    assert added.added == ("005_new",) and added.chunks_embedded == 1
    gen = store.open_generation(index)
    assert gen.article("005_new").published == "2024-03-04" or gen.article("005_new").published

    path = seed_copy / "000_0f7bfc05e65b6324.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph was added by the editors.\n")
    changed = qa.build_index(seed_copy, index, embedder=embedder)
    assert changed.updated == ("000_0f7bfc05e65b6324",)
    assert 1 <= changed.chunks_embedded <= 2  # only the chunks whose text changed

    (seed_copy / "002_2c57bfff2ec734d1.txt").unlink()
    removed = qa.build_index(seed_copy, index, embedder=embedder)
    assert removed.removed == ("002_2c57bfff2ec734d1",) and removed.chunks_embedded == 0
    gen = store.open_generation(index)
    assert gen.article("002_2c57bfff2ec734d1") is None
    assert {r["id"] for r in gen.article_rows()} == {
        "000_0f7bfc05e65b6324",
        "001_a7a975d61510f7f2",
        "003_2e90ae208df18b21",
        "004_249214cac3478a04",
        "005_new",
    }
    assert gen.vectors.size == gen.chunk_count == removed.chunks
    # only the live and the previous generation are kept
    assert len(list(index.glob("gen-*"))) == 2


def test_chunker_change_rebuilds_everything(seed_copy, tmp_path, embedder):
    index = tmp_path / "index"
    qa.build_index(seed_copy, index, embedder=embedder)
    report = qa.build_index(seed_copy, index, embedder=embedder, overlap_tokens=16)
    assert report.full_rebuild_reason and "chunker" in report.full_rebuild_reason
    assert len(report.added) == 5
    assert store.open_generation(index).manifest["chunker"]["overlap_tokens"] == 16


def test_manifest_mismatch_raises_with_fix(seed_index):
    gen = store.open_generation(seed_index)
    store.check_model(
        gen,
        name="all-MiniLM-L6-v2",
        weights_sha256=gen.manifest["model"]["weights_sha256"],
        backend="torch",
    )
    with pytest.raises(qa.IndexMismatchError, match="rebuild with `qa index"):
        store.check_model(gen, name="other-model", weights_sha256="f" * 64, backend="torch")


def test_open_missing_index_names_the_fix(tmp_path):
    with pytest.raises(qa.IndexNotFoundError, match="qa index CORPUS --index"):
        store.open_generation(tmp_path / "nothing")


def test_empty_corpus_keeps_previous_index(tmp_path, seed_index):
    (tmp_path / "empty").mkdir()
    with pytest.raises(qa.CorpusNotFoundError, match="no loadable article"):
        qa.build_index(tmp_path / "empty", tmp_path / "index")


_WORDS = [
    "ministry",
    "statement",
    "strike",
    "coalition",
    "drone",
    "border",
    "militia",
    "parliament",
    "denied",
    "officials",
    "attack",
    "forces",
    "security",
    "report",
    "airbase",
    "talks",
    "sovereignty",
    "envoy",
    "convoy",
    "province",
    "spokesman",
    "council",
    "agreement",
    "sanctions",
    "investigation",
]


def _synthetic_corpus(folder: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20)))

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        paras = []
        for _ in range(rng.randint(6, 12)):
            paras.append(". ".join(sentence().capitalize() for _ in range(rng.randint(2, 5))) + ".")
        (folder / f"syn_{seed}_{i:03d}.txt").write_text(
            f"Synthetic report {i}\n\n" + "\n\n".join(paras)
        )


def _qa_index(corpus: Path, index: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    """SIGKILL the build as soon as ``ready()`` holds (polled every few milliseconds)."""
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.003)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_build_leaves_previous_index_loadable(seed_copy, tmp_path, embedder):
    index = tmp_path / "index"
    first = qa.build_index(seed_copy, index, embedder=embedder)
    _synthetic_corpus(seed_copy, 40, seed=1)
    wal = index / "cache" / "embeddings.sqlite-wal"
    moments = {
        "mid-embedding": lambda: wal.exists() and wal.stat().st_size > 0,
        "mid-write": lambda: any(index.glob(".building-*")),
        "at the switch": lambda: (
            any(index.glob("CURRENT.tmp")) or len(list(index.glob("gen-*"))) > 1
        ),
    }
    for moment, ready in moments.items():
        _kill_when(_qa_index(seed_copy, index), ready)
        gen = store.open_generation(index)  # never half-written: old or complete new
        count = gen.manifest["counts"]["articles"]
        assert count in (5, 45), moment
        assert gen.vectors.size == gen.lexical.size == gen.chunk_count, moment
        if count == 5:
            assert gen.name == first.generation, moment
    final = qa.build_index(seed_copy, index, embedder=embedder)
    assert final.articles == 45 and not list(index.glob(".building-*"))
    assert store.open_generation(index).chunk_count == final.chunks
    json.loads((index / final.generation / "manifest.json").read_text())
