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
from qa.answer.evidence import SentenceVectorCache
from qa.config import SCHEMA_VERSION, AnswerSettings, SentenceBM25
from qa.index.local import generation as store
from qa.index.local import sentence_terms as sentence_index
from qa.index.local.vectors import VectorIndex
from qa.text.sentences import sentence_spans
from qa.text.tokens import tokenize


def test_seed_index_is_self_describing(seed_index):
    gen = store.open_generation(seed_index)
    m = gen.manifest
    assert m.schema_version == SCHEMA_VERSION and m.package_version == qa.__version__
    assert m.engine == "local" and m.vectors["engine"] == "faiss"
    assert m.model["name"] == "all-MiniLM-L6-v2"
    assert m.model["weights_sha256"].startswith("53aa51172d14")
    assert m.model["dimension"] == 384 and m.chunker["max_tokens"] == 256
    assert m.counts == {"articles": 5, "chunks": gen.chunk_count}
    assert gen.vector_count() == gen.lexical.live == gen.chunk_count
    assert m.vectors["type"] == gen.segments[0].vectors.kind == "IndexFlatIP"
    assert m.vectors["segments"] == 1 and m.sentences["chunks"] == gen.chunk_count
    for path in gen.path.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle"}
    # every stored chunk is an exact span of its stored article
    chunks = gen.chunks_at(list(range(gen.chunk_count)))
    assert {c.article_id for c in chunks} == {r["id"] for r in gen.article_rows()}
    for c in chunks:
        assert gen.article(c.article_id).text[c.start : c.end] == c.text


def test_manifest_names_the_exact_index():
    vectors = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = VectorIndex.build(vectors, 8).settings
    assert settings["type"] == "IndexFlatIP" and settings["search"] == "exact"
    assert settings["codes_from"] == 50_000


# -- the saved sentence index -------------------------------------------------------------------

QUESTIONS = [
    "Who denied the airspace claims?",
    "Iraqi security media cell denial of cooperation with the US strikes",
    "ministry statement drone attack on the airbase",
    "what did the spokesman say about sovereignty",
]


def _reference_scores(texts: list[str], weights: dict[str, float]) -> np.ndarray:
    """Best-sentence BM25 of each text, sentence by sentence, as retrieval computed it before."""
    k1, b, avgdl = SentenceBM25().k1, SentenceBM25().b, SentenceBM25().avgdl
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
    """Each segment's sentence index scores every chunk exactly as its own text does."""
    scored = 0
    for segment in gen.segments:
        texts = [c.text for c in segment.chunks_at(list(range(segment.chunk_count)))]
        rows = np.random.default_rng(1).permutation(segment.chunk_count)  # any order
        for question in QUESTIONS:
            weights = gen.lexical.idf(list(dict.fromkeys(tokenize([question])[0])))
            got = segment.sentences.best_sentence_scores(rows, weights)
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
def test_sentence_rows_copied_from_the_previous_build_score_the_same(batch):
    """An incremental build copies unchanged chunks' rows: same scores as tokenizing afresh."""
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
    copied = sentence_index.SentenceIndex.build(
        after, previous=previous, previous_rows=reused, batch_size=batch
    )
    fresh = sentence_index.SentenceIndex.build(after, batch_size=batch)
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


def test_rows_are_not_copied_across_a_lexical_settings_change(seed_copy, tmp_path, encoder):
    """An index built with other BM25 settings is tokenized again; no sentence row is copied."""
    index = tmp_path / "index"
    qa.build_index(seed_copy, index, encoder=encoder)
    gen = store.current_generation(index)
    counts = gen / store.SENTENCES / "counts.npz"
    with np.load(counts) as saved:  # poison the saved counts: copied rows would carry them
        arrays = {k: saved[k] for k in saved.files}
    np.savez(counts, **{**arrays, "data": np.full_like(arrays["data"], 7)})
    manifest = json.loads((gen / store.MANIFEST).read_text())
    manifest["lexical"]["k1"] = 1.5  # as an older version with other settings wrote it
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    report = qa.build_index(seed_copy, index, encoder=encoder)
    assert "lexical changed" in (report.full_rebuild_reason or "")
    assert report.chunks_embedded == 0  # the embedding cache still serves every chunk
    _assert_sentences_match_chunks(store.open_generation(index))


def test_unchanged_corpus_is_told_without_loading_the_model(seed_index, tmp_path, monkeypatch):
    """No int8 export yet (a new cache folder): an unchanged corpus still writes nothing, and
    the model is not loaded to tell (it would export)."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    live = store.current_generation(index).name
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "new-cache"))
    report = qa.build_index(SEED, index)
    assert report.generation == live and not report.changed
    assert store.current_generation(index).name == live
    assert not list((tmp_path / "new-cache").glob("*/export.json"))  # nothing was exported


def test_a_damaged_sentence_index_is_repaired_by_qa_index(seed_index, tmp_path, encoder):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    gen = store.open_generation(index)
    (gen.path / store.SENTENCES / "counts.npz").write_bytes(b"not numpy")
    gen.close()
    with pytest.raises(qa.IndexCorruptError):
        qa.Assistant(index, encoder)
    qa.build_index(SEED, index, encoder=encoder)  # unchanged corpus, but it must not stop there
    assert qa.Assistant(index, encoder).retrieve("Palestine Street strike", k=1)


def test_an_index_of_the_one_piece_layout_says_rebuild(seed_index, tmp_path, encoder):
    """Generations written before segments are not read: a clear error, and `qa index`
    rewrites them (embedding nothing)."""
    index = tmp_path / "old"
    shutil.copytree(seed_index, index)
    gen = store.current_generation(index)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    del manifest["vectors"]["layout"]  # as written before segments
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(qa.IndexMismatchError, match="older qa.*rebuild it with `qa index"):
        qa.Assistant(index, encoder)
    report = qa.build_index(SEED, index, encoder=encoder)
    assert report.generation != gen.name and report.chunks_embedded == 0
    assert qa.Assistant(index, encoder).retrieve("Palestine Street strike", k=1)


def test_corrupt_sentence_index_is_reported(seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    layout = store.current_generation(index) / store.SENTENCES / "layout.npz"
    layout.write_bytes(layout.read_bytes()[:100])
    with pytest.raises(qa.IndexCorruptError, match=r"layout\.npz is damaged.*`qa index"):
        qa.Assistant.open(index)


def test_sentence_vector_cache_stays_within_its_budget(seed_index, encoder):
    gen = store.open_generation(seed_index)
    chunks = gen.chunks_at(list(range(6)))
    words = AnswerSettings().min_quote_words
    unbounded = SentenceVectorCache(encoder, 2**30, words).of(chunks)
    budget = 30_000  # bytes: two or three chunks' worth
    bounded = SentenceVectorCache(encoder, budget, words)
    for _ in range(2):  # the second time, the chunks dropped are embedded again
        got = bounded.of(chunks)
        assert 0 < bounded.nbytes <= budget
        assert 0 < len(bounded._rows) < len(chunks)  # some were dropped
        for chunk in chunks:
            assert [s[:2] for s in got[chunk.id]] == [s[:2] for s in unbounded[chunk.id]]
            for (_, _, v), (_, _, w) in zip(got[chunk.id], unbounded[chunk.id]):
                assert np.allclose(v, w, atol=1e-5)


def test_comment_boilerplate_not_indexed(seed_index):
    gen = store.open_generation(seed_index)
    texts = [c.text for c in gen.chunks_at(list(range(gen.chunk_count)))]
    joined = "\n".join(texts)
    assert "Brian Harry" not in joined and "moderates all comments" not in joined


def _embedded(report):
    return report.chunks_embedded


def test_incremental_add_change_delete(seed_copy, tmp_path, encoder):
    index = tmp_path / "index"
    first = qa.build_index(seed_copy, index, encoder=encoder)
    assert len(first.added) == 5 and first.chunks_embedded == first.chunks

    again = qa.build_index(seed_copy, index, encoder=encoder)
    assert again.chunks_embedded == 0 and len(again.unchanged) == 5
    assert again.generation == first.generation  # nothing changed: nothing written

    new = seed_copy / "005_new.txt"
    new.write_text(
        "Kurdish officials deny airspace claims\n\nERBIL, 3 March 2024 — The Kurdistan "
        "Region's interior ministry denied that its airspace was used in the raid.\n"
    )
    added = qa.build_index(seed_copy, index, encoder=encoder)
    assert added.added == ("005_new",) and added.chunks_embedded == 1
    gen = store.open_generation(index)
    _assert_sentences_match_chunks(gen)  # saved by the incremental build, reused chunks and all
    assert gen.article("005_new").published == "2024-03-03"  # from the dateline

    path = seed_copy / "000_0f7bfc05e65b6324.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph was added by the editors.\n")
    changed = qa.build_index(seed_copy, index, encoder=encoder)
    assert changed.updated == ("000_0f7bfc05e65b6324",)
    assert 1 <= changed.chunks_embedded <= 2  # only the chunks whose text changed
    _assert_sentences_match_chunks(store.open_generation(index))

    (seed_copy / "002_2c57bfff2ec734d1.txt").unlink()
    removed = qa.build_index(seed_copy, index, encoder=encoder)
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
    assert gen.lexical.live == gen.chunk_count == removed.chunks
    _assert_sentences_match_chunks(gen)
    # only the live and the previous generation are kept
    # on disk: the segments the live generation lists, and the generation before it
    assert len(list(index.glob("gen-*"))) <= len(gen.segments) + 2


def test_chunker_change_rebuilds_everything(seed_copy, tmp_path, encoder):
    index = tmp_path / "index"
    qa.build_index(seed_copy, index, encoder=encoder)
    report = qa.build_index(seed_copy, index, encoder=encoder, overlap_tokens=16)
    assert report.full_rebuild_reason and "chunker" in report.full_rebuild_reason
    assert len(report.added) == 5
    assert store.open_generation(index).manifest.chunker["overlap_tokens"] == 16


def test_manifest_mismatch_raises_with_fix(seed_index, tmp_path, encoder):
    qa.Assistant(seed_index, encoder)  # the model it was built with opens it
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    manifest_file = store.current_generation(index) / store.MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["model"].update(name="other-model", weights_sha256="f" * 64)
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(qa.IndexMismatchError, match="other-model.*rebuild with `qa index"):
        qa.Assistant(index, encoder)


def test_manifest_difference_names_what_changed():
    from qa.config import Manifest

    built = Manifest(model={"weights_sha256": "a", "backend": "torch"}, chunker={}, lexical={})
    same = Manifest(
        model={"weights_sha256": "a", "backend": "torch", "x": 1}, chunker={}, lexical={}
    )
    assert built.difference(same) is None
    other = Manifest(
        model={"weights_sha256": "a", "backend": "torch"}, chunker={"m": 1}, lexical={}
    )
    assert built.difference(other) == "chunker changed ({} -> {'m': 1})"
    assert built.difference(other, sections=("model",)) is None
    unknown = Manifest(
        model={"weights_sha256": "a", "backend": "torch", "export_sha256": None},
        chunker={},
        lexical={},
    )
    exported = Manifest(
        model={"weights_sha256": "a", "backend": "torch", "export_sha256": "e"},
        chunker={},
        lexical={},
    )
    assert unknown.difference(exported) is None  # not recorded by older builds


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ('{"schema_version": "1", "model": {}, "chunker": {}, "lexical": {}}', "schema_version"),
        ('{"schema_version": 1, "model": "MiniLM", "chunker": {}, "lexical": {}}', "model is str"),
        (
            '{"schema_version": 1, "model": {"name": "m"}, "chunker": {}, "lexical": {}}',
            "model.weights_sha256",
        ),
        ('{"schema_version": 1, "model": {}, "lexical": {}}', "chunker is missing"),
    ],
)
def test_a_damaged_manifest_is_one_clear_error(seed_index, tmp_path, text, message):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    (store.current_generation(index) / store.MANIFEST).write_text(text)
    with pytest.raises(qa.IndexCorruptError, match=message):
        qa.Assistant.open(index)


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
        for _ in range(rng.randint(3, 6)):
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


def test_killed_build_leaves_previous_index_loadable(seed_copy, tmp_path, encoder):
    index = tmp_path / "index"
    first = qa.build_index(seed_copy, index, encoder=encoder)
    _synthetic_corpus(seed_copy, 12, seed=1)
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
        count = gen.manifest.counts["articles"]
        assert count in (5, 17), moment
        assert gen.vector_count() == gen.lexical.size == gen.size, moment
        if count == 5:
            assert gen.name == first.generation, moment
    final = qa.build_index(seed_copy, index, encoder=encoder)
    assert final.articles == 17 and not list(index.glob(".building-*"))
    assert store.open_generation(index).chunk_count == final.chunks
    json.loads((index / final.generation / "manifest.json").read_text())
