"""Segments: an update writes only what changed, and ranks exactly as a fresh build would."""

from __future__ import annotations

import json
import os
import shutil

import bm25s
import numpy as np
import pytest

import qa
from qa.config import BM25_PARAMS
from qa.index.local import LocalIndex
from qa.index.local import generation as store
from qa.index.local.bm25 import LexicalIndex, TermCounts
from qa.index.stamps import FileStamps
from qa.ingest.corpus import load_corpus
from qa.ingest.files import DEFAULT_MAX_FILE_MB
from qa.text.tokens import tokenize

QUESTIONS = [
    "who denied cooperation in the Palestine Street strike?",
    "Kurdistan airspace raid interior ministry",
    "what did the editors add?",
    "Security Media Cell statement",
]
NEW = (
    "Kurdish officials deny airspace claims\n\nERBIL, 3 March 2024 — The Kurdistan Region's "
    "interior ministry denied that its airspace was used in the raid. Officials said the "
    "Security Media Cell had not asked for cooperation.\n"
)


def _texts(index) -> list[str]:
    gen = store.open_generation(index)
    return [c.text for c in gen.chunks_at(list(range(gen.size)))]


def test_term_counts_score_exactly_as_bm25s(seed_index):
    texts = _texts(seed_index)
    reference = bm25s.BM25(**BM25_PARAMS)
    reference.index(tokenize(texts), show_progress=False)
    ours = LexicalIndex([(TermCounts.build(texts), 0, None)])
    for question in QUESTIONS:
        terms = [t for t in tokenize([question])[0] if t in reference.vocab_dict]
        expected = np.asarray(reference.get_scores(terms), dtype=np.float32)
        assert np.array_equal(ours.scores_of(terms), expected)  # bit for bit
    # split in two segments with one half's first row deleted: the same as one index of the rest
    half = len(texts) // 2
    mask = np.ones(half, dtype=bool)
    mask[0] = False
    split = LexicalIndex(
        [(TermCounts.build(texts[:half]), 0, mask), (TermCounts.build(texts[half:]), half, None)]
    )
    rest = LexicalIndex([(TermCounts.build(texts[1:]), 0, None)])
    for question in QUESTIONS:
        terms = tokenize([question])[0]
        got, want = split.scores_of(terms), rest.scores_of(terms)
        assert got[0] == 0 and np.array_equal(got[1:], want)
        assert split.idf(terms) == rest.idf(terms)


def _ranking(index, encoder) -> list[list[tuple[str, float]]]:
    assistant = qa.Assistant(index, encoder)
    return [
        [((p.article_id, p.start), p.score) for p in assistant.retrieve(q, k=10)] for q in QUESTIONS
    ]


def _same(a, b) -> None:
    for got, want in zip(a, b):
        assert [i for i, _ in got] == [i for i, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def updated(seed_index, tmp_path_factory, encoder):
    """A seed corpus index after three updates (add, change, remove), and the final corpus."""
    root = tmp_path_factory.mktemp("segments")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(qa_seed(), corpus)
    qa.build_index(corpus, index, encoder=encoder)
    (corpus / "005_new.txt").write_text(NEW)
    qa.build_index(corpus, index, encoder=encoder)
    path = corpus / "000_0f7bfc05e65b6324.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph was added by the editors.\n")
    qa.build_index(corpus, index, encoder=encoder)
    (corpus / "002_2c57bfff2ec734d1.txt").unlink()
    qa.build_index(corpus, index, encoder=encoder)
    return corpus, index


def qa_seed():
    from conftest import SEED

    return SEED


def test_a_segmented_index_ranks_as_a_fresh_build(updated, tmp_path, encoder):
    corpus, index = updated
    gen = store.open_generation(index)
    assert len(gen.segments) == 3 and any(gen.deleted)  # the removal wrote no segment
    fresh = tmp_path / "fresh"
    qa.build_index(corpus, fresh, encoder=encoder)
    assert len(store.open_generation(fresh).segments) == 1
    segmented, rebuilt = _ranking(index, encoder), _ranking(fresh, encoder)
    _same(segmented, rebuilt)
    a, b = LocalIndex(index), LocalIndex(fresh)
    assert a.catalog().chunks == b.catalog().chunks and a.catalog().articles == 5
    assert a.article("002_2c57bfff2ec734d1") is None and a.article("005_new") is not None


def test_with_scanned_codes_a_segmented_index_ranks_as_a_fresh_build(
    tmp_path, encoder, monkeypatch
):
    # the seed base segment scans float16 codes (as a 200k one does), the update's does not
    from qa.index.local import vectors

    monkeypatch.setattr(vectors, "CODES_FROM", 8)
    corpus, index, fresh = tmp_path / "corpus", tmp_path / "index", tmp_path / "fresh"
    shutil.copytree(qa_seed(), corpus)
    qa.build_index(corpus, index, encoder=encoder)
    (corpus / "005_new.txt").write_text(NEW)
    (corpus / "002_2c57bfff2ec734d1.txt").unlink()
    qa.build_index(corpus, index, encoder=encoder)
    qa.build_index(corpus, fresh, encoder=encoder)
    base, added = store.open_generation(index).segments
    assert (base.path / "codes" / "bound.json").is_file() and base.vectors.scans_codes
    assert not (added.path / "codes").exists() and not added.vectors.scans_codes
    only = store.open_generation(fresh).segments[0]
    assert only.vectors.scans_codes
    a, b = LocalIndex(index), LocalIndex(fresh)
    from qa.index.base import Filters

    for question in QUESTIONS:
        vector = encoder.encode_queries([question])[0]
        for k in (5, 40, 1000):  # 1000: more than the index holds
            assert a.dense(vector, k, Filters()) == b.dense(vector, k, Filters())
    _same(_ranking(index, encoder), _ranking(fresh, encoder))


def test_a_merge_changes_no_ranking_and_reopens_only_new_segments(updated, tmp_path, encoder):
    corpus, index = updated
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    before = _ranking(copy, encoder)
    report = qa.build_index(corpus, copy, encoder=encoder, optimize=True)
    gen = store.open_generation(copy)
    assert report.generation == gen.name and len(gen.segments) == 1 and not any(gen.deleted)
    _same(_ranking(copy, encoder), before)
    # an open Assistant's update is incremental, and its next reader reuses the open segments
    assistant = qa.Assistant(copy, encoder)
    before_segment = assistant.index._gen.segments[0]
    more = tmp_path / "more"
    shutil.copytree(corpus, more)
    (more / "006_more.txt").write_text(NEW.replace("Kurdish", "Turkish"))
    report = assistant.update_index(more)
    assert report.added == ("006_more",) and report.chunks_embedded == 1
    assert assistant.index._gen.segments[0] is before_segment
    assert len(assistant.index._gen.segments) == 2 and assistant.stats()["articles"] == 6


def _age(folder, seconds=60) -> None:
    """Files as if written a minute ago (stamps of just-written files are not trusted)."""
    for path in folder.rglob("*"):
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 1_000_000_000))


def test_unchanged_files_are_not_read_and_jsonl_lines_not_parsed_again(tmp_path, encoder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "one.txt").write_text(NEW)
    lines = [
        json.dumps(
            {"id": f"j{n}", "title": f"Story {n}", "text": f"Report number {n} on the port."}
        )
        for n in range(3)
    ]
    (corpus / "many.jsonl").write_text("\n".join(lines) + "\n")
    _age(corpus)
    qa.build_index(corpus, index, encoder=encoder)
    store = FileStamps(index / "cache" / "files.sqlite", corpus, DEFAULT_MAX_FILE_MB)
    loaded = load_corpus(corpus, stamps=store.load(corpus))
    assert not loaded.articles and len(loaded.reused) == 4  # nothing read again
    lines.append(json.dumps({"id": "j9", "text": "A new report on the port."}))
    with (corpus / "many.jsonl").open("a") as fh:
        fh.write(lines[-1] + "\n")
    again = load_corpus(corpus, stamps=store.load(corpus))
    assert [a.id for a in again.articles] == ["j9"] and len(again.reused) == 4
    assert again.stamps["many.jsonl"].appended  # only the tail was read
    # a line changed in place: the file is read, but only that line is parsed
    text = (corpus / "many.jsonl").read_text().replace("Report number 1 ", "Report number one ")
    (corpus / "many.jsonl").write_text(text)
    edited = load_corpus(corpus, stamps=store.load(corpus))
    # (j9 is parsed too: the stamps are the last build's, from before it was appended)
    assert [a.id for a in edited.articles] == ["j1", "j9"] and len(edited.reused) == 3
    (corpus / "many.jsonl").write_text("\n".join(lines) + "\n")  # the appended version
    _age(corpus)
    report = qa.build_index(corpus, index, encoder=encoder)
    assert report.added == ("j9",) and len(report.unchanged) == 4 and report.articles == 5
    # stamps that vouch for what the index does not hold are not believed
    shutil.rmtree(index / report.generation)
    (index / "CURRENT").unlink()
    rebuilt = qa.build_index(corpus, index, encoder=encoder)
    assert len(rebuilt.added) == 5 and rebuilt.articles == 5


def test_past_the_segment_limit_an_update_folds_the_small_segments(updated, tmp_path, encoder):
    from qa.index.local.writer import AUTO_MERGE_SEGMENTS

    corpus, index = updated
    copy, more = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(index, copy)
    shutil.copytree(corpus, more)
    counts = []
    for n in range(AUTO_MERGE_SEGMENTS):
        (more / f"1{n:02d}_brief.txt").write_text(NEW.replace("3 March", f"{n + 1} April"))
        qa.build_index(more, copy, encoder=encoder)
        counts.append(len(store.open_generation(copy).segments))
    # never more than the limit; past it, the largest segment and one of all the rest
    assert max(counts) == AUTO_MERGE_SEGMENTS and 2 in counts
    fresh = tmp_path / "fresh"
    qa.build_index(more, fresh, encoder=encoder)
    _same(_ranking(copy, encoder), _ranking(fresh, encoder))


def test_lines_that_only_moved_are_reused_and_an_edit_below_them_is_seen(tmp_path, encoder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    own = [json.dumps({"id": f"j{n}", "text": f"Report number {n} on the port."}) for n in range(4)]
    anonymous = json.dumps({"text": "A report without an id of its own."})
    (corpus / "many.jsonl").write_text("\n".join([*own, anonymous]) + "\n")
    _age(corpus)
    qa.build_index(corpus, index, encoder=encoder)
    (corpus / "many.jsonl").write_text("\n".join([*own[1:], anonymous]) + "\n")  # j0 removed
    _age(corpus)
    report = qa.build_index(corpus, index, encoder=encoder)
    assert "j0" in report.removed and report.articles == 4
    store = FileStamps(index / "cache" / "files.sqlite", corpus, DEFAULT_MAX_FILE_MB)
    # moved lines with their own id are not parsed again; the one numbered by its line is
    edited = own[2].replace("number 2 ", "number two ")
    (corpus / "many.jsonl").write_text("\n".join([own[1], edited, own[3], anonymous]) + "\n")
    loaded = load_corpus(corpus, stamps=store.load(corpus))
    assert [a.id for a in loaded.articles] == ["j2"] and len(loaded.reused) == 3
    _age(corpus)
    again = qa.build_index(corpus, index, encoder=encoder)
    assert again.updated == ("j2",) and not again.added and not again.removed


def test_stamps_saved_for_another_generation_are_checked_article_by_article(tmp_path, encoder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    lines = [json.dumps({"id": f"j{n}", "text": f"Report number {n} on the port."}) for n in "012"]
    path = corpus / "many.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _age(corpus)
    first = qa.build_index(corpus, index, encoder=encoder)
    store = FileStamps(index / "cache" / "files.sqlite", corpus, DEFAULT_MAX_FILE_MB)
    store.load(corpus)
    assert store.generation == first.generation  # tied to what the build left live
    saved, before = (index / "cache" / "files.sqlite").read_bytes(), path.stat()
    path.write_text(path.read_text().replace("number 1 ", "number one "))
    _age(corpus)
    assert qa.build_index(corpus, index, encoder=encoder).updated == ("j1",)
    # the first version's file and stamps come back (as after a build killed before saving
    # its stamps): they name another generation, so their articles are checked and j1 found
    (index / "cache" / "files.sqlite").write_bytes(saved)
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = qa.build_index(corpus, index, encoder=encoder)
    assert again.updated == ("j1",) and len(again.unchanged) == 2


@pytest.mark.parametrize("pools", [(300, 600, 100), (3, 4, 2)])
def test_the_local_candidates_equal_the_id_keyed_ones(seed_index, updated, encoder, pools):
    """LocalIndex.candidates (rows inside) gives exactly what any engine's id methods give:
    one segment and three with deleted rows, every mode, filters and outlet lanes, legs
    small enough that a candidate misses the other leg's scores."""
    from qa.config import RetrievalSettings
    from qa.index.base import Filters
    from qa.search.candidates import IdCandidates, gather
    from qa.search.query import OutletMatcher, plan_query

    settings = RetrievalSettings(
        candidates=pools[0], dense_candidates=pools[1], outlet_candidates=pools[2]
    )
    for folder in (seed_index, updated[1]):
        index = LocalIndex(folder)
        sources = index.catalog().sources
        outlets = OutletMatcher(sources)
        for q in [*QUESTIONS, f"what did {sources[0]} and {sources[-1]} report on the raid?"]:
            plan = plan_query(q, outlets)
            tokens = tokenize([q])[0]
            qvec = encoder.encode_queries([plan.text])[0]
            weights = index.term_weights(list(dict.fromkeys(tokens)))
            for filters in (Filters(), Filters((sources[0],)), Filters(since="2024-03-02")):
                for mode in ("hybrid", "bm25", "dense"):
                    fast = gather(index, plan, tokens, qvec, filters, mode, settings)
                    slow = IdCandidates(
                        index, tokens, qvec, filters, _lanes(plan, filters, mode), mode, settings
                    )
                    assert type(fast).__name__ == "RowCandidates" and len(fast) == len(slow)
                    for name in ("bm25", "dense", "sources", "published"):
                        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
                    if len(slow):
                        assert np.array_equal(
                            fast.sentence_scores(weights), slow.sentence_scores(weights)
                        )
                    every = list(range(len(slow)))[::-1]
                    assert fast.chunks(every) == slow.chunks(every)
                    assert [c.id for c in fast.chunks(every)] == slow.ids[::-1]
        index.close()


def _lanes(plan, filters, mode):
    """The outlet lanes of a hybrid search (gather's)."""
    if mode != "hybrid":
        return []
    return [lane for lane in map(filters.within, plan.outlets) if lane is not None]
