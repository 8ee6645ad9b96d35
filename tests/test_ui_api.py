"""The web chat without a browser: its API endpoint via gradio_client, uploads, HTML escaping."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import httpx
import pytest
from browser import free_port
from conftest import SEED as SEED_DIR

import qa
from ui.uploads import MAX_UPLOAD_BYTES, UploadRejected, safe_name, save_upload

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # gradio 6.31
QUESTION = "who denied cooperation in the Palestine Street strike?"


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    """The URL of the app served in-process over the seed index."""
    from ui.app import build_app
    from ui.server import start

    corpus = tmp_path_factory.mktemp("ui-api") / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("QA_AUTH", raising=False)
        app = build_app(seed_index, corpus)
        url = start(app, port=free_port())
    try:
        yield url
    finally:
        app.close(verbose=False)


@pytest.fixture(scope="module")
def client(served):
    """gradio_client connected to that app."""
    from gradio_client import Client

    return Client(served, verbose=False)


def call_ask(url: str, data: list) -> tuple[str, object]:
    """/ask over plain REST (POST /gradio_api/call/ask, then its result): (event, payload)."""
    posted = httpx.post(f"{url}gradio_api/call/ask", json={"data": data}, timeout=60)
    assert posted.status_code == 200, posted.text
    result = httpx.get(f"{url}gradio_api/call/ask/{posted.json()['event_id']}", timeout=60)
    event, payload = "", None
    for line in result.text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            payload = json.loads(line[5:])
    return event, payload


def raw_post(url: str, path: str, head: str, body: bytes = b"") -> bytes:
    """Send a request exactly as written and return the status line of the answer."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_api_answer_cites_the_security_media_cell(client):
    answer = client.predict(question=QUESTION, k=5, api_name="/ask")
    assert not answer["abstained"]
    quotes = [c["quote"] for c in answer["citations"]]
    assert any("Security Media Cell" in q for q in quotes), quotes
    first = answer["citations"][0]
    assert first["file"].endswith(".txt") and "path" not in first  # see Chat.ask_api


def test_api_exposes_only_ask(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": "   "}, "the question is empty"),
        ({"question": QUESTION, "since": "5 January"}, "must be a date like"),
        ({"question": QUESTION, "since": "2024-02-30"}, "must be a date like"),
        ({"question": QUESTION, "since": "2024-02-01", "until": "2024-01-01"}, "is after"),
    ],
)
def test_api_refuses_bad_input_with_a_message(client, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message) as caught:
        client.predict(**kwargs, api_name="/ask")
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": "abc"}, "“k” (the number of sources) must be a number such as 5; got “abc”"),
        ({"k": [3]}, "must be a number such as 5; got [3]"),
        ({"sources": [1]}, "“sources” must be a list of outlet names, or one name; got [1]"),
        ({"sources": {"a": 1}}, "must be a list of outlet names"),
    ],
)
def test_api_answers_values_of_the_wrong_type_with_a_message(client, capfd, kwargs, message):
    """Issue 15: these gave {"error": null} and a traceback in the server log."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        client.predict(question=QUESTION, **kwargs, api_name="/ask")
    assert message in str(caught.value)
    assert "Traceback" not in capfd.readouterr().err


def test_api_takes_one_outlet_given_as_text(client):
    as_text = client.predict(
        question="What happened at the border?", sources="Rudaw", api_name="/ask"
    )
    as_list = client.predict(
        question="What happened at the border?", sources=["Rudaw"], api_name="/ask"
    )
    assert as_text == as_list and as_text["citations"]
    assert {c["source"] for c in as_text["citations"] + as_text["related"]} == {"Rudaw"}


def test_api_over_rest_fills_in_missing_values(served, capfd):
    event, answer = call_ask(served, [QUESTION])  # k, sources, since, until left out
    assert event == "complete" and not answer[0]["abstained"]
    event, error = call_ask(served, [])
    assert event == "error" and "the question is empty" in error["error"]
    assert "Traceback" not in capfd.readouterr().err


def test_api_quotes_back_at_most_a_little_of_a_bad_value(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        client.predict(question=QUESTION, since="9" * 900_000, api_name="/ask")
    assert "must be a date like" in str(caught.value) and len(str(caught.value)) < 200


def test_request_bodies_are_capped(served):
    from ui.limits import MAX_BODY_BYTES

    # declared over the cap: refused before a byte of it is read (the body is never sent)
    head = "Content-Type: application/json\r\nContent-Length: 50000000\r\n"
    assert raw_post(served, "/gradio_api/call/ask", head).startswith(b"HTTP/1.1 413")
    # sent in chunks without a length: cut off once past the cap
    chunk = b"q" * 400_000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))
    head = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    assert raw_post(served, "/gradio_api/queue/join", head, chunks).startswith(b"HTTP/1.1 413")
    # a 2 MB question through the normal client route
    big = httpx.post(
        f"{served}gradio_api/call/ask", json={"data": ["q" * 2 * MAX_BODY_BYTES]}, timeout=60
    )
    assert big.status_code == 413 and "bytes this server reads" in big.json()["detail"]
    # a question of the longest kind still fits
    assert call_ask(served, ["why? " * 200])[0] == "complete"


def test_index_errors_name_the_index_not_its_path(seed_index, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from ui.app import build_app
    from ui.server import start

    index = tmp_path / "private-place" / "index"
    shutil.copytree(seed_index, index)
    app = build_app(index, tmp_path / "corpus")
    url = start(app, port=free_port())
    try:
        (index / "CURRENT").write_text("gen-missing\n")  # the live generation vanished
        with pytest.raises(AppError) as caught:
            Client(url, verbose=False).predict(question=QUESTION, api_name="/ask")
    finally:
        app.close(verbose=False)
    message = str(caught.value)
    assert "the index" in message and "gen-missing" in message
    assert str(tmp_path) not in message and "private-place" not in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../x.txt", "x.txt"),
        ("../../etc/cron.d/evil.md", "evil.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.HTML", "win.html"),
        ("C:\\Users\\me\\notes.TXT", "notes.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("line\nbreak\r.json", "linebreak.json"),
        ("report\u202egnp.txt", "reportgnp.txt"),  # right-to-left override
        ("évé nt.md", "évé nt.md"),
        ("e\u0301ve\u0301.md", "évé.md"),  # NFC
        ("<script>alert(1)</script>.html", "script_.html"),  # "/" splits first
        ('a<b>:"c"|d?*.md', "a_b___c__d__.md"),
        ("  spaced   name .jsonl ", "spaced name .jsonl"),
        ("x.txt.", "x.txt"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "unsupported file type"),
        (".hidden.txt", "hidden"),
        ("dir/.env", "hidden"),
        ("..", "not a usable file name"),
        ("a/b/..", "not a usable file name"),
        ("", "not a usable file name"),
        ("\x00\x01", "not a usable file name"),
        ("evil.exe", "unsupported file type"),
        ("archive.txt.gz", "unsupported file type"),
        ("README", "unsupported file type"),
        (".txt", "hidden"),
    ],
)
def test_safe_name_rejects(name, reason):
    with pytest.raises(UploadRejected, match=reason):
        safe_name(name)


def test_safe_name_limits_length():
    name = safe_name("é" * 300 + ".txt")
    assert name.endswith(".txt") and len(name.encode()) <= 210


def test_save_upload_never_overwrites(tmp_path):
    corpus, upload = tmp_path / "corpus", tmp_path / "upload"
    corpus.mkdir()
    upload.mkdir()
    (corpus / "story.txt").write_text("the original")
    (corpus / "other.md").write_text("an article with id 'other'")

    def save(name: str, text: str):
        src = upload / "tmp.bin"
        src.write_text(text)
        return save_upload(src, name, corpus)

    assert (save("../story.txt", "the original").status, save("story.txt", "x").name) == (
        "unchanged",
        "story-1.txt",
    )
    assert save("story.txt", "y").name == "story-2.txt"
    assert save("story.txt", "x").status == "unchanged"  # same as story-1.txt
    assert save("other.txt", "same article id").name == "other-1.txt"
    assert (corpus / "story.txt").read_text() == "the original"
    assert sorted(p.name for p in corpus.iterdir()) == [
        "other-1.txt",
        "other.md",
        "story-1.txt",
        "story-2.txt",
        "story.txt",
    ]


def test_save_upload_rejects_empty_and_oversized(tmp_path):
    big, empty = tmp_path / "big.txt", tmp_path / "empty.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no 20 MB written
    empty.touch()
    with pytest.raises(UploadRejected, match="over the 20 MB limit"):
        save_upload(big, "big.txt", tmp_path / "corpus")
    with pytest.raises(UploadRejected, match="empty"):
        save_upload(empty, "empty.txt", tmp_path / "corpus")


def test_cards_escape_article_text_and_drop_unsafe_links():
    from ui import render

    text = "<b>Intro</b> The <script>alert('x')</script> quote & more. Tail."
    quote = "The <script>alert('x')</script> quote & more."
    citation = qa.Citation(
        n=1,
        article_id="a",
        title="<img src=x onerror=alert(1)>",
        source='Evil "Outlet"',
        published="2024-01-02",
        url="javascript:alert(1)",
        path="a.txt",
        start=10,
        end=10 + len(text),
        text=text,
        score=1.0,
        quote=quote,
        quote_start=10 + text.index(quote),
        quote_end=10 + text.index(quote) + len(quote),
    )
    answer = qa.Answer(question="q", text=f"{quote} [1]", abstained=False, citations=(citation,))
    html = render.answer_html(answer)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "javascript:" not in html and "href" not in html
    assert (
        "<mark>The &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; quote &amp; more.</mark>"
        in html
    )
    assert (
        'title="&lt;img src=x onerror=alert(1)&gt; · Evil &quot;Outlet&quot; · 2024-01-02">[1]'
        in html
    )
    markdown = html.split('<div class="qa-md qa-hidden">', 1)[1].split("</div>", 1)[0]
    assert "<" not in markdown and "&lt;script&gt;" in markdown  # the copied Markdown, escaped
    assert "\n" not in html  # one Markdown HTML block


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("ann:s3cret", ("ann", "s3cret")), ("ann:a:b", ("ann", "a:b"))],
)
def test_auth_from_env(monkeypatch, value, expected):
    from ui.forms import auth_from_env

    monkeypatch.setenv("QA_AUTH", value)
    assert auth_from_env() == expected


@pytest.mark.parametrize("value", ["ann", ":pw", "ann:"])
def test_auth_from_env_rejects_malformed(monkeypatch, value):
    from ui.forms import auth_from_env

    monkeypatch.setenv("QA_AUTH", value)
    with pytest.raises(qa.SettingsError, match="user:password"):
        auth_from_env()


def test_upload_into_a_corpus_that_lacks_the_indexed_articles_is_refused(seed_index, tmp_path):
    """Indexing a folder without the indexed articles would drop them: nothing is saved."""
    from ui.chat import Chat

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    assistant = qa.Assistant.open(index)
    wrong_corpus, upload = tmp_path / "elsewhere", tmp_path / "new.txt"
    wrong_corpus.mkdir()
    upload.write_text("A short article about something else entirely.\n")
    summary, status, *_ = Chat(assistant, wrong_corpus).upload([str(upload)])
    assert "nothing saved" in summary and "5 indexed articles are not in" in summary
    assert list(wrong_corpus.iterdir()) == []
    assert assistant.stats()["articles"] == 5 and "**5** articles" in status
    assert r"\(openvino\-int8\)" in status  # Markdown-escaped


def test_timeline_places_dated_sources_and_lists_the_rest():
    from ui import render, timeline

    def ref(n: int, published: str | None, source: str | None = "Outlet") -> render.Ref:
        return render.Ref(
            n, f"[{n}]", f"T{n}", f"a{n}", 0, 5, source, published, f"quote {n} *bold*"
        )

    refs = [ref(1, "2024-03-03"), ref(2, None, None), ref(3, "2019-12-31T08:00"), ref(4, "2024")]
    also = qa.Passage("b", None, "Other", "2021-05-05", None, "b.txt", 0, 9, "Lead here.", 1.0)
    again = qa.Passage("a1", "T1", "Outlet", "2024-03-03", None, "a1.txt", 0, 5, "x", 1.0)
    found = timeline.points(refs, [again, also], {"b": "Lead here"})
    assert [p.cited for p in found] == [True, True, True, True, False]  # a1 counted once
    data, x_lim = timeline.frame(found)
    assert list(data["source"]) == ["[1] Outlet", "[3] Outlet", "Other"]
    assert list(data["kind"]) == [timeline.CITED, timeline.CITED, timeline.RETRIEVED]
    assert list(data["date_text"]) == ["2024-03-03", "2019-12-31", "2021-05-05"]
    assert x_lim is not None and x_lim[0] < data["date"].min().timestamp() < x_lim[1]
    listing = timeline.listing(found)
    assert (
        listing.index("2019-12-31")
        < listing.index("2021-05-05")
        < listing.index("2024-03-03")
        < listing.index("Without a date")
    )
    assert "[2] outlet unknown" in listing.replace("\\", "") and "\\*bold\\*" in listing
    assert (
        "Lead here (no headline)" in listing.replace("\\", "")
        and "5 articles searched, 4 cited" in listing
    )
    assert timeline.frame([])[1] is None


def test_removal_moves_files_into_the_bin_and_back_never_outside(tmp_path):
    from ui.forms import InputError
    from ui.removal import Removal

    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "a.txt").write_text("first")
    (tmp_path / "outside.txt").write_text("not ours")
    removal = Removal(corpus)
    assert removal.remove("sub/a.txt") == corpus / ".removed" / "sub" / "a.txt"
    (corpus / "sub" / "a.txt").write_text("second, same name")
    assert removal.remove("sub/a.txt").name == "a~2.txt"  # the first one is kept
    assert removal.removed() == ["sub/a.txt", "sub/a~2.txt"]
    for bad in ("../outside.txt", ".removed/sub/a.txt", "missing.txt"):
        with pytest.raises(InputError):
            removal.remove(bad)
    with pytest.raises(InputError):
        removal.restore("../../outside.txt")
    assert removal.restore("sub/a~2.txt") == corpus / "sub" / "a.txt"
    assert (corpus / "sub" / "a.txt").read_text() == "second, same name"
    with pytest.raises(InputError, match="in the corpus again"):
        removal.restore("sub/a.txt")  # its place is taken: nothing is overwritten
    assert (tmp_path / "outside.txt").read_text() == "not ours"


def test_the_archive_listing_pages_and_counts(seed_index, tmp_path):
    from ui import archive
    from ui.chat import Chat

    shelf = archive.ArchiveTab(Chat(qa.Assistant.open(seed_index), SEED_DIR, uploads=False))
    table, note, months, outlets, number, ids = shelf.listing("", [], "", "", "Title", False, 9)
    assert number == 1 and len(ids) == 5 and "of **5** matching" in note
    assert "Remove" not in table  # read-only: listing only
    assert table.index("Iran-backed") < table.index("Iraq denies") < table.index("(no headline)")
    assert set(months["set"]) == {archive.IN_FILTER, archive.REST}
    _, note, months, _, _, ids = shelf.listing("", ["Rudaw"], "", "", "Date", True, 1)
    assert len(ids) == 1 and months["articles"].sum() == 2  # both dated months, none matching
    _, note, *_ = shelf.listing("", [], "2024-13-01", "", "Date", True, 1)
    assert note.startswith("⚠️")
    for odd in (float("inf"), "x", None, -3):
        assert shelf.listing("", [], "", "", "Date", True, odd)[4] == 1


def test_an_answer_keeps_three_cards_open_and_folds_the_rest():
    from ui import render

    text = "One. Two. Three. Four. Five."
    cites = tuple(
        qa.Citation(
            *(f"a{n}", None if n == 5 else f"Title {n}", "Outlet", f"2024-01-0{n}", None),
            *(f"a{n}.txt", 0, len(text), text, 1.0),
            n=n,
            quote=text[:4],
            quote_start=0,
            quote_end=4,
        )
        for n in range(1, 6)
    )
    answer = qa.Answer("q", "One. [1] Two. [2] Three. [3] Four. [4] Five. [5]", False, None, cites)
    html = render.answer_html(answer, turn="ab12", leads={"a5": "The lead"})
    head, folded = html.split('<details class="qa-more"><summary>show 2 more</summary>')
    assert head.count('class="qa-card"') == 3 and folded.count('class="qa-card"') == 2
    assert html.index('class="qa-text"') < html.index('class="qa-card"')  # the answer first
    assert 'class="qa-ref qa-key-ab12-2" role="button"' in html
    assert 'title="Title 2 · Outlet · 2024-01-02"' in html
    assert "The lead (no headline)" in folded
