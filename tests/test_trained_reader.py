"""The trained reader on the seed index with the real model: the issue's questions, its weights."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA

import qa
from qa.answer.scorer import WEIGHTS_DIR, SentenceScorer
from qa.answer.trained import TrainedReader
from qa.config import ReaderSettings

GOLD = DATA / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def assistant(seed_index, encoder):
    return qa.Assistant(seed_index, encoder, reader=TrainedReader(encoder))


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        # the corpus has no such statement, though every word of the question occurs in it
        ("What did Iran's supreme leader say about the Babil strike?", "Iran's supreme leader"),
        # on-topic, the answer absent: once answered with related sentences
        ("What did the Iraqi foreign minister say about the Albu Kamal strike?", "minister said"),
        # his statement on another strike is no answer
        ("What did Qais Khazali say about the Babil strike?", "Qais Khazali said about Babil"),
        ("How many drones were launched from Kuwait?", ""),
        ("Who is the mayor of Baghdad?", "names the mayor of Baghdad"),
        # the one asked for must be named next to the noun: "top Iranian and Iraqi commanders",
        # "Iranian commander Qassem Soleimani" and "a drone strike" name no such one
        (
            "What is the name of the commander of the US-led coalition in Iraq?",
            "names the commander of the US-led coalition",
        ),
        (
            "What model of drone was used in the strike on the PMF brigade in Jurf al-Nasr?",
            "names the model of drone",
        ),
        # no article comes from Bloomberg; one that cites the New York Times is not its coverage
        ("What did Bloomberg report about the Babil strike?", "holds no articles from Bloomberg"),
        (
            "What did the New York Times report about joint operations with the coalition?",
            "holds no articles from New York Times",
        ),
        ("Who won the 2022 World Cup?", ""),  # off-topic
    ],
)
def test_it_abstains_when_no_sentence_answers(assistant, question, missing):
    answer = assistant.ask(question)
    assert answer.abstained, answer.text
    assert answer.related and not answer.citations
    assert missing in answer.reason


def test_it_leads_with_an_iraqi_denial_not_the_us_one(assistant):
    """Once led with "The United States has denied any involvement in the strike."."""
    answer = assistant.ask("Which Iraqi officials denied cooperating with US strikes?")
    assert not answer.abstained
    lead = answer.citations[0].quote
    assert "United States has denied" not in lead
    assert "Iraqi" in lead and "den" in lead
    dates = [c.published for c in answer.citations[1:] if c.published]
    assert dates == sorted(dates)  # the supporting statements, oldest first


def test_it_leads_with_the_answering_sentence(assistant):
    answer = assistant.ask("who denied cooperation in the Palestine Street strike?")
    assert "Security Media Cell has firmly denied" in answer.citations[0].quote
    assert 0.5 < answer.confidence <= 1.0
    for c in answer.citations:
        text = assistant.article(c.article_id).text
        assert text[c.quote_start : c.quote_end] == c.quote


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        # the neighbour that holds the answer's form leads, not the sentence restating the topic
        # (qa/answer/slots.py; these led with it before)
        (
            "According to Kataib Hezbollah, from which country was the attack on its drone "
            "experts launched?",
            "base in Kuwait",
        ),
        # the dead, not "the US airstrike injured 12 other of its operatives"
        (
            "How many of the paramilitary umbrella organisation's personnel lost their lives "
            "in the 2018 bombing near Albu Kamal?",
            "killed 22",
        ),
        # the Security Media Cell's statement next to the lead, not another article's "The
        # United States has denied ..." ("United States" has the form of a name too)
        ("Which Iraqi officials denied cooperating with US strikes?", "Security Media Cell"),
        # the neighbour naming the town, not the sentence restating the topic
        (
            "In which town did the Turkmen election commission employee whose family was "
            "killed live?",
            "the town of Hamrin",
        ),
        # another article's figure when the lead's article has none near the top
        (
            "How large was the American contingent that parliamentarians sought to remove?",
            "more than 5,000",
        ),
        # the Cell's statement, reproduced under "The statement reads:", speaks as "we" and
        # never names the Cell: it is the Cell's all the same (qa/answer/rules.py)
        (
            "Whose orders do all of the country's military services follow as a single unit, "
            "according to the Cell refuting the Pentagon?",
            "directives of the Commander-in-Chief",
        ),
        # "..., saying the operations ... can undermine cooperation" is the office's statement
        # ("saying" is a speech cue; the question had been abstained)
        (
            "What did the Iraqi prime minister's office say about the airstrikes?",
            "prime minister’s office has condemned airstrikes",
        ),
    ],
)
def test_it_leads_with_the_sentence_holding_the_answer(assistant, question, lead):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.reason
    assert lead in answer.citations[0].quote


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Who is the leader of Iraq's Asa'ib Ahl al-Haq movement?", "Qais Khazali"),
        # Aletho News republishes Press TV: its opening credits the outlet
        (
            "According to Press TV's January 2020 report, how many PMU members had a US "
            "airstrike in western Iraq killed the previous month?",
            "25",
        ),
    ],
)
def test_it_answers_when_the_one_asked_for_is_named(assistant, question, named):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.reason
    assert named in answer.citations[0].quote


def test_seed_gold_set_through_qa_eval(assistant):
    """The trained reader's numbers on the seed set (README, "How it answers").

    Measured 2026-12-03 at the shipped threshold (7/7 on-topic unanswerable abstained with the
    named rule): see the README table. These are floors against regressions, not the issue's
    targets (which are not all met).
    """
    result = qa.evaluate(assistant, GOLD, k=5)
    overall = result.summary["all"]
    print(result.table(), result.curve_table(), sep="\n")
    on_topic = result.summary["unanswerable_on_topic"]["abstained_unanswerable"]
    assert on_topic >= 6 / 7
    assert result.summary["unanswerable_off_topic"]["abstained_unanswerable"] == 1.0
    assert overall["first_quote"] >= 0.60
    points = result.curve()
    assert len(points) == 10 and points[-1][0] == 1.0


def test_altered_weights_are_refused(tmp_path):
    copy = tmp_path / "reader-v1.json"
    data = json.loads((WEIGHTS_DIR / ReaderSettings().weights).read_text())
    data["ranker"]["bias"] += 1.0
    copy.write_text(json.dumps(data))
    with pytest.raises(qa.ModelError, match="sha256"):
        SentenceScorer.load(copy, ReaderSettings().weights_sha256)
    shutil.copy(WEIGHTS_DIR / ReaderSettings().weights, copy)
    assert SentenceScorer.load(copy, ReaderSettings().weights_sha256).manifest["version"] == 1


def test_unknown_reader_lists_the_choices(encoder):
    with pytest.raises(qa.SettingsError, match="trained, none"):
        qa.make_reader("bert", encoder)


def test_qa_eval_compares_readers_in_one_run(seed_index, capsys):
    from qa.cli import main

    args = ["eval", str(GOLD), "--index", str(seed_index), "--k", "5"]
    assert main([*args, "--reader", "trained", "--reader", "none"]) == 0
    out = capsys.readouterr().out
    trained, none = out.split("reader: none")
    assert trained.startswith("reader: trained")
    for part in (trained, none):
        assert "gold answer in the first quote" in part
    assert "answered share" in trained and "precision" in trained
    assert "no confidences" in none  # today's scoring gives one operating point
    assert main([*args, "--reader", "bert"]) == 1
    assert "unknown reader 'bert'; choose one of trained, none" in capsys.readouterr().err


def test_concurrent_questions_get_the_answers_of_one_at_a_time(seed_index, encoder):
    """Its caches (sentences' vectors, articles' analyses) are shared by threads."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [json.loads(line)["question"] for line in GOLD.read_text().splitlines()][:12]
    one = qa.Assistant(seed_index, encoder, reader=TrainedReader(encoder))
    alone = [one.ask(q).text for q in questions]
    many = qa.Assistant(seed_index, encoder, reader=TrainedReader(encoder))
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda q: many.ask(q).text, questions))
    assert together == alone
