"""The answer's form a sentence holds (qa/answer/slots.py), on seed sentences."""

from __future__ import annotations

import pytest

import qa
from qa.answer.slots import holds_slot
from qa.config import ReaderSettings

TOWN = "In which town did the Turkmen election commission employee whose family was killed live?"
SIZE = "How large was the American contingent that parliamentarians sought to remove?"


@pytest.mark.parametrize(
    ("kind", "question", "sentence", "holds"),
    [
        # a place after a preposition of place, not a nationality
        (
            "place",
            TOWN,
            "The employee, from the Turkmen minority in the town of Hamrin in the ethnically "
            "mixed province of Diyala, was not at home at the time.",
            True,
        ),
        (
            "place",
            TOWN,
            "In another development, security and medical sources said the attackers "
            "slaughtered the mother and three sisters of an Iraqi election commission employee "
            "at their home.",
            False,
        ),
        # a span of time is no size; a figure is
        ("number", SIZE, "Two days after the assassination, the Iraqi parliament voted.", False),
        ("number", SIZE, "Lawmakers voted to expel more than 5,000 US troops.", True),
        ("number", "How long did the pause last?", "The pause lasted two weeks.", True),
        # a figure the question gives is not new
        ("number", "How many of the 25 fighters died?", "A strike killed 25 fighters.", False),
        # the dead and the injured are counted apart
        (
            "number",
            "How many of the organisation's personnel lost their lives in the 2018 bombing?",
            "The PMF said that the US airstrike injured 12 other of its operatives.",
            False,
        ),
        (
            "number",
            "How many of the organisation's personnel lost their lives in the 2018 bombing?",
            "The PMF said an alleged US airstrike killed 22 of its members.",
            True,
        ),
        # a full name the question does not give
        (
            "person",
            "Who is the spokesman for the commander-in-chief?",
            "“We have not given our authorization,” Major General Abdul Karim Khalaf said.",
            True,
        ),
        (
            "person",
            "Who did Khalaf speak for?",
            "Khalaf said the Iraqi government had ordered the coalition to halt.",
            False,
        ),
        # a code or a new capitalised word; not a sentence's first word
        (
            "entity",
            "Which aircraft model flew the raid?",
            "Early on Friday, two American F-15E Strike Eagles dropped seven munitions.",
            True,
        ),
        ("entity", "Which aircraft flew the raid?", "Early on, the aircraft flew the raid.", False),
        # an organisation: a name of two capitalised words, or an "al-" name
        (
            "entity",
            "Which Iran-backed militia said the attack was launched from Kuwait?",
            "For its part, Iran-backed Kataib Hezbollah said in a statement that a US strike "
            "targeted a group of drone experts.",
            True,
        ),
        (
            "entity",
            "Which TV outlet relayed the response?",
            "In a statement carried by al-Sumaria television network, the ministry expressed "
            "surprise.",
            True,
        ),
        # an "al-" name the question gives is not new
        (
            "entity",
            "Which outlet besides al-Sumaria relayed the response?",
            "In a statement carried by al-Sumaria television network, the ministry expressed "
            "surprise.",
            False,
        ),
        # a dateline names where the report was filed, not an organisation
        (
            "entity",
            "Which militia was blamed for the attack?",
            "ERBIL, Kurdistan Region - The prime minister's office has condemned airstrikes.",
            False,
        ),
        (
            "entity",
            "Which militia was blamed for the attack?",
            "The Kurdistan Region's prime minister has condemned airstrikes.",
            True,
        ),
        ("date", "When was it?", "It was on 5 January.", False),  # dates: the strict rule's
    ],
)
def test_holds_slot(kind, question, sentence, holds):
    assert holds_slot(kind, question, sentence) is holds


def test_an_unknown_scope_names_the_choices():
    with pytest.raises(qa.SettingsError, match="article-first"):
        ReaderSettings(slot_scope="paragraph")


def test_a_slot_weight_for_an_unknown_kind_names_the_kinds(encoder):
    from qa.answer.trained import TrainedReader

    with pytest.raises(qa.SettingsError, match="person"):
        TrainedReader(encoder, ReaderSettings(slot_weights=(("people", 1.0),)))
