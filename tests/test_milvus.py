"""The Milvus engine end to end on real milvus-lite: the seed question answered with exact
citations, incremental add/change/remove, repair after an interrupted publish, the model check,
and a milvus-lite server reached over the network on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA, SEED
from tests_engines import needs_milvus

import qa
from qa.index.factory import open_reader

pytestmark = needs_milvus
SEED_QUESTION = json.loads((DATA / "seed_questions.jsonl").read_text().splitlines()[0])


def _client(location: str):
    from qa.index.milvus import schema
    from qa.index.milvus.location import lite_location

    where = lite_location(location.split(":", 1)[1])
    return where, schema.connect(where)


def _rows(location: str, part: str, field: str = "id") -> set[str]:
    from qa.index.milvus import rows

    where, client = _client(location)
    try:
        return {r[field] for r in rows.every(client, where.collection(part), [field])}
    finally:
        client.close()


def _assert_answers_seed(location: str, encoder) -> None:
    assistant = qa.Assistant(location, encoder)
    answer = assistant.ask(SEED_QUESTION["question"])
    assert not answer.abstained and SEED_QUESTION["answers"][0] in answer.citations[0].quote
    assert answer.citations[0].article_id in SEED_QUESTION["gold_article_ids"]
    for c in answer.citations:
        article = assistant.article(c.article_id)
        assert article.text[c.quote_start : c.quote_end] == c.quote


def test_seed_corpus_answers_from_milvus_lite(tmp_path, encoder):
    location = f"milvus-lite:{tmp_path / 'seed.db'}"
    report = qa.build_index(SEED, location, encoder=encoder)
    assert report.articles == 5 and report.chunks_embedded == report.chunks
    where, client = _client(location)
    try:  # as a new process or a restarted server finds them: released
        for name in client.list_collections():
            client.release_collection(name)
    finally:
        client.close()
    _assert_answers_seed(location, encoder)
    assert (tmp_path / "seed.db.cache" / "embeddings.sqlite").exists()  # beside the lite file
    again = qa.build_index(SEED, location, encoder=encoder)
    assert again.generation == report.generation and again.chunks_embedded == 0


def test_incremental_add_change_remove(seed_copy, tmp_path, encoder):
    location = f"milvus-lite:{tmp_path / 'x.db'}"
    first = qa.build_index(seed_copy, location, encoder=encoder)
    (seed_copy / "005_extra.txt").write_text((DATA / "extra_article.txt").read_text())
    changed = seed_copy / "000_0f7bfc05e65b6324.txt"
    changed.write_text(
        changed.read_text() + "\nA new closing paragraph was added by the editors.\n"
    )
    (seed_copy / "002_2c57bfff2ec734d1.txt").unlink()
    report = qa.build_index(seed_copy, location, encoder=encoder)
    assert report.added == ("005_extra",) and report.updated == ("000_0f7bfc05e65b6324",)
    assert report.removed == ("002_2c57bfff2ec734d1",)
    assert 0 < report.chunks_embedded < first.chunks  # only the new and changed text
    index = open_reader(location)
    try:
        assert index.catalog().name == "v2" and index.catalog().articles == 5
        assert index.article("002_2c57bfff2ec734d1") is None
        assert index.article("000_0f7bfc05e65b6324").text.endswith("added by the editors.")
        assert "Mosul" in index.article("005_extra").text
        stored = _rows(location, "chunks")
        assert len(stored) == report.chunks == index.catalog().chunks  # nothing left behind
        assert index.chunks(sorted(stored)) and len(index.chunks(sorted(stored))) == len(stored)
        assert len(_rows(location, "texts")) == 5  # old texts of changed/removed articles gone
    finally:
        index.close()
    _assert_answers_seed(location, encoder)


def test_an_interrupted_publish_is_hidden_and_repaired(seed_copy, tmp_path, encoder):
    """What a build killed mid-publish leaves (state "writing", an article row gone before its
    chunks) shows no half article, and the next `qa index` of the same corpus repairs it."""
    from qa.index.milvus import meta

    location = f"milvus-lite:{tmp_path / 'x.db'}"
    qa.build_index(seed_copy, location, encoder=encoder)
    victim = "001_a7a975d61510f7f2"
    where, client = _client(location)
    try:
        meta.mark(client, where, meta.WRITING, 2)
        client.delete(where.collection("articles"), ids=[victim])
    finally:
        client.close()
    index = open_reader(location)
    try:
        every = index.dense(encoder.encode_queries(["a strike"])[0], 999, qa.Filters())
        assert every and all(r.article_id != victim for r in index.refs(list(every)))
        assert all(c.article_id != victim for c in index.chunks(list(every)))
    finally:
        index.close()
    report = qa.build_index(seed_copy, location, encoder=encoder)
    assert report.chunks_embedded == 0 and report.generation == "v2"
    index = open_reader(location)
    try:
        assert index.article(victim) is not None and index.catalog().articles == 5
        assert len(_rows(location, "chunks")) == index.catalog().chunks == report.chunks
    finally:
        index.close()


def test_another_model_is_refused_with_the_fix(tmp_path, encoder):
    from qa.index.milvus import meta

    location = f"milvus-lite:{tmp_path / 'x.db'}"
    qa.build_index(SEED, location, encoder=encoder)
    where, client = _client(location)
    try:
        published = meta.read(client, where)
        other = {**published.manifest.model, "name": "other-model", "weights_sha256": "f" * 64}
        meta.write(client, where, dataclasses.replace(published.manifest, model=other), 1)
    finally:
        client.close()
    with pytest.raises(qa.IndexMismatchError, match="other-model.*rebuild with `qa index"):
        qa.Assistant(location, encoder)


def test_an_index_of_the_older_layout_is_rebuilt_with_the_reason(tmp_path, encoder):
    """An index written before chunks were partitioned by outlet (schema version 1: no
    partition key) gets its chunks collection recreated by the next `qa index`, which says
    why; nothing is embedded again and the answers stay exact."""
    from qa.index.milvus import meta, schema

    location = f"milvus-lite:{tmp_path / 'x.db'}"
    first = qa.build_index(SEED, location, encoder=encoder)
    where, client = _client(location)
    try:
        published = meta.read(client, where)
        assert published.manifest.schema_version == schema.VERSION == 2
        old = dataclasses.replace(published.manifest, schema_version=1)
        meta.write(client, where, old, published.version)
        # the version 1 chunks collection: the same fields, no partition key, left empty
        client.drop_collection(where.collection("chunks"))
        layout, index = schema._chunks(client, 384)
        for f in layout.fields:
            f.is_partition_key = False
        client.create_collection(where.collection("chunks"), schema=layout, index_params=index)
    finally:
        client.close()
    report = qa.build_index(SEED, location, encoder=encoder)
    assert report.full_rebuild_reason.startswith(
        "the Milvus schema changed (version 1 -> 2: chunks partitioned by outlet_key)"
    )
    assert report.chunks_embedded == 0 and report.chunks == first.chunks
    where, client = _client(location)
    try:
        fields = client.describe_collection(where.collection("chunks"))["fields"]
        assert [f["name"] for f in fields if f.get("is_partition_key")] == ["outlet_key"]
        assert meta.read(client, where).manifest.schema_version == 2
    finally:
        client.close()
    _assert_answers_seed(location, encoder)
    assert qa.build_index(SEED, location, encoder=encoder).full_rebuild_reason is None


def test_an_article_that_changes_outlet_moves_partition(tmp_path, encoder):
    """The chunks of an article whose outlet changed are upserted under another partition
    key: the outlet filters find them under the new outlet only, with no copy left behind."""
    articles = [
        {"id": f"a{n}", "title": f"Harbour strike day {n}", "source": outlet, "body": body}
        for n, (outlet, body) in enumerate(
            [
                ("Harbour Post", "Dock workers walked out over pay on Monday. " * 8),
                ("Valley News", "The harbour strike ended after talks on Friday. " * 8),
            ]
        )
    ]
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in articles))
    location = f"milvus-lite:{tmp_path / 'x.db'}"
    qa.build_index(corpus, location, encoder=encoder)
    articles[0]["source"] = "Valley News"
    corpus.write_text("\n".join(json.dumps(a) for a in articles))
    report = qa.build_index(corpus, location, encoder=encoder)
    assert report.updated == ("a0",) and report.chunks_embedded == 0
    query = encoder.encode_queries(["harbour strike"])[0]
    index = open_reader(location)
    try:
        valley = index.dense(query, 50, qa.Filters(("valley news",)))
        assert {r.article_id for r in index.refs(list(valley))} == {"a0", "a1"}
        assert index.dense(query, 50, qa.Filters(("Harbour Post",))) == {}
        assert len(_rows(location, "chunks")) == report.chunks == len(valley)
    finally:
        index.close()


def test_a_location_without_db_names_the_fix():
    with pytest.raises(qa.QAError, match=r"ending in \.db"):
        open_reader("milvus-lite:/tmp/index-folder")


@pytest.fixture()
def milvus_server(tmp_path):
    """`milvus-lite server` on a free port of 127.0.0.1, stopped after the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).with_name("milvus-lite")
    proc = subprocess.Popen(
        [
            str(cli),
            "server",
            "--data-dir",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "milvus-lite server exited"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_milvus_server_over_the_network(milvus_server, encoder, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # the server index's embedding cache goes here
    location = f"milvus://{milvus_server}/seed_news"
    report = qa.build_index(SEED, location, encoder=encoder)
    assert report.articles == 5
    _assert_answers_seed(location, encoder)
    cache = tmp_path / ".cache" / "newsqa" / "milvus"
    assert list(cache.glob("*_seed_news/embeddings.sqlite"))
