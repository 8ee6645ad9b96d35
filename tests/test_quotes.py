"""The lead quote takes in the sentence that continues it, with the real model and index."""

from __future__ import annotations

import json
import math

import pytest
from conftest import DATA

import qa
from qa.answer.quotes import refers_back
from qa.answer.trained import TrainedReader
from qa.config import ReaderSettings
from qa.text.sentences import sentence_spans

GOLD = DATA / "seed_questions.jsonl"

ARTICLE = """Norman art in England

By far the most famous work of Norman art is the Bayeux Tapestry, which is not a tapestry but a
work of embroidery. It was commissioned by Odo, the Bishop of Bayeux and first Earl of Kent,
employing natives from Kent who were learned in the Nordic traditions. The tapestry is kept in a
museum in Bayeux today. Norman churches of the period were built in the Romanesque style, with
rounded arches and thick walls.
"""


@pytest.mark.parametrize(
    ("sentence", "back"),
    [
        ("It was commissioned by Odo.", True),
        ("“They said the strike was illegal.", True),
        ("Instead, the Lisbon Treaty was enacted.", True),
        ("Its most familiar effect is beta decay.", True),
        ("Italy denied any role.", False),  # a name that begins like a pronoun
        ("Thistles grow there.", False),
        ("The Iraqi government denied it.", False),
    ],
)
def test_a_sentence_that_points_back(sentence, back):
    assert refers_back(sentence) is back


@pytest.fixture(scope="module")
def index(tmp_path_factory, encoder):
    corpus = tmp_path_factory.mktemp("tapestry") / "corpus"
    corpus.mkdir()
    (corpus / "norman-art.txt").write_text(ARTICLE, encoding="utf-8")
    path = corpus.parent / "index"
    qa.build_index(corpus, path, encoder=encoder)
    return path


@pytest.mark.parametrize(
    "settings",
    [ReaderSettings(), ReaderSettings(continuation_margin=math.inf)],
    ids=["default", "always"],
)
def test_the_lead_quote_keeps_its_sentence_pointing_back(index, encoder, settings):
    """Whichever of the two leads, the quote holds both: "It was commissioned by Odo" alone
    cannot be checked, and the sentence before it names no one."""
    assistant = qa.Assistant(index, encoder, reader=TrainedReader(encoder, settings, joint=True))
    answer = assistant.ask("Who commissioned the Bayeux Tapestry?")
    assert not answer.abstained, answer.reason
    lead = answer.citations[0]
    assert "the Bayeux Tapestry, which" in lead.quote
    assert "It was commissioned by Odo" in lead.quote
    text = assistant.article(lead.article_id).text
    assert text[lead.quote_start : lead.quote_end] == lead.quote
    # the continuation is quoted once, not again as a statement of its own
    assert sum("commissioned by Odo" in c.quote for c in answer.citations) == 1


def test_with_both_off_the_lead_is_one_sentence(index, encoder):
    settings = ReaderSettings(continuation_margin=-math.inf, antecedent=False)
    assistant = qa.Assistant(index, encoder, reader=TrainedReader(encoder, settings, joint=True))
    answer = assistant.ask("Who commissioned the Bayeux Tapestry?")
    assert not answer.abstained, answer.reason
    lead = answer.citations[0].quote
    assert ("Bayeux Tapestry, which" in lead) != ("commissioned by Odo" in lead)


def test_every_seed_quote_is_one_exact_span_quoted_once(seed_index, encoder):
    """Over the seed gold questions: each quote is its article's text at its offsets, and no
    sentence is quoted twice (a continuation or antecedent is not a statement again)."""
    assistant = qa.Assistant(seed_index, encoder, reader=TrainedReader(encoder, joint=True))
    questions = [json.loads(line)["question"] for line in GOLD.read_text().splitlines() if line]
    joined = 0
    for question in questions:
        answer = assistant.ask(question)
        spans: dict[str, list[tuple[int, int]]] = {}
        for c in answer.citations:
            text = assistant.article(c.article_id).text
            assert text[c.quote_start : c.quote_end] == c.quote, question
            for a, b in spans.get(c.article_id, []):
                assert c.quote_end <= a or b <= c.quote_start, question
            spans.setdefault(c.article_id, []).append((c.quote_start, c.quote_end))
            joined += len(sentence_spans(c.quote)) > 1
    assert joined  # some seed answers do quote two sentences as one
