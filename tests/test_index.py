"""The index folder: manifest, incremental rebuilds, no re-embedding, mismatches, crash safety."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED

import qa
from qa import retrieval, sentence_index, store
from qa.lexical import tokenize
from qa.sentences import sentence_spans
from qa.vectors import VectorIndex


def test_seed_index_is_self_describing(seed_index):
    gen = store.open_generation(seed_index)
    m = gen.manifest
    assert m["schema_version"] == store.SCHEMA_VERSION and m["package_version"] == qa.__version__
    assert m["model"]["name"] == "all-MiniLM-L6-v2"
    assert m["model"]["weights_sha256"].startswith("53aa51172d14")
    assert m["model"]["dimension"] == 384 and m["chunker"]["max_tokens"] == 256
    assert m["counts"] == {"articles": 5, "chunks": gen.chunk_count}
    assert gen.vectors.size == gen.lexical.size == gen.chunk_count
    assert m["vectors"]["type"] == gen.vectors.kind == "IndexFlatIP"
    assert gen.has_saved_sentences and m["sentences"]["chunks"] == gen.chunk_count
    for path in gen.path.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle"}
    # every stored chunk is an exact span of its stored article
    for row in gen.article_rows():
        article = gen.article(row["id"])
        for c in gen.chunks_of(row["id"]):
            assert article.text[c.start : c.end] == c.text


def test_manifest_names_the_approximate_index_when_one_is_built():
    vectors = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    approx = VectorIndex.build(vectors, 8, approximate_from=20)
    assert approx.settings["type"] == "IndexHNSWFlat" and approx.settings["hnsw_m"] == 32
    assert VectorIndex.build(vectors, 8).settings["type"] == "IndexFlatIP"


# -- the saved sentence index -------------------------------------------------------------------

QUESTIONS = [
    "Who denied the airspace claims?",
    "Iraqi security media cell denial of cooperation with the US strikes",
    "ministry statement drone attack on the airbase",
    "what did the spokesman say about sovereignty",
]


def _reference_scores(texts: list[str], weights: dict[str, float]) -> np.ndarray:
    """Best-sentence BM25 of each text, sentence by sentence, as retrieval computed it before."""
    k1, b, avgdl = (
        sentence_index.SENTENCE_K1,
        sentence_index.SENTENCE_B,
        sentence_index.SENTENCE_AVGDL,
    )
    out = []
    for text in texts:
        best = 0.0
        for tokens in tokenize([text[a:z] for a, z in sentence_spans(text)] or [""]):
            counts, norm = Counter(tokens), k1 * (1 - b + b * len(tokens) / avgdl)
            score = sum(
                w * counts[t] * (k1 + 1) / (counts[t] + norm)
                for t, w in weights.items()
                if t in counts
            )
            best = max(best, score)
        out.append(best)
    return np.array(out, dtype=np.float32)


def _assert_sentences_match_chunks(gen: store.Generation) -> None:
    """The generation's sentence index scores every chunk exactly as its own text does."""
    texts = [c.text for c in gen.chunks_at(list(range(gen.chunk_count)))]
    rows = np.random.default_rng(1).permutation(gen.chunk_count)  # any order
    scored = 0
    for question in QUESTIONS:
        weights = gen.lexical.idf(list(dict.fromkeys(tokenize([question])[0])))
        got = gen.sentences().best_sentence_scores(rows, weights)
        assert np.array_equal(got, _reference_scores([texts[r] for r in rows], weights))
        scored += int((got > 0).sum())
    assert scored > 0


def test_sentence_index_scores_like_the_sentences(seed_index):
    _assert_sentences_match_chunks(store.open_generation(seed_index))


def test_sentence_index_edge_cases(tmp_path):
    texts = ["", "The and of it.", "Drone strike. Drone, drone! The strike was denied.", "x" * 50]
    saved = tmp_path / "sentences"
    sentence_index.SentenceIndex.build(texts).save(saved)
    index = sentence_index.SentenceIndex.load(saved)
    assert index.size == 4
    for weights in ({}, {"drone": 2.0}, {"strike": 0.5, "drone": 1.5, "deni": 1.0}, {"zzz": 1.0}):
        for rows in ([0, 1, 2, 3], [2, 2, 0], [3], []):
            got = index.best_sentence_scores(np.array(rows, dtype=np.int64), weights)
            want = _reference_scores([texts[r] for r in rows], weights)
            assert got.dtype == np.float32 and np.array_equal(got, want)


@pytest.mark.parametrize("batch", [2, 2000])
def test_sentence_rows_copied_from_the_previous_build_score_the_same(monkeypatch, batch):
    """An incremental build copies unchanged chunks' rows: same scores as tokenizing afresh."""
    monkeypatch.setattr(sentence_index, "_BATCH", batch)
    before = ["Drone strike near the base. Officials denied it.", "", "The PMF said so.", "x" * 9]
    after = [
        "A new report on the drone strike. The ministry denied cooperation.",  # new text
        before[2],  # moved
        "",  # an empty chunk, new
        before[0],
        "Another new one about sovereignty and strikes.",
        before[3],
    ]
    previous = sentence_index.SentenceIndex.build(before)
    reused = [None, 2, None, 0, None, 3]
    copied = sentence_index.SentenceIndex.build(after, previous=previous, previous_rows=reused)
    fresh = sentence_index.SentenceIndex.build(after)
    assert copied.settings == {**fresh.settings, "terms": copied.settings["terms"]}
    rows = np.arange(len(after), dtype=np.int64)
    for weights in ({"drone": 2.0}, {"strike": 0.5, "deni": 1.0, "pmf": 3.0}, {"sovereignti": 1.0}):
        got = copied.best_sentence_scores(rows, weights)
        assert np.array_equal(got, fresh.best_sentence_scores(rows, weights))
        assert np.array_equal(got, _reference_scores(after, weights))


def test_copied_rows_drop_the_terms_of_removed_chunks():
    previous = sentence_index.SentenceIndex.build(["Alpha bravo charlie delta.", "Drone strike."])
    built = sentence_index.SentenceIndex.build(
        ["Echo foxtrot golf.", "Drone strike."], previous=previous, previous_rows=[None, 1]
    )
    fresh = sentence_index.SentenceIndex.build(["Echo foxtrot golf.", "Drone strike."])
    assert built.settings["terms"] == fresh.settings["terms"] == 5
    for weights in ({"drone": 1.0}, {"echo": 2.0, "strike": 1.0}, {"alpha": 1.0}):
        rows = np.array([0, 1], dtype=np.int64)
        assert np.array_equal(
            built.best_sentence_scores(rows, weights), fresh.best_sentence_scores(rows, weights)
        )


def test_rows_are_not_copied_across_a_tokenizer_change(seed_copy, tmp_path, embedder, monkeypatch):
    """When the lexical settings change, every chunk is tokenized again, none copied."""
    from qa import indexer

    index = tmp_path / "index"
    qa.build_index(seed_copy, index, embedder=embedder)
    plain = sentence_index.tokenize
    monkeypatch.setattr(
        sentence_index, "tokenize", lambda texts: [[t.upper() for t in x] for x in plain(texts)]
    )
    monkeypatch.setattr(indexer, "LEXICAL_SETTINGS", {**indexer.LEXICAL_SETTINGS, "v": 2})
    report = qa.build_index(seed_copy, index, embedder=embedder)
    assert "lexical" in (report.full_rebuild_reason or "")
    gen = store.open_generation(index)
    texts = [c.text for c in gen.chunks_at(list(range(gen.chunk_count)))]
    fresh = sentence_index.SentenceIndex.build(texts)
    assert gen.sentences().settings == fresh.settings
    rows = np.arange(gen.chunk_count, dtype=np.int64)
    assert np.array_equal(
        gen.sentences().best_sentence_scores(rows, {"DRONE": 1.0, "STRIKE": 2.0}),
        fresh.best_sentence_scores(rows, {"DRONE": 1.0, "STRIKE": 2.0}),
    )
    gen.close()


def test_unchanged_corpus_writes_nothing_after_the_model_loads(seed_index, tmp_path, monkeypatch):
    """Even when the cheap check cannot decide (e.g. the int8 export was deleted and redone)."""
    from qa import indexer

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    live = store.current_generation(index).name
    monkeypatch.setattr(indexer, "_same_setup", lambda *args: False)
    report = qa.build_index(SEED, index)
    assert report.generation == live and not report.changed
    assert store.current_generation(index).name == live


def test_a_damaged_sentence_index_is_repaired_by_qa_index(seed_index, tmp_path, embedder):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    gen = store.open_generation(index)
    (gen.path / store.SENTENCES / "counts.npz").write_bytes(b"not numpy")
    gen.close()
    with pytest.raises(qa.IndexCorruptError):
        qa.Assistant(index, embedder)
    qa.build_index(SEED, index, embedder=embedder)  # unchanged corpus, but it must not stop there
    assert qa.Assistant(index, embedder).retrieve("Palestine Street strike", k=1)


def test_old_generation_without_sentences_still_answers_the_same(seed_index, tmp_path, embedder):
    index = tmp_path / "old"
    shutil.copytree(seed_index, index)
    old_gen = store.current_generation(index)
    shutil.rmtree(old_gen / store.SENTENCES)  # as written before the sentence index existed
    old, new = store.open_generation(index), store.open_generation(seed_index)
    assert not old.has_saved_sentences
    _assert_sentences_match_chunks(old)  # computed on open
    for question in QUESTIONS:
        hits = [
            [
                (h.chunk.row, h.score)
                for h in retrieval.Retriever(g, embedder).search(question, 5).hits
            ]
            for g in (old, new)
        ]
        assert hits[0] == hits[1]
    # `qa index` on the unchanged corpus writes a generation that has them, embedding nothing
    report = qa.build_index(SEED, index, embedder=embedder)
    assert report.generation != old_gen.name and report.chunks_embedded == 0
    assert store.open_generation(index).has_saved_sentences


def test_corrupt_sentence_index_is_reported(seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    layout = store.current_generation(index) / store.SENTENCES / "layout.npz"
    layout.write_bytes(layout.read_bytes()[:100])
    with pytest.raises(qa.IndexCorruptError, match="sentence index .* rebuild with `qa index`"):
        qa.Assistant.open(index)


def test_sentence_vector_cache_stays_within_its_budget(seed_index, embedder, monkeypatch):
    gen = store.open_generation(seed_index)
    chunks = gen.chunks_at(list(range(6)))
    unbounded = retrieval.Retriever(gen, embedder).sentence_vectors(chunks)
    budget = 30_000  # bytes: two or three chunks' worth
    monkeypatch.setattr(retrieval, "_SENTENCE_VECTOR_BYTES", budget)
    bounded = retrieval.Retriever(gen, embedder)
    for _ in range(2):  # the second time, the rows dropped are embedded again
        got = bounded.sentence_vectors(chunks)
        assert 0 < bounded._sentence_vectors.nbytes <= budget
        assert 0 < len(bounded._sentence_vectors._rows) < len(chunks)  # some were dropped
        for chunk in chunks:
            assert [s[:2] for s in got[chunk.row]] == [s[:2] for s in unbounded[chunk.row]]
            for (_, _, v), (_, _, w) in zip(got[chunk.row], unbounded[chunk.row]):
                assert np.allclose(v, w, atol=1e-5)


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
    _assert_sentences_match_chunks(gen)  # saved by the incremental build, reused chunks and all
    assert gen.article("005_new").published == "2024-03-04" or gen.article("005_new").published

    path = seed_copy / "000_0f7bfc05e65b6324.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph was added by the editors.\n")
    changed = qa.build_index(seed_copy, index, embedder=embedder)
    assert changed.updated == ("000_0f7bfc05e65b6324",)
    assert 1 <= changed.chunks_embedded <= 2  # only the chunks whose text changed
    _assert_sentences_match_chunks(store.open_generation(index))

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
    _assert_sentences_match_chunks(gen)
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
        backend=gen.manifest["model"]["backend"],
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
