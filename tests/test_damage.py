"""A damaged index says which file and how to fix it, and `qa index` repairs it; vectors that
are not numbers never reach a question (issue: NaN vectors made `qa ask` spin forever)."""

from __future__ import annotations

import shutil
import sqlite3

import faiss
import numpy as np
import pytest
from conftest import SEED

import qa
from qa.config import RetrievalSettings
from qa.embed.cache import EmbeddingCache
from qa.index.base import StoredChunk
from qa.index.local import generation as store
from qa.search.diversify import diversify
from qa.search.hits import Hit
from qa.search.query import QueryPlan

Q = "who denied cooperation in the Palestine Street strike?"


@pytest.fixture()
def index(seed_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    return copy


def _live(index):
    return store.current_generation(index)


def _repaired(index, encoder, *, embedded=0):
    """`qa index` on the same corpus rebuilds the damaged generation; questions work again."""
    report = qa.build_index(SEED, index, encoder=encoder)
    assert report.chunks_embedded == embedded and report.generation == _live(index).name
    answer = qa.Assistant(index, encoder).ask(Q)
    assert not answer.abstained and "Security Media Cell" in answer.citations[0].quote


def test_nan_in_the_embedding_cache_is_embedded_again(index, encoder):
    cache = store.cache_path(index)
    db = sqlite3.connect(cache)
    db.execute("UPDATE embeddings SET vector = ?", (np.full(384, np.nan, "float32").tobytes(),))
    db.commit()
    db.close()
    shutil.rmtree(_live(index))  # as if the generation had to be written again
    (index / "CURRENT").unlink()
    report = qa.build_index(SEED, index, encoder=encoder)
    assert report.chunks_embedded == report.chunks  # none of the poisoned vectors was used
    assert qa.Assistant(index, encoder).ask(Q).citations
    with pytest.raises(ValueError, match="NaN"):
        EmbeddingCache(cache, "k", 2).put_many(["h"], np.array([[np.nan, 1.0]], "float32"))


def test_nan_rows_in_the_vector_file_are_refused_then_repaired(index, encoder):
    path = _live(index) / "vectors.faiss"
    vectors = faiss.read_index(str(path))
    rows = vectors.reconstruct_n(0, vectors.ntotal)
    rows[[1, 5]] = np.nan
    poisoned = faiss.IndexFlatIP(rows.shape[1])
    poisoned.add(rows)
    faiss.write_index(poisoned, str(path))
    with pytest.raises(qa.IndexCorruptError, match=r"vectors\.faiss is damaged.*`qa index"):
        qa.Assistant(index, encoder)
    _repaired(index, encoder)


def test_a_vector_file_of_another_dimension_is_refused(index, encoder, tmp_path):
    from qa.index.local.vectors import VectorIndex

    other = faiss.IndexFlatIP(8)
    other.add(np.eye(8, dtype="float32")[:1].repeat(17, axis=0))
    faiss.write_index(other, str(tmp_path / "other.faiss"))
    with pytest.raises(ValueError, match="dimension 8, the model makes 384"):
        VectorIndex.load(tmp_path / "other.faiss", dimension=384)
    shutil.copy(tmp_path / "other.faiss", _live(index) / "vectors.faiss")
    with pytest.raises(qa.IndexCorruptError, match=r"vectors\.faiss is damaged"):
        qa.Assistant(index, encoder)
    _repaired(index, encoder)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _empty(path):
    path.write_bytes(b"")


def _drop_table(path):
    db = sqlite3.connect(path)
    db.execute("DROP TABLE chunks")
    db.commit()
    db.close()


def _orphan_chunks(path):
    db = sqlite3.connect(path)
    db.execute("UPDATE chunks SET article_id = 'no-such-article' WHERE row = 0")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", [_truncate, _random_bytes, _empty, _drop_table, _orphan_chunks])
def test_a_damaged_meta_sqlite_is_one_line_and_repaired(index, encoder, damage):
    damage(_live(index) / "meta.sqlite")
    with pytest.raises(qa.IndexCorruptError, match=r"meta\.sqlite.*`qa index"):
        qa.Assistant(index, encoder)
    _repaired(index, encoder)


def test_nan_scores_never_hang_the_choice_of_passages():
    plan = QueryPlan(Q, Q, ("A", "B"), (), (), ())
    chunk = StoredChunk("c", "a", 0, 4, "text", source="A")
    hits = [Hit(chunk, float("nan"), float("nan"), 0.0)] * 3
    assert diversify(plan, hits, 5, RetrievalSettings()) == []


def test_silent_damage_is_found_by_verify_and_repaired(index, encoder):
    """A flipped byte that still reads (same size) is caught by `qa index --verify`."""
    path = _live(index) / "bm25" / "vocab.json"
    data = bytearray(path.read_bytes())
    data[2] ^= 0x01  # one letter of the first term changes; the file still loads
    path.write_bytes(bytes(data))
    live = _live(index).name
    assert qa.build_index(SEED, index, encoder=encoder).generation == live  # sizes agree
    report = qa.build_index(SEED, index, encoder=encoder, verify=True)
    assert report.generation != live and report.chunks_embedded == 0
    assert qa.Assistant(index, encoder).ask(Q).citations


def test_a_file_of_another_size_is_damaged_on_open(index, encoder):
    with (_live(index) / "sentences" / "vocab.json").open("a") as fh:
        fh.write(" ")
    with pytest.raises(qa.IndexCorruptError, match=r"vocab\.json is damaged.*`qa index"):
        qa.Assistant(index, encoder)
    _repaired(index, encoder)
