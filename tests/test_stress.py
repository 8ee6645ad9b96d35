"""Bad input, crashes and load, sampled from `make stress` (bench/stress.py): hostile files,
hostile questions, a full disk, questions during an index update, Gradio's file routes and
uploads. Killing `qa index` is left to `make stress` (50 trials) and tests/test_index.py (three
moments): each kill costs a model load.

Each bug these found has a test here that failed before its fix.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.cli import main
from qa.index.local import generation as store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "stress"))  # the cases and checks `make stress` runs
cases = importlib.import_module("stress_cases")
inputs = importlib.import_module("stress_inputs")
disk = importlib.import_module("stress_disk")
load = importlib.import_module("stress_load")
questions = importlib.import_module("stress_questions")
web = importlib.import_module("stress_web")
tamper = importlib.import_module("stress_tamper")

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # gradio 6.31
Q = "who denied cooperation in the Palestine Street strike?"


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """fn(), or a test failure when it has not returned after ``seconds`` (a hang)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"no result after {seconds} s (a hang)")
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- hostile files ------------------------------------------------------------------------------


def test_hostile_files_are_skipped_with_a_reason_beside_indexed_articles(
    seed_copy, seed_index, tmp_path, encoder
):
    sample = cases.sample_cases()
    assert len(sample) >= 30 and len({c.category for c in sample}) >= 9
    inputs.write_cases(seed_copy, sample)
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)  # the seed articles are indexed (and embedded) already
    report = within(60, lambda: qa.build_index(seed_copy, index, encoder=encoder))
    gen = store.open_generation(index)
    rows = gen.article_rows()
    problems = [p for v in inputs.judge(sample, rows, report.skipped) for p in v.problems]
    assert problems == []
    seed = {a.id for a in qa.load_corpus(ROOT / "corpus").articles}
    assert seed <= {r["id"] for r in rows}
    assert all("root:x:0:0" not in gen.article(r["id"]).text for r in rows)  # no XXE


def _write(folder: Path, name: str | bytes, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else name.encode())
    with open(path, "wb") as fh:
        fh.write(data)
    return Path(os.fsdecode(path))


STORY = inputs.article_text("known-bug")
BODY = STORY.partition("\n\n")[2]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param(
            "deep.json",
            "[" * 100_000 + "]" * 100_000,
            id="deep-array",
        ),
        pytest.param(
            "deep.jsonl",
            '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n",
            id="deep-object-line",
        ),
        pytest.param(
            "bigint.json",
            '{"id": ' + "9" * 5000 + ', "body": "x"}',
            id="5000-digit-number",
        ),
    ],
)
def test_malformed_json_is_skipped_not_raised(tmp_path, name, text):
    loaded = qa.load_corpus(_write(tmp_path, name, text.encode()))
    assert loaded.skipped and loaded.skipped[0].reason


def test_lone_surrogates_from_json_escapes_become_replacement_characters(tmp_path):
    """A JSON \\ud800 escape gives a lone surrogate no UTF-8 writer accepts: keep the article."""
    record = '{"id": "a\\udc00", "title": "t \\udfff", "body": "text \\ud800 more text"}'
    loaded = qa.load_corpus(_write(tmp_path, "s.json", record.encode()))
    (article,) = loaded.articles
    got = (article.id, article.title, article.text)
    assert got == ("a\ufffd", "t \ufffd", "text \ufffd more text")


def test_file_name_that_is_not_utf8_is_shown_escaped(tmp_path):
    _write(tmp_path, b"caf\xe9.txt", STORY.encode())
    (article,) = qa.load_corpus(tmp_path).articles
    assert (article.id, article.path) == ("caf\\xe9", "caf\\xe9.txt")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "title.json",
            '{"title": "t \\udfff", "body": ' + json.dumps(BODY) + "}",
            id="lone-surrogate-title",
        ),
        pytest.param(
            b"caf\xe9.txt",
            STORY,
            id="latin1-file-name",
        ),
        pytest.param(
            "emoji.txt",
            "📰🔥🚀 " * 50,
            marks=pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning"),
            id="no-bm25-token",
        ),
    ],
)
def test_odd_article_does_not_crash_the_build(tmp_path, encoder, name, data):
    corpus = tmp_path / "corpus"
    _write(corpus, name, data.encode())
    report = qa.build_index(corpus, tmp_path / "index", encoder=encoder)
    assert report.articles + len(report.skipped) == 1


@pytest.mark.parametrize(
    ("name", "text"), [("e.jsonl", ""), ("b.jsonl", "\n \n"), ("l.json", "[]")]
)
def test_empty_collection_is_reported(tmp_path, name, text):
    assert qa.load_corpus(_write(tmp_path, name, text.encode())).skipped


def test_one_json_article_over_the_size_limit_is_skipped(tmp_path):
    big = json.dumps({"body": "The council met again. " * 100})  # 2.3 kB, over a 1 kB limit
    loaded = qa.load_corpus(_write(tmp_path, "one.json", big.encode()), max_file_mb=0.001)
    assert not loaded.articles and "limit" in loaded.skipped[0].reason


def test_link_to_a_folder_is_reported_not_followed(tmp_path):
    corpus = tmp_path / "corpus"
    _write(corpus / "sub", "story.txt", STORY.encode())
    (corpus / "sub" / "loop").symlink_to(corpus)  # would loop forever if followed
    loaded = qa.load_corpus(corpus)
    assert [a.id for a in loaded.articles] == ["sub/story"]
    assert [(s.path, s.reason.split(":")[0]) for s in loaded.skipped] == [
        ("sub/loop", "link to a folder")
    ]


def test_symlink_to_a_fifo_does_not_hang(tmp_path):
    fifo, corpus = tmp_path / "fifo", tmp_path / "corpus"
    corpus.mkdir()
    os.mkfifo(fifo)
    (corpus / "pipe.txt").symlink_to(fifo)
    try:
        loaded = within(0.5, lambda: qa.load_corpus(corpus))
    finally:  # release a blocked reader: a writer that opens and closes the FIFO gives it EOF
        with contextlib.suppress(OSError):  # ENXIO: no reader is waiting
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert loaded.skipped


def test_a_fifo_inside_the_corpus_is_reported(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("A council approved the harbour budget on Tuesday. " * 3)
    os.mkfifo(corpus / "pipe.txt")
    loaded = within(2, lambda: qa.load_corpus(corpus))
    assert [(s.path, "not a regular file" in s.reason) for s in loaded.skipped] == [
        ("pipe.txt", True)
    ]
    assert len(loaded.articles) == 1


def test_an_index_location_that_is_a_file_is_one_line(tmp_path, seed_copy, capsys):
    target = tmp_path / "index"
    target.write_text("not an index")
    assert main(["index", str(seed_copy), "--index", str(target), "--quiet"]) == 1
    assert main(["ask", "who denied it?", "--index", str(target)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("is a file, not an index folder" in line for line in lines)


# -- hostile questions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assistant(seed_index, encoder):
    a = qa.Assistant(seed_index, encoder)
    a.ask(Q)  # warm-up, as in the stress run: the 2 s limit is for a loaded assistant
    return a


# Refusals and cheap answers (abstentions): answering in full costs about a second each.
_PICKED = {"empty", "whitespace mix", "NUL only", "control only", "zero-width only"}
_PICKED |= {"100k no spaces", "Korean", "Hindi", "emoji", "SQL", "k=0", "not text"}
_PICKED |= {"lone surrogate", "escaped bytes", "k=NaN", "k=inf"}  # were bugs, fixed


@pytest.mark.parametrize(
    ("question", "kwargs"),
    [
        *(
            pytest.param(q, kw, id=label)
            for label, q, kw in questions.QUESTIONS
            if label in _PICKED
        ),
    ],
)
def test_hostile_question_is_refused_or_answered_in_time(assistant, question, kwargs):
    outcome, detail, _ = questions.ask_one(assistant, question, kwargs)
    if outcome == "slow":  # a busy machine: the limit holds for the better of two tries
        outcome, detail, _ = questions.ask_one(assistant, question, kwargs)
    assert outcome in ("refused", "answered"), detail


@pytest.mark.parametrize(
    "args",
    [[""], [" \t\n "], ["\x01\x02\x03"], ["\x7f\x08"], [Q, "--k", "0"], [Q, "--since", "soon"]],
    ids=["empty", "whitespace", "control", "delete-backspace", "k=0", "bad-date"],
)
def test_cli_ask_refusal_is_exit_1_and_one_line(seed_index, capsys, args):
    assert main(["ask", *args, "--index", str(seed_index)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa ask: error:") and not captured.out


def test_cli_ask_with_bytes_that_are_not_utf8(seed_index, capsys):
    """A terminal may pass bytes that are not UTF-8: they become "?" and the question is read."""
    assert main(["ask", os.fsdecode(b"who \xff denied?"), "--index", str(seed_index)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() and not captured.err


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture()
def full_disk(tmp_path, seed_index, seed_copy):
    """(corpus with ten new articles, index on a small file system with no space left)."""
    try:
        with disk.small_disk(tmp_path / "disk", size_mb=2) as _how:
            index = tmp_path / "disk" / "index"
            shutil.copytree(seed_index, index)
            disk.add_articles(seed_copy, "test")
            filler = disk.fill(tmp_path / "disk", 0)
            yield seed_copy, index
            filler.unlink()
    except disk.NoSmallDisk as exc:
        pytest.skip(f"cannot mount a small file system here: {exc}")


def test_full_disk_build_fails_and_keeps_the_old_index(full_disk, encoder):
    corpus, index = full_disk
    live = store.current_generation(index).name
    with pytest.raises(qa.IndexWriteError, match="free disk space"):
        qa.build_index(corpus, index, encoder=encoder)
    assert disk.old_index_intact(index, live, encoder) == ""


def test_full_disk_error_is_typed_and_one_line(full_disk, capsys):
    corpus, index = full_disk
    code = main(["index", str(corpus), "--index", str(index), "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("qa index: error:")


# -- a tampered index, through the command line -------------------------------------------------


def test_a_tampered_index_is_refused_in_one_line_and_repaired(tmp_path, seed_index, seed_copy):
    picked = [
        d for d in tamper.DAMAGES if d[0] in {"meta.sqlite truncated", "manifest model as text"}
    ]
    result = tamper.run_tamper(tmp_path, seed_index, seed_copy, damages=picked)
    assert result.trials == 2 and result.refused_in_one_line == 2
    assert result.hangs == result.tracebacks == result.unrepaired == []


# -- load ---------------------------------------------------------------------------------------


def test_concurrent_asks_during_an_update_are_whole_and_picked_up(tmp_path, seed_index, encoder):
    result = load.concurrent_asks(
        tmp_path,
        encoder,
        threads=8,
        minimum=1,
        seed_index=seed_index,
        rounds=("update_index",),
        questions=load.ABSTAINING,
        ask_new=False,
    )
    assert result.errors == [] and result.asks >= 8
    assert result.rounds == result.picked_up == 1


@pytest.fixture(scope="module")
def server(seed_index, encoder, tmp_path_factory):
    """The web app served in-process over a copy of the seed index: (url, index, corpus)."""
    from ui.app import build_app
    from ui.server import start

    work = tmp_path_factory.mktemp("stress-web")
    index, corpus = work / "index", work / "corpus"
    shutil.copytree(seed_index, index)
    shutil.copytree(ROOT / "corpus", corpus)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("QA_AUTH", raising=False)
        app = build_app(index, corpus, assistant=qa.Assistant(index, encoder))
        url = start(app, port=port)
    try:
        yield url, index, corpus
    finally:
        app.close(verbose=False)


def test_http_asks_during_an_update_have_no_errors(server, encoder):
    url, index, corpus = server
    result = load.http_asks(url, corpus, index, encoder, requests=8, questions=load.ABSTAINING)
    assert result.errors == [] and result.asks == 8 and result.picked_up == 1


@pytest.mark.parametrize(
    ("template", "secret"), web.FILE_ROUTE_ATTACKS, ids=[t for t, _ in web.FILE_ROUTE_ATTACKS]
)
def test_file_route_refuses_files_outside_the_allowed_folders(server, template, secret):
    url, index, corpus = server
    path, protected = web.expand_one(template, secret, url, index, corpus)
    status, body = web.raw_get(url, path)
    assert web.refused(status, body, protected), (status, body[:200])


OUTSIDE = Path(tempfile.gettempdir()) / f"stress-escape-{secrets.token_hex(4)}.txt"


# ids without the random part, so that every pytest-xdist worker collects the same tests
_NAME_IDS = web.traversal_names(OUTSIDE.with_name("stress-escape-RANDOM.txt"))


@pytest.mark.parametrize("which", range(len(_NAME_IDS)), ids=_NAME_IDS)
def test_upload_route_keeps_hostile_names_inside_its_folder(server, which):
    name = web.traversal_names(OUTSIDE)[which]
    status, answer = web.upload(server[0], name, b"An article about the harbour budget.")
    assert web.stored_inside(status, answer, OUTSIDE), (status, answer)


def test_upload_route_refuses_a_file_over_the_size_limit(server):
    status, _ = web.upload(server[0], "huge.txt", b"x" * 21_000_000)
    assert status == 413


def test_upload_event_refuses_server_paths_and_bad_types(server):
    url, _, corpus = server
    before = sorted(p.name for p in corpus.iterdir())
    fn_index, trigger = web.upload_event(url)
    status, stored = web.upload(url, "evil.exe", b"MZ not an article")
    assert status == 200
    for name, path in [("passwd.txt", "/etc/passwd"), ("evil.exe", stored[0])]:
        message = web.call_event(url, fn_index, [[web.file_data(path, name)]], trigger)
        assert message["success"] is False, message
    assert sorted(p.name for p in corpus.iterdir()) == before
