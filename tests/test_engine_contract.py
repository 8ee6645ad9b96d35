"""The contract every index engine keeps, run against each: the local folder, the in-memory
engine of tests/engines (a second, independent implementation of the protocols) and milvus-lite.

What retrieval and answering rely on: chunk ids (never positions), k, filters pushed down,
exact offsets, metadata with each chunk, deleted articles gone, a new version noticed.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import SEED
from tests_engines import ENGINES, location

import qa
from qa.index.base import Filters
from qa.index.factory import open_reader
from qa.text.tokens import tokenize

Q = "who denied cooperation in the Palestine Street strike?"


@pytest.fixture(scope="module", params=ENGINES)
def built(request, tmp_path_factory, encoder):
    """(location, corpus copy) of the seed corpus built with one engine."""
    engine = request.param
    corpus = tmp_path_factory.mktemp(f"{engine}-corpus")
    shutil.copytree(SEED, corpus, dirs_exist_ok=True)
    where = location(engine, tmp_path_factory.mktemp(f"{engine}-index"))
    qa.build_index(corpus, where, encoder=encoder)
    return where, corpus


@pytest.fixture()
def index(built):
    reader = open_reader(built[0])
    yield reader
    reader.close()


def _vector(encoder, text=Q):
    return encoder.encode_queries([text])[0]


def test_dense_returns_k_known_ids_by_cosine(index, encoder):
    vector = _vector(encoder)
    found = index.dense(vector, 5, Filters())
    assert 0 < len(found) <= 5
    ids = list(found)
    assert np.allclose(index.cosines(vector, ids), [found[i] for i in ids], atol=1e-5)
    every = index.dense(vector, 1000, Filters())
    assert len(every) == index.catalog().chunks  # k beyond the size: all, no padding
    best = sorted(every, key=every.get, reverse=True)[:5]
    assert set(found) == set(best)


def test_lexical_scores_agree_with_lexical_search(index):
    terms = tokenize([Q])[0]
    found = index.lexical(terms, 4, Filters())
    assert 0 < len(found) <= 4 and all(s > 0 for s in found.values())
    ids = list(found)
    assert np.allclose(index.lexical_scores(terms, ids), [found[i] for i in ids], rtol=1e-5)
    assert index.lexical(tokenize(["zzzqqq"])[0], 4, Filters()) == {}
    weights = index.term_weights(list(dict.fromkeys(terms)))
    assert weights and all(w > 0 for w in weights.values()) and "zzzqqq" not in weights


def test_filters_are_kept_by_every_leg(index, encoder):
    catalog = index.catalog()
    dated = index.dense(_vector(encoder), 100, Filters.of(since="2000-01-01"))
    assert dated and all(r.published >= "2000-01-01" for r in index.refs(list(dated)))
    assert len(dated) < catalog.chunks  # undated articles are left out
    none = Filters.of(until="1990-01-01")
    assert index.dense(_vector(encoder), 100, none) == {}
    assert index.lexical(tokenize([Q])[0], 100, none) == {}
    if catalog.sources:
        outlet = catalog.sources[0]
        only = index.dense(_vector(encoder), 100, Filters.of(outlet.upper()))
        assert only and {r.source for r in index.refs(list(only))} == {outlet}


def test_chunks_are_exact_spans_with_their_article(index, encoder):
    ids = list(index.dense(_vector(encoder), 1000, Filters()))
    chunks = index.chunks(ids)
    assert [c.id for c in chunks] == ids  # in the order asked
    for c, ref in zip(chunks, index.refs(ids)):
        article = index.article(c.article_id)
        assert article.text[c.start : c.end] == c.text
        assert (c.title, c.source, c.published, c.path) == (
            article.title,
            article.source,
            article.published,
            article.path,
        )
        assert ref.article_id == c.article_id and ref.source == (c.source or "")
    assert index.chunks(["no-such-chunk"]) == []
    assert sorted(index.order(list(reversed(ids)))) == sorted(ids)
    assert index.order(ids) == index.order(list(reversed(ids)))  # one storage order


def test_sentence_scores_favour_the_sentence_that_matches(index, encoder):
    terms = list(dict.fromkeys(tokenize([Q])[0]))
    weights = index.term_weights(terms)
    ids = list(index.dense(_vector(encoder), 1000, Filters()))
    scores = index.best_sentence_scores(ids, weights)
    assert scores.shape == (len(ids),) and (scores >= 0).all() and scores.max() > 0
    best = index.chunks([ids[int(np.argmax(scores))]])[0]
    assert "Palestine Street" in best.text


def test_catalog_counts_what_is_stored(index, encoder):
    catalog = index.catalog()
    assert catalog.articles == 5 and catalog.chunks == len(
        index.dense(_vector(encoder), 999, Filters())
    )
    assert list(catalog.sources) == sorted(catalog.sources)
    assert catalog.published_min <= catalog.published_max


def test_the_assistant_answers_through_the_engine(built, encoder):
    assistant = qa.Assistant(built[0], encoder)
    answer = assistant.ask(Q)
    assert not answer.abstained and "Security Media Cell" in answer.citations[0].quote
    for c in answer.citations:
        article = assistant.article(c.article_id)
        assert article.text[c.quote_start : c.quote_end] == c.quote
    assert assistant.ask("What is the boiling point of mercury on Mars?").abstained


def test_articles_lists_pages_filters_and_counts(index):
    from qa.index.base import ArticleQuery

    every = index.articles(ArticleQuery(limit=100))
    assert every.total == 5 and len(every.rows) == 5 and every.offset == 0
    assert sum(r.passages for r in every.rows) == index.catalog().chunks
    # newest first, the undated after them in id order
    assert [r.published for r in every.rows[:2]] == ["2020-01-16", "2018-06-26"]
    undated = [r.id for r in every.rows[2:]]
    assert undated == sorted(undated) and all(r.published is None for r in every.rows[2:])
    assert every.by_month == (("2018-06", 1), ("2020-01", 1)) and every.undated == 3
    assert dict(every.by_source) == {"Aletho News": 1, "Rudaw": 1, "": 3}
    # no headline: title stays None, the lead sentence is given instead
    untitled = next(r for r in every.rows if r.id.startswith("004"))
    assert untitled.title is None and untitled.lead.startswith("ERBIL, Kurdistan Region")
    assert untitled.headline.endswith("(no headline)")

    by_title = index.articles(ArticleQuery(sort="title", descending=False, limit=100)).rows
    titles = [r.title for r in by_title]
    assert titles[:4] == sorted(titles[:4], key=str.lower) and titles[4] is None
    page = index.articles(ArticleQuery(sort="title", descending=False, offset=2, limit=2))
    assert [r.id for r in page.rows] == [r.id for r in by_title[2:4]] and page.total == 5

    denies = index.articles(ArticleQuery(text="DENIES"))
    assert {r.id[:3] for r in denies.rows} == {"000", "003"} and denies.total == 2
    assert index.articles(ArticleQuery(text="249214cac")).total == 1  # the file path matches
    aletho = index.articles(ArticleQuery(filters=Filters.of(["aletho news"], "2019-01-01")))
    assert [r.source for r in aletho.rows] == ["Aletho News"]
    assert aletho.by_month == (("2020-01", 1),) and aletho.undated == 0
    assert index.articles(ArticleQuery(filters=Filters.of(None, None, "2019-01-01"))).total == 1
    counted = index.articles(ArticleQuery(limit=0))
    assert counted.rows == () and counted.total == 5


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"sort": "size"}, "choose one of published"), ({"limit": 501}, "a page is 0 to 500")],
)
def test_article_queries_are_checked(fields, message):
    from qa.index.base import ArticleQuery

    with pytest.raises(qa.SettingsError, match=message):
        ArticleQuery(**fields)


def test_removed_articles_are_gone_and_the_new_version_is_noticed(built, encoder):
    location, corpus = built
    before = open_reader(location)
    gone = sorted(p.name for p in corpus.iterdir())[0]
    article_id = gone.rsplit(".", 1)[0]
    old_ids = [
        c.id
        for c in before.chunks(list(before.dense(_vector(encoder), 999, Filters())))
        if c.article_id == article_id
    ]
    assert old_ids and before.article(article_id) is not None
    (corpus / gone).unlink()
    report = qa.build_index(corpus, location, encoder=encoder)
    assert report.removed == (article_id,) and report.chunks_embedded == 0
    assert before.stale()
    after = open_reader(location)
    assert not after.stale() and after.article(article_id) is None
    assert after.chunks(old_ids) == []
    assert all(
        r.article_id != article_id
        for r in after.refs(list(after.dense(_vector(encoder), 999, Filters())))
    )
    assert after.catalog().articles == 4
    before.close()
    after.close()
