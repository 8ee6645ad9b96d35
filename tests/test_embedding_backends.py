"""The int8 embedding backend (close to fp32, cached apart) and the approximate vector index."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import SEED

import qa
from qa.config import BACKENDS, DEFAULT_BACKEND, ChunkerSettings
from qa.embed.cache import EmbeddingCache
from qa.embed.encoder import open_encoder
from qa.embed.int8_export import export_fingerprint, model_cache_dir
from qa.errors import ModelError
from qa.index.local import generation as store
from qa.index.local.vectors import VectorIndex
from qa.ingest.chunking import Chunker
from qa.ingest.corpus import load_corpus


@pytest.fixture(scope="session")
def int8(encoder):
    """The bundled model on OpenVINO int8, from the user model cache (as `qa` itself uses it).

    It is the default backend, so this is the suite's shared encoder. The first run on a machine
    exports it (10-20 s on 2 cores); later runs load it in ~1 s.
    """
    assert encoder.info.backend == "openvino-int8" == DEFAULT_BACKEND
    return encoder


@pytest.fixture(scope="module")
def fp32():
    """Plain sentence-transformers fp32, the reference the int8 backend is held to."""
    return open_encoder(backend="torch")


@pytest.fixture(scope="module")
def seed_chunks(encoder):
    settings = ChunkerSettings(
        max_tokens=encoder.info.max_tokens, special_tokens=encoder.special_tokens
    )
    chunker = Chunker(encoder.count_tokens, settings)
    return [c for a in load_corpus(SEED).articles for c in chunker.chunk(a)]


def test_int8_vectors_are_close_to_fp32(fp32, int8, seed_chunks):
    texts = [c.text for c in seed_chunks]
    cosines = np.sum(fp32.encode_documents(texts) * int8.encode_documents(texts), axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines
    questions = ["who denied cooperation in the Palestine Street strike?", "When did it happen?"]
    q = np.sum(fp32.encode_queries(questions) * int8.encode_queries(questions), axis=1)
    # Very short texts move the most, and on CPUs without int8 dot-product instructions (AVX2
    # only: the 2026-12-02 AMD EPYC gave 0.995 and 0.963 here) int8 products round more.
    assert q.mean() >= 0.97 and q.min() >= 0.95, q
    norms = np.linalg.norm(int8.encode_documents(texts[:3]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)


def test_int8_reads_text_like_torch(fp32, int8, seed_chunks):
    """Same tokenizer, so chunking (and the chunker settings in the manifest) do not change."""
    assert int8.special_tokens == fp32.special_tokens
    assert (int8.info.dimension, int8.info.max_tokens) == (384, 256)
    for text in [c.text for c in seed_chunks] + ["", "naïve café — 1,234.5 km²"]:
        assert int8.count_tokens(text) == fp32.count_tokens(text)
    assert int8.encode_documents([]).shape == (0, 384)


def test_word_piece_vectors_come_with_the_pooled_one(fp32, int8, seed_chunks):
    """encode_tokens: the same pooled vector as encode_queries (torch exactly; int8 from its own
    two-output export, very close), unit word-piece rows without [CLS]/[SEP], and offsets into
    the text; the int8 pieces are close to torch's, and the pooled export is untouched."""
    texts = [seed_chunks[0].text[:300], "Who denied cooperation in the Palestine Street strike?"]
    for encoder, least in ((fp32, 0.9999), (int8, 0.999)):
        tokens = encoder.encode_tokens(texts)
        pooled = encoder.encode_queries(texts)
        for text, t, p in zip(texts, tokens, pooled):
            assert float(t.pooled @ p) > least
            assert len(t.tokens) == len(t.offsets) == encoder.count_tokens(text)
            assert np.allclose(np.linalg.norm(t.tokens, axis=1), 1.0, atol=1e-4)
            a, b = t.offsets[0]
            assert text[a:b].lower() == text.split()[0][: b - a].lower()
    torch_pieces, int8_pieces = fp32.encode_tokens(texts), int8.encode_tokens(texts)
    for t, i in zip(torch_pieces, int8_pieces):
        assert (t.offsets == i.offsets).all()
        assert float((t.tokens * i.tokens).sum(1).mean()) > 0.97
    assert int8.info.export_sha256 == export_fingerprint(int8.info.weights_sha256)


def test_export_is_reused_and_fingerprinted(int8):
    folder = model_cache_dir() / f"{int8.info.weights_sha256[:16]}-openvino-int8-v1"
    assert (folder / "model.xml").is_file() and (folder / "export.json").is_file()
    written = (folder / "model.bin").stat().st_mtime_ns
    again = open_encoder(backend="openvino-int8")
    assert (folder / "model.bin").stat().st_mtime_ns == written  # loaded, not exported again
    assert again.info.export_sha256 == int8.info.export_sha256 != ""


def test_cache_keys_keep_backends_apart(tmp_path, fp32, int8):
    assert fp32.info.cache_key.endswith(":torch")  # unchanged: existing caches stay valid
    assert int8.info.cache_key.startswith(f"{int8.info.weights_sha256[:16]}:openvino-int8:")
    cache = EmbeddingCache(tmp_path / "cache.sqlite", fp32.info.cache_key, 384)
    cache.put_many(["h"], fp32.encode_documents(["some text"]))
    cache.close()
    other = EmbeddingCache(tmp_path / "cache.sqlite", int8.info.cache_key, 384)
    assert other.get_many(["h"]) == {}
    other.close()


def test_switching_backend_reembeds_everything(seed_index, tmp_path, fp32, int8):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)  # built with the default, int8
    report = qa.build_index(SEED, index, encoder=fp32)
    assert "backend" in (report.full_rebuild_reason or "")
    assert report.chunks_embedded == report.chunks  # no int8 vector was reused
    gen = store.open_generation(index)
    assert gen.manifest.model["backend"] == "torch"
    gen.close()
    assistant = qa.Assistant(index, fp32)
    hits = assistant.retrieve("Palestine Street strike", k=3)
    assert hits and "Palestine Street" in " ".join(p.text for p in hits)
    with pytest.raises(qa.IndexMismatchError, match="backend torch"):
        qa.Assistant(index, int8)


def test_an_index_keeps_its_backend_unless_told(tmp_path, seed_copy):
    """`qa index` without --backend never re-embeds an existing index with another backend."""
    index = tmp_path / "index"
    first = qa.build_index(seed_copy, index, backend="torch")
    (seed_copy / "extra.txt").write_text("Extra article. " * 20, encoding="utf-8")
    again = qa.build_index(seed_copy, index)
    assert again.full_rebuild_reason is None and again.chunks_embedded < first.chunks_embedded
    gen = store.open_generation(index)
    assert gen.manifest.model["backend"] == "torch"
    gen.close()


def test_another_int8_export_is_caught_and_reembedded(seed_index, tmp_path, int8):
    """A different export (say, a new OpenVINO) makes other vectors: refuse, then re-embed."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    gen = store.open_generation(index)
    assert gen.manifest.model["export_sha256"] == int8.info.export_sha256 != ""
    manifest = gen.path / store.MANIFEST
    gen.close()
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["model"]["export_sha256"] = "0" * 64
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(qa.IndexMismatchError, match="another openvino-int8 export"):
        qa.Assistant(index, int8)
    report = qa.build_index(SEED, index)  # the cheap "unchanged" check must not skip it
    assert "export_sha256" in (report.full_rebuild_reason or "")
    assert qa.Assistant(index, int8).retrieve("Palestine Street strike", k=1)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ModelError, match="choose one of torch, openvino-int8"):
        open_encoder(backend="tensorrt")
    assert BACKENDS == ("torch", "openvino-int8")


def test_cache_dir_falls_back_when_home_is_not_writable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("QA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert "newsqa-" in model_cache_dir().name
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "mine"))
    assert model_cache_dir() == tmp_path / "mine"


def _clustered(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((40, dim))
    x = centers[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _brute_top(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact top k by float64 dot products, ties by lower row (as VectorIndex orders)."""
    scores = (vectors.astype(np.float64) @ query.astype(np.float64)).astype(np.float32)
    order = np.lexsort((np.arange(len(vectors)), -scores))[:k]
    return scores[order], order


def test_code_scan_is_exact_saved_and_read_back(tmp_path):
    import faiss

    vectors = _clustered(3000)
    index = VectorIndex(VectorIndex.build(vectors, 384)._index, codes_from=1000)
    assert index.scans_codes and index.kind == "IndexFlatIP"
    rng = np.random.default_rng(1)
    queries = vectors[rng.integers(0, 3000, 30)] + 0.05 * rng.standard_normal((30, 384))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    for k in (10, 600):
        scores, rows = index.search(queries, k)
        for q, got_scores, got_rows in zip(queries, scores, rows):
            want_scores, want_rows = _brute_top(vectors, q, k)
            assert np.array_equal(got_rows, want_rows) and np.array_equal(got_scores, want_scores)
    assert 0 < index._bound < 0.05  # float16 residuals of unit vectors: about 3e-4
    index.save(tmp_path / "v.faiss", tmp_path / "codes")
    assert sorted(p.name for p in (tmp_path / "codes").iterdir()) == [
        "0.faiss",
        "1.faiss",
        "bound.json",
    ]
    loaded = VectorIndex.load(tmp_path / "v.faiss", codes=tmp_path / "codes", codes_from=1000)
    assert loaded._bound == index._bound
    assert np.array_equal(loaded.search(queries, 600)[1], index.search(queries, 600)[1])
    many = loaded.search(queries[:1], 5000)  # k beyond the size: clipped
    assert many[1].shape == (1, 3000) and np.array_equal(
        many[1][0], _brute_top(vectors, queries[0], 3000)[1]
    )
    # codes that do not match the vectors are refused, naming the folder
    (tmp_path / "codes" / "bound.json").write_text(
        '{"bound": 0.01, "shards": [10, 20], "dimension": 384}'
    )
    with pytest.raises(ValueError, match="codes"):
        VectorIndex.load(tmp_path / "v.faiss", codes=tmp_path / "codes", codes_from=1000)
    # an index file holding an HNSW graph (written before 2026-12-03) is searched exactly too
    old = faiss.IndexHNSWFlat(384, 32, faiss.METRIC_INNER_PRODUCT)
    old.add(vectors)
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    hnsw = VectorIndex.load(tmp_path / "old.faiss")
    assert hnsw.kind == "IndexHNSWFlat" and hnsw.scans_codes
    assert np.array_equal(
        hnsw.search(queries[:3], 600)[1][2], _brute_top(vectors, queries[2], 600)[1]
    )
    assert np.array_equal(hnsw.vectors_at(np.array([7, 2999, 0])), vectors[[7, 2999, 0]])


def test_code_scan_proves_ties_and_near_copies_exactly():
    # near-copies crowd the margin: the first candidates cannot prove the top k, the scan retries
    rng = np.random.default_rng(3)
    base = _clustered(5, seed=3)
    vectors = base[rng.integers(0, 5, 4000)] + 1e-4 * rng.standard_normal((4000, 384))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    vectors[100:110] = vectors[99]  # exact copies: equal scores, lower row first
    index = VectorIndex(VectorIndex.build(vectors, 384)._index, codes_from=1000)
    for q in (vectors[99], base[0], base[4]):
        scores, rows = index.search(q, 600)
        want_scores, want_rows = _brute_top(vectors, q, 600)
        assert np.array_equal(rows[0], want_rows) and np.array_equal(scores[0], want_scores)
    flat = VectorIndex.build(vectors, 384)  # the float32 scan below CODES_FROM: the same answer
    assert not flat.scans_codes
    assert np.array_equal(flat.search(vectors[99], 600)[1], index.search(vectors[99], 600)[1])


def test_cache_reads_vectors_of_the_earlier_table(tmp_path):
    import sqlite3

    path = tmp_path / "cache.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE vectors (model_key TEXT NOT NULL, text_hash TEXT NOT NULL, "
        "vector BLOB NOT NULL, PRIMARY KEY (model_key, text_hash)) WITHOUT ROWID"
    )
    old = np.arange(384, dtype=np.float32)
    db.execute("INSERT INTO vectors VALUES ('k', 'old', ?)", (old.tobytes(),))
    db.commit()
    db.close()
    cache = EmbeddingCache(path, "k", 384)
    cache.put_many(["new"], np.ones((1, 384), dtype=np.float32))
    found = cache.get_many(["old", "new", "absent"])
    cache.close()
    assert set(found) == {"old", "new"} and np.array_equal(found["old"], old)
