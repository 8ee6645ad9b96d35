"""Answering: the API contract on the seed gold set, the quality targets, filters, follow-ups."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA, SEED

import qa
from qa.answer.analysis import answer_kind
from qa.answer.kinds import expected_type
from qa.answer.rules import asked_role, named_thing

GOLD = DATA / "seed_questions.jsonl"
QUESTIONS = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
PALESTINE = "who denied cooperation in the Palestine Street strike?"


@pytest.fixture(scope="module")
def assistant(seed_index):
    return qa.Assistant.open(seed_index)


@pytest.fixture(scope="module")
def evaluation(assistant):
    """The seed gold set through `qa.evaluate` (the same answering path as `ask`), once."""
    return qa.evaluate(assistant, GOLD, k=5)


@pytest.fixture(scope="module")
def answers(evaluation):
    return evaluation.answers


def test_every_citation_and_passage_is_exact(assistant, answers):
    cited = 0
    for answer in answers.values():
        for c in answer.citations:
            text = assistant.article(c.article_id).text
            assert text[c.start : c.end] == c.text
            assert text[c.quote_start : c.quote_end] == c.quote
            assert c.start <= c.quote_start < c.quote_end <= c.end
            assert f"[{c.n}]" in answer.text
            cited += 1
        for p in answer.related:
            assert assistant.article(p.article_id).text[p.start : p.end] == p.text
        assert answer.abstained == (not answer.citations)
        assert answer.abstained == (answer.reason is not None)
    assert cited >= len(QUESTIONS) // 2


def test_seed_quality_targets(evaluation):
    """Issue 3's targets on the seed gold set, with the default int8 embeddings.

    Measured 2026-11-25 with v1's scoring (now `--reader none`): top-1 0.930, answer hit 0.814,
    unanswerable abstained 0.700 against a target of 0.80. With the joint reader, the default
    since 2026-12-04: top-1 0.930, answer hit 0.814, unanswerable abstained 1.000, so that
    target is held too. Never lower these to make a change pass.
    """
    overall = evaluation.summary["all"]
    print(evaluation.table())
    assert overall["recall@k"] == 1.0  # recall@5
    assert overall["abstained_answerable"] <= 0.10
    assert overall["top1"] >= 0.90
    assert overall["answer_hit"] >= 0.80
    assert overall["abstained_unanswerable"] >= 0.80


def test_a_figure_from_another_event_is_no_answer(assistant):
    """The corpus counts people injured elsewhere, never US soldiers injured in this attack."""
    answer = assistant.ask("How many US soldiers were injured in the Palestine Street attack?")
    assert answer.abstained and "figure" in answer.reason


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the US strike the PMF base?", "date"),
        ("Since when has the US mission been advisory?", "date"),
        ("Did the outlet change its advice when the rankings came out?", None),  # yes/no
        ("Which outlet reported it when the strike happened?", "name"),  # "when" as a conjunction
        ("How many fighters were killed?", "number"),
        ("Can you tell me how many people were injured?", "number"),  # polite, not yes/no
        ("Do you know when the bridge reopened?", "date"),
        ("When's the election?", "date"),
        ("When exactly did the strike end?", "date"),
        ("Who denied it?", "name"),
        # a leading "when" clause sets the scene; the wh-word after it asks
        ("When the ministry announced the strike, who denied it?", "name"),
        ("When the PMF was formed, how many fighters did it have?", "number"),
        ("When a pathogen is eaten by a phagocyte it is trapped in what vesicle?", None),
        ("When the strike happened?", "date"),
    ],
)
def test_expected_answer_kind(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was the Babil strike?", "date"),
        ("When the ministry announced the strike, who denied it?", "person"),
        ("When Liszt lived close to Chopin, where did he call home?", "place"),
        ("When the PMF was formed, how many fighters did it have?", "number"),
        ("When B cells begin to replicate, what do their offspring become?", "other"),
        ("If the US struck, when did Iraq respond?", "date"),
    ],
)
def test_the_trained_readers_answer_kind_reads_past_a_leading_when_clause(question, kind):
    """SQuAD dev: 6 answerable "When ..., what ...?" questions were read as date questions, and
    the figure/date rule barred their answers; with the clause read past, 5 lead with it."""
    assert answer_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("Who is the mayor of Baghdad?", "mayor"),
        ("Who was the main proponent of the cellular theory of immunity?", "proponent"),
        # the words that qualify it are read past, up to the noun (SQuAD dev: "first" was
        # required in the answering sentence, and two answers were barred)
        ("What was the name of the first Huguenot church in the New World?", "church"),
        ("What is the name of the alphabet is most commonly used?", "alphabet"),
        ("What is the name of the US commander?", "commander"),
        ("What did the strike hit?", None),
    ],
)
def test_the_role_a_question_asks_for(question, role):
    found = asked_role(question)
    assert (found[0] if found else None) == role
    if role == "commander":  # an office: the named rule reads it too
        assert named_thing(question).noun == "commander"


def test_palestine_street_cites_the_security_media_cell_denial(answers):
    answer = answers["seed-q01"]
    assert not answer.abstained
    first = answer.citations[0]
    assert "Security Media Cell has firmly denied" in first.quote
    assert first.source is None and first.path == "000_0f7bfc05e65b6324.txt"


def test_several_articles_answer_in_date_order(assistant):
    answer = assistant.ask("Which Iraqi officials denied cooperating with US strikes?", k=8)
    dates = [c.published for c in answer.citations if c.published]
    assert len({c.article_id for c in answer.citations}) >= 2
    assert dates == sorted(dates)


def test_a_figure_question_leads_with_its_best_figure(assistant):
    """Several articles give figures: the best answer comes first, the rest oldest first."""
    q = "Per press accounts, how many combatants lost their lives in the raid near Jurf al-Nasr?"
    answer = assistant.ask(q)
    assert "four fighters were killed" in answer.citations[0].quote
    dates = [c.published for c in answer.citations[1:] if c.published]
    assert dates == sorted(dates)


def test_retrieve_filters(assistant):
    passages = assistant.retrieve("strike on militia", k=10, since="2020-01-01")
    assert passages and all(p.published and p.published >= "2020-01-01" for p in passages)
    until = assistant.retrieve("strike on militia", k=10, until="2019-01-01")
    assert until and all(p.published <= "2019-01-01" for p in until)
    source = assistant.sources()[0]
    only = assistant.retrieve("strike", k=10, sources=[source])
    assert only and {p.source for p in only} == {source}
    assert assistant.retrieve("strike", sources=["No Such Outlet"]) == []
    with pytest.raises(qa.SettingsError, match="not a date; use YYYY-MM-DD"):
        assistant.retrieve("strike", since="last week")


@pytest.mark.parametrize(
    ("question", "k", "message"),
    [("", 5, "question is empty"), ("  \n\t ", 5, "question is empty"), ("why?", 0, "k=0")],
)
def test_bad_questions_are_refused(assistant, question, k, message):
    with pytest.raises(qa.QuestionError, match=message):
        assistant.ask(question, k=k)


def test_long_and_odd_questions_are_answered_with_a_notice(assistant):
    answer = assistant.ask(PALESTINE + " " + "strike " * 2000)
    assert any("trimmed" in n for n in answer.notices)
    odd = assistant.ask("\x00\x07 مرحبا 你好 ¿qué pasó en Bagdad?")
    assert isinstance(odd.text, str) and odd.text


def test_follow_up_uses_the_conversation(assistant):
    answer = assistant.ask("What did the Pentagon say about it?", history=[PALESTINE])
    assert any("follow-up" in n for n in answer.notices)
    assert answer.citations and answer.citations[0].article_id.startswith("000_")


def test_new_generation_is_picked_up_without_reopening(tmp_path, seed_copy, encoder):
    index = tmp_path / "index"
    qa.build_index(seed_copy, index, encoder=encoder)
    assistant = qa.Assistant(index, encoder)
    shutil.copy(DATA / "extra_article.txt", seed_copy / "extra_article.txt")
    report = assistant.update_index(seed_copy)
    assert report.added == ("extra_article",)
    answer = assistant.ask("Who announced the reopening of the Mosul old bridge?")
    assert answer.citations and answer.citations[0].article_id == "extra_article"
    assert assistant.stats()["articles"] == 6


def test_seed_is_what_the_tests_use():
    assert sorted(p.name for p in SEED.iterdir()) == sorted(
        f"{q}.txt" for q in {i for item in QUESTIONS for i in item["gold_article_ids"]}
    )


def test_a_name_typed_without_its_accents_is_the_same_name(tmp_path, seed_copy, encoder):
    """Once "the corpus does not mention Erdogan in this context" for an article on Erdoğan
    (SQuAD dev: "Mongke" for "Möngke", "Schrodinger" for "Schrödinger")."""
    (seed_copy / "ankara.txt").write_text(
        "Turkey condemns strike near Albu Kamal\n\n"
        "ANKARA — Turkish President Recep Tayyip Erdoğan condemned the US strike near Albu "
        "Kamal on Tuesday, saying the attack would deepen the crisis on the border.\n\n"
        "Erdoğan told reporters in Ankara that Turkey had not been informed of the strike in "
        "advance.\n",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    qa.build_index(seed_copy, index, encoder=encoder)
    answer = qa.Assistant(index, encoder).ask("What did Erdogan say about the strike?")
    assert not answer.abstained, answer.reason
    assert "Erdoğan" in answer.citations[0].quote


def test_question_and_article_words_are_compared_alike():
    """The answer gates read both sides ``comparable``: the tokenizer alone keeps "möngk" and
    drops "U.S." as single letters."""
    from qa.text.tokens import comparable, tokenize

    typed, written = "Mongke Khan and the US strike", "Möngke Khan and the U.S. strike"
    assert tokenize([typed])[0] != tokenize([written])[0]
    assert tokenize([comparable(typed)])[0] == tokenize([comparable(written)])[0]


def test_a_question_may_name_an_article_s_names_by_their_initials():
    from qa.answer.evidence import initials
    from qa.search.query import key_terms

    found = initials("the United States and Iraq's Popular Mobilization Forces said")
    assert {"us", "pmf"} <= found
    # a name in another script's letters is one word, not "Jer" and "nimo"
    assert "Jerónimo" in key_terms("When did Jerónimo de Ayanz patent a pump?")[1]
