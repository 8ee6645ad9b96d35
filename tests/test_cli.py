"""The `qa` command line: summaries, and error cases as data (args -> message, exit code)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import DATA

from qa.cli import main


def test_help_is_instant_and_lazy():
    code = (
        "import sys, qa.cli; qa.cli._parser(); "
        "heavy = {'torch', 'faiss', 'numpy', 'gradio', 'ui'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


def test_index_prints_summary(tmp_path, seed_copy, capsys):
    (seed_copy / "junk.bin").write_bytes(b"\x00\x01")
    assert main(["index", str(seed_copy), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "articles  5: 5 added" in out and "skipped   1" in out
    assert "junk.bin: unsupported file type '.bin'" in out and "chunks/s" in out
    assert main(["index", str(seed_copy), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    assert "0 embedded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/nonexistent/corpus", "--index", "{tmp}/ix"], "corpus not found"),
        (["index", "{tmp}/empty", "--index", "{tmp}/ix"], "no loadable article"),
        (
            ["index", "corpus", "--index", "{tmp}/ix", "--model", "{tmp}/nomodel"],
            "neither a local folder",
        ),
        (["ask", "who?", "--index", "{tmp}/missing"], "no index at"),
        (["ask", "  ", "--index", "corpus"], "question is empty"),
        (["eval", "{tmp}/none.jsonl", "--index", "{tmp}/missing"], "no index at"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # progress lines may come first
    assert message in last and last.startswith(f"qa {args[0]}: error:")


def test_ask_prints_cited_sources_and_json(seed_index, capsys):
    question = "who denied cooperation in the Palestine Street strike?"
    assert main(["ask", question, "--index", str(seed_index)]) == 0
    out = capsys.readouterr().out
    assert "Security Media Cell" in out and "[1]" in out and "Sources:" in out
    assert "000_0f7bfc05e65b6324.txt:" in out
    assert main(["ask", question, "--index", str(seed_index), "--json", "--k", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is False and data["citations"][0]["quote_end"] > 0


def test_ask_abstains_plainly(seed_index, capsys):
    assert main(["ask", "Who won the 2022 World Cup?", "--index", str(seed_index)]) == 0
    out = capsys.readouterr().out
    assert "does not contain an answer" in out and "Closest passages:" in out


def test_ask_with_the_trained_reader_names_what_is_missing(seed_index, capsys):
    question = "Who is the mayor of Baghdad?"  # on topic, yet no article says
    assert main(["ask", question, "--index", str(seed_index), "--reader", "none"]) == 0
    assert "does not contain an answer" not in capsys.readouterr().out  # v1's scoring answers
    for reader in ([], ["--reader", "trained"]):  # the default is the joint reader
        assert main(["ask", question, "--index", str(seed_index), *reader]) == 0
        assert (
            "(no sentence of the closest passages names the mayor of Baghdad)"
            in capsys.readouterr().out
        )


def test_ask_with_the_sentence_reranker(seed_index, capsys):
    question = "who denied cooperation in the Palestine Street strike?"
    args = ["ask", question, "--index", str(seed_index), "--json", "--reranker", "sentence"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is False
    assert "Security Media Cell" in data["citations"][0]["quote"]
    assert main(["ask", question, "--index", str(seed_index), "--reranker", "bert"]) == 1
    assert "bert" in capsys.readouterr().err


def test_ask_says_when_the_question_was_trimmed(seed_index, capsys):
    question = "who denied cooperation in the Palestine Street strike? " + "please " * 300
    assert main(["ask", question, "--index", str(seed_index)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Note: the question was trimmed to its first")


def test_eval_prints_table_and_writes_rows(seed_index, tmp_path, capsys):
    out_file = tmp_path / "rows.jsonl"
    questions = str(DATA / "tiny_questions.jsonl")
    args = ["eval", questions, "--index", str(seed_index), "--out", str(out_file)]
    assert main(args) == 0
    table = capsys.readouterr().out
    for label in ("evidence Hits@4", "evidence MRR@10", "article recall@10", "null_query"):
        assert label in table
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3"]
    assert rows[0]["hits@4"] == 1.0 and rows[2]["abstained"] is True


def test_serve_finds_the_web_chat_through_its_entry_point():
    """`qa serve` reaches the app through the package metadata, not an import of ui."""
    from importlib.metadata import entry_points

    (web,) = entry_points(group="newsqa.serve")
    assert web.value == "ui.server:serve" and callable(web.load())


def test_ask_prints_the_markdown_the_web_chat_copies(seed_index, capsys):
    import qa

    question = "who denied cooperation in the Palestine Street strike?"
    assert main(["ask", question, "--index", str(seed_index), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assistant = qa.Assistant.open(seed_index)
    answer = assistant.ask(question)
    assert out == answer.to_markdown(leads=assistant.leads(answer))
    assert out.startswith(f"### {question}\n") and "**Sources**" in out
    assert "1. “" in out and "`000_0f7bfc05e65b6324.txt:" in out


def test_a_source_without_a_headline_shows_its_lead_sentence(seed_index, capsys):
    question = "Which office condemned the airstrikes in Babil province?"
    assert main(["ask", question, "--index", str(seed_index), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "ERBIL, Kurdistan Region - The Iraqi prime minister" in out
    assert "(no headline) · Rudaw" in out
    assert "004_249214cac3478a04 ·" not in out  # the file id is not made a title
