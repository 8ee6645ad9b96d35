"""Upload limits over real HTTP (issue 15, finding 3): files and bytes per upload, articles per
upload, a per-client rate, repeats of indexed articles refused by name, refused files kept out
of the corpus, and QA_UPLOADS=off for a read-only archive.

Each test talks to a real server on 127.0.0.1 the way the browser does: files go to Gradio's
upload route, then the "Add articles" upload event runs through the queue. The tests share one
server; the rate-limit test connects from another loopback address (127.0.0.2) to be a client
of its own.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import free_port

import qa
from ui import limits

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # gradio 6.31
SEED_ARTICLE = ROOT / "corpus" / "000_0f7bfc05e65b6324.txt"


def new_article(place: str) -> bytes:
    """A short article no other test uploads (each test names its own place)."""
    return (
        f"{place.upper()}, 3 March 2024 — The governor announced on Sunday that the old bridge "
        f"of {place} will reopen to traffic on 1 April after two years of repairs.\n"
    ).encode()


class Served:
    """One app on a free port over its own corpus and index; stopped by ``close``."""

    def __init__(self, root: Path, encoder: Any, *, uploads: bool | None = None) -> None:
        from ui.app import build_app
        from ui.server import start

        self.corpus, self.index = root / "corpus", root / "index"
        shutil.copytree(ROOT / "corpus", self.corpus)
        qa.build_index(self.corpus, self.index, encoder=encoder)
        self.assistant = qa.Assistant(self.index, encoder)
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("QA_AUTH", raising=False)
            self.app = build_app(self.index, self.corpus, assistant=self.assistant, uploads=uploads)
            self.url = start(self.app, port=free_port())

    def close(self) -> None:
        self.app.close(verbose=False)

    def corpus_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.corpus.iterdir()}

    def post_files(
        self, files: list[tuple[str, bytes]], *, source: str = "127.0.0.1"
    ) -> httpx.Response:
        """POST files to Gradio's upload route as the browser does (one multipart request),
        from the loopback address ``source``."""
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=60) as client:
            return client.post(f"{self.url}gradio_api/upload", files=parts)

    def add(self, files: list[tuple[str, bytes]]) -> str:
        """Upload ``files`` and run the "Add articles" event; the summary it shows."""
        response = self.post_files(files)
        assert response.status_code == 200, response.text
        return self.run_upload_event(
            [(path, name) for path, (name, _) in zip(response.json(), files, strict=True)]
        )

    def run_upload_event(self, uploaded: list[tuple[str, str]]) -> str:
        fn_index, trigger = self._upload_event()
        data = [
            [{"path": p, "orig_name": n, "meta": {"_type": "gradio.FileData"}} for p, n in uploaded]
        ]
        message = _run_event(self.url, fn_index, trigger, data)
        assert message.get("success"), message
        return message["output"]["data"][0].replace("\\", "")  # Markdown escapes dropped

    def _upload_event(self) -> tuple[int, int]:
        config = httpx.get(f"{self.url}config", timeout=30).json()
        for dep in config["dependencies"]:
            for target, event in dep.get("targets", []):
                if event == "upload":
                    return dep["id"], target
        raise LookupError("the app has no upload event")


def _run_event(url: str, fn_index: int, trigger: int, data: list[Any]) -> dict[str, Any]:
    """One event through Gradio's queue (join, then read the stream to its end)."""
    session = secrets.token_hex(8)
    payload = {"data": data, "fn_index": fn_index, "trigger_id": trigger, "session_hash": session}
    with httpx.Client(base_url=f"{url}gradio_api", timeout=120) as client:
        joined = client.post("/queue/join", json=payload)
        assert joined.status_code == 200, joined.text
        with client.stream("GET", "/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
    raise AssertionError("the event stream ended without a result")


@pytest.fixture(scope="module")
def served(tmp_path_factory, encoder) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("ui-uploads"), encoder)
    try:
        yield server
    finally:
        server.close()


def test_a_new_article_is_saved_and_indexed(served):
    before = served.assistant.stats()["articles"]
    summary = served.add([("bridge.txt", new_article("Mosul"))])
    assert "1 added" in summary and "bridge.txt: saved" in summary
    assert served.assistant.stats()["articles"] == before + 1


def test_an_upload_repeating_an_indexed_article_is_refused_by_name(served):
    before = served.corpus_files()
    summary = served.add([("same story, new name.txt", SEED_ARTICLE.read_bytes())])
    assert "not saved" in summary and "already in the archive" in summary
    assert "Iraqi security media denies claim" in summary  # the indexed article's title
    assert "(000_0f7bfc05e65b6324.txt)" in summary  # and its file
    assert "Index updated" not in summary
    assert served.corpus_files() == before


def test_the_same_text_twice_in_one_upload_is_saved_once(served):
    text = new_article("Basra")
    summary = served.add([("one.txt", text), ("two.md", text)])
    assert "one.txt: saved" in summary and "earlier in this upload" in summary
    assert "two.md" not in served.corpus_files()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("undecodable.txt", bytes(range(0x80, 0x100)) * 3, "no known encoding fits"),
        (
            "broken.jsonl",
            b'{"body": "A fine first article about the port."}\n{"body": \n',
            "line 2",
        ),
        ("nobody.json", b'{"title": "no text field here"}', "body"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "unreadable JSON"),  # a nesting bomb
    ],
)
def test_files_the_indexer_would_skip_are_refused_and_never_saved(served, name, data, reason):
    before = served.corpus_files()
    summary = served.add([(name, data)])
    assert f"not saved: {name}" in summary, summary
    assert reason in summary
    assert served.corpus_files() == before  # nothing left behind to be re-listed later


def test_later_uploads_do_not_relist_files_skipped_before(served):
    bad = served.corpus / "operator's bad file.txt"
    bad.write_bytes(b"\xff\xfe broken")
    try:
        summary = served.add([("kirkuk.txt", new_article("Kirkuk"))])
    finally:
        bad.unlink()
    assert "1 added" in summary
    assert "operator" not in summary and "1 other file is skipped" in summary


def test_an_upload_of_too_many_articles_is_refused_before_indexing(served):
    lines = [json.dumps({"body": f"Short note {i} on the harbour."}) for i in range(1001)]
    summary = served.add([("many.jsonl", "\n".join(lines).encode())])
    assert "over 1,000 articles" in summary and "Index updated" not in summary
    assert "many.jsonl" not in served.corpus_files()


def test_an_upload_of_too_many_files_is_refused(served):
    files = [(f"note {i}.txt", f"Note number {i} about the ferry.".encode()) for i in range(21)]
    response = served.post_files(files)  # one request with 21 files: the route refuses it
    assert response.status_code == 413 and "at most 20 files" in response.text
    first = served.post_files(files[:20]).json()
    second = served.post_files(files[20:]).json()  # the event is sent 21 files in all
    uploaded = [(p, n) for p, (n, _) in zip(first + second, files, strict=True)]
    summary = served.run_upload_event(uploaded)
    assert "nothing saved" in summary and "at most 20 files" in summary
    assert not any(name.startswith("note") for name in served.corpus_files())


def test_an_upload_over_the_total_size_is_refused(served):
    # the route refuses a body declared over the cap without reading it
    with socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1].strip("/")))) as s:
        s.settimeout(10)
        s.sendall(
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: 21000000\r\n\r\n"
        )
        assert s.recv(200).startswith(b"HTTP/1.1 413")
    # files sent separately, then to the event together: refused as a whole
    half = b"A long article about the council budget. " * 250_000  # 10.25 MB
    first = served.post_files([("part one.txt", half)]).json()
    second = served.post_files([("part two.txt", half + b"!")]).json()
    summary = served.run_upload_event([(first[0], "part one.txt"), (second[0], "part two.txt")])
    assert "nothing saved" in summary and "at most 20 MB in all" in summary
    assert "part one.txt" not in served.corpus_files()


def test_one_client_may_send_only_so_many_uploads(served):
    allowed, me = limits.UPLOAD_REQUESTS_PER_CLIENT, "127.0.0.2"
    sent = [served.post_files([(f"n{i}.txt", b"x")], source=me) for i in range(allowed)]
    refused = served.post_files([("one more.txt", b"x")], source=me)
    assert [r.status_code for r in sent] == [200] * allowed
    assert served.post_files([("another client.txt", b"x")]).status_code == 200
    assert refused.status_code == 429 and "Too many uploads from your address" in refused.text
    assert int(refused.headers["retry-after"]) > 0


def test_read_only_mode_has_no_upload_tab_and_refuses_uploads(tmp_path, encoder, monkeypatch):
    monkeypatch.setenv("QA_UPLOADS", "off")
    server = Served(tmp_path, encoder)
    try:
        response = server.post_files([("bridge.txt", new_article("Erbil"))])
        assert response.status_code == 403 and "read-only" in response.text
        config = httpx.get(f"{server.url}config", timeout=30).json()
        ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert "qa-upload" not in ids and "qa-tab-upload" not in ids
        events = {event for dep in config["dependencies"] for _, event in dep.get("targets", [])}
        assert "upload" not in events
        assert server.corpus_files().keys() == {p.name for p in (ROOT / "corpus").iterdir()}
    finally:
        server.close()


def test_a_bad_uploads_setting_names_the_choices(monkeypatch, seed_index, tmp_path):
    from ui.app import build_app

    monkeypatch.setenv("QA_UPLOADS", "maybe")
    with pytest.raises(qa.SettingsError, match="QA_UPLOADS must be one of on, off"):
        build_app(seed_index, tmp_path)


def test_a_chat_that_takes_uploads_imports_the_build_ahead(seed_index, tmp_path):
    """A cold server's first upload would wait ~1 s for langchain and the build: the chat
    imports them in the background when it starts (and not when uploads are off)."""
    code = (
        "import sys, pathlib, qa\n"
        "from ui.chat import Chat\n"
        "assistant = qa.Assistant.open(sys.argv[1])\n"
        "names = ('langchain_text_splitters', 'qa.index.build')\n"
        "before = [n in sys.modules for n in names]\n"
        "chat = Chat(assistant, pathlib.Path(sys.argv[2]), uploads=sys.argv[3] == 'on')\n"
        "if sys.argv[3] == 'on':\n"
        "    chat.preparing.join(60)\n"
        "print(before, [n in sys.modules for n in names])\n"
    )
    for uploads, after in (("on", "[True, True]"), ("off", "[False, False]")):
        run = [sys.executable, "-c", code, str(seed_index), str(tmp_path), uploads]
        out = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
        assert out.stdout.split() == ["[False,", "False]", *after.split()], out.stderr[-500:]
