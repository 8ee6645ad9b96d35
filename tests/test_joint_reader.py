"""The joint reader (trained + the joint model) on the seed index with the real model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qa
from qa.answer.joint import JointModel
from qa.answer.scorer import WEIGHTS_DIR
from qa.answer.trained import TrainedReader
from qa.config import ReaderSettings


@pytest.fixture(scope="module")
def reader(encoder):
    return TrainedReader(encoder, joint=True)


@pytest.fixture(scope="module")
def assistant(seed_index, encoder, reader):
    return qa.Assistant(seed_index, encoder, reader=reader)


@pytest.mark.parametrize(
    "question",
    [
        "What did Iran's supreme leader say about the Babil strike?",
        "What did the Iraqi foreign minister say about the Albu Kamal strike?",
        "What did Qais Khazali say about the Babil strike?",
        "How many drones were launched from Kuwait?",
        "Who is the mayor of Baghdad?",
        "What is the name of the commander of the US-led coalition in Iraq?",
        "What model of drone was used in the strike on the PMF brigade in Jurf al-Nasr?",
        "Who won the 2022 World Cup?",
    ],
)
def test_it_abstains_when_no_sentence_answers(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained, answer.text
    assert answer.related and not answer.citations and answer.reason


def test_it_leads_with_an_iraqi_denial_not_the_us_one(assistant):
    answer = assistant.ask("Which Iraqi officials denied cooperating with US strikes?")
    assert not answer.abstained
    lead = answer.citations[0].quote
    assert "United States has denied" not in lead
    assert "Iraqi" in lead and "den" in lead


def test_it_leads_with_the_answering_sentence(assistant):
    answer = assistant.ask("who denied cooperation in the Palestine Street strike?")
    assert "Security Media Cell has firmly denied" in answer.citations[0].quote
    assert 0.5 < answer.confidence <= 1.0


def test_it_reads_the_question_against_the_sentence(encoder, reader):
    """A swapped word changes the joint logit, where pooled similarity barely moves."""
    sentence = "Maxwell unified the laws of electricity and magnetism into four equations."
    texts = [
        "Who unified the laws of electricity and magnetism?",
        "Who separated the laws of electricity and magnetism?",
        sentence,
    ]
    ask, swapped, s = encoder.encode_tokens(texts)
    logits = [float(reader.joint.logits(v.tokens, [s.tokens])[0]) for v in (ask, swapped)]
    assert logits[0] > logits[1]
    assert float(np.dot(ask.pooled, s.pooled)) - float(np.dot(swapped.pooled, s.pooled)) < 0.1


def test_altered_weights_are_refused(tmp_path):
    copy = tmp_path / "joint-v1.json"
    data = json.loads((WEIGHTS_DIR / ReaderSettings().joint_weights).read_text())
    data["weights"]["out_b"][0] += 1.0
    copy.write_text(json.dumps(data))
    with pytest.raises(qa.ModelError, match="sha256"):
        JointModel.load(copy, ReaderSettings().joint_sha256)


def test_the_reader_is_chosen_by_name(encoder):
    assert qa.make_reader("joint", encoder).joint is not None
