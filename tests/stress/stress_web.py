"""Stress section 5: the web app refuses what it must. Files outside the allowed folders are
never served through Gradio's file routes, and hostile uploads (traversal names, NUL bytes,
absolute paths, oversized files, disallowed types, server paths) are refused or neutralised.
Then upload abuse and login guessing against fresh servers (stress_abuse): 0 hangs and 0
tracebacks expected."""

from __future__ import annotations

import json
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stress_abuse import run_abuse

ROOT = Path(__file__).resolve().parents[2]


def raw_get(url: str, path: str, timeout: float = 15) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no normalisation of ../ or %2e): (status, body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        head = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body


# (request path, what must not come back); {tmp} {gen} {index} {root} {article} {port} are filled
# in by expand(). "passwd" etc. name the protected bytes, see _secrets().
FILE_ROUTE_ATTACKS = [
    ("/gradio_api/file=/etc/passwd", "passwd"),
    ("/gradio_api/file=../../../../../../etc/passwd", "passwd"),
    ("/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
    ("/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "passwd"),
    ("/gradio_api/file=%252e%252e%252f%252e%252e%252fetc%252fpasswd", "passwd"),
    ("/gradio_api/file=/etc/passwd%00.txt", "passwd"),
    ("/gradio_api/file=file:///etc/passwd", "passwd"),
    ("/gradio_api/file=//etc/passwd", "passwd"),
    ("/gradio_api/file={tmp}/gradio/../../etc/passwd", "passwd"),
    ("/gradio_api/file/etc/passwd", "passwd"),
    ("/gradio_api/file/../../../../etc/passwd", "passwd"),
    ("/file=/etc/passwd", "passwd"),
    ("/file=../../../../etc/passwd", "passwd"),
    ("/static/../../../../../etc/passwd", "passwd"),
    ("/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "passwd"),
    ("/assets/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
    ("/svelte/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
    ("/gradio_api/file={gen}/meta.sqlite", "sqlite"),
    ("/gradio_api/file={gen}/manifest.json", "manifest"),
    ("/gradio_api/file={index}/CURRENT", "current"),
    ("/gradio_api/file={index}/cache/embeddings.sqlite", "sqlite"),
    ("/gradio_api/file={root}/tests/conftest.py", "tests"),
    ("/gradio_api/file=tests/conftest.py", "tests"),
    ("/gradio_api/file=qa/store.py", "source"),
    ("/gradio_api/file=/proc/self/cwd/qa/store.py", "source"),
    ("/gradio_api/file=/proc/self/environ", "environ"),
    ("/gradio_api/file={article}", "article"),
    ("/gradio_api/file=http://127.0.0.1:{port}/config", "config"),
    ("/gradio_api/proxy=http://127.0.0.1:{port}/config", "config"),
]


def expand(url: str, index: Path, corpus: Path) -> list[tuple[str, bytes]]:
    """FILE_ROUTE_ATTACKS for the app at ``url``: (request path, bytes that must not leak)."""
    return [expand_one(template, key, url, index, corpus) for template, key in FILE_ROUTE_ATTACKS]


def expand_one(template: str, key: str, url: str, index: Path, corpus: Path) -> tuple[str, bytes]:
    gen = index / (index / "CURRENT").read_text().strip()
    article = sorted(corpus.glob("*.txt"))[0]
    places = {
        "tmp": tempfile.gettempdir(),
        "gen": str(gen),
        "index": str(index),
        "root": str(ROOT),
        "article": str(article),
        "port": str(urlsplit(url).port),
    }
    secrets_ = {
        "passwd": b"root:x:0:0",
        "sqlite": b"SQLite format 3",
        "manifest": b"schema_version",
        "current": gen.name.encode(),
        "tests": b"def seed_index",
        "source": b"SCHEMA_VERSION",
        "environ": b"PATH=",
        "article": article.read_bytes()[:60],
        "config": b'"dependencies"',
    }
    return template.format(**places), secrets_[key]


def refused(status: int, body: bytes, secret: bytes) -> bool:
    """A refusal: an error status and none of the protected bytes in the answer."""
    return status >= 400 and secret not in body


# -- uploads ----------------------------------------------------------------------------------


def upload(url: str, name: str, data: bytes) -> tuple[int, Any]:
    """POST one file to Gradio's upload route with ``name`` sent as is (NUL, ../ and all):
    (status, JSON answer or text)."""
    import httpx

    boundary = secrets.token_hex(16)
    quoted = name.encode("utf-8", "surrogateescape").replace(b'"', b"%22")
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="files"; filename="'
        + quoted
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = httpx.post(
        url.rstrip("/") + "/gradio_api/upload",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def upload_dir() -> Path:
    """Where Gradio keeps uploads (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def stored_inside(status: int, answer: Any, escape: Path) -> bool:
    """An upload is contained when it was refused, or stored inside the upload folder under a
    plain name, and nothing appeared at ``escape`` (where the traversal pointed)."""
    if escape.exists():
        return False
    if status != 200:
        return 400 <= status < 500
    stored = Path(answer[0])
    inside = stored.resolve().is_relative_to(upload_dir().resolve())
    return inside and "\x00" not in stored.name and ".." not in stored.parts


def upload_event(url: str) -> tuple[int, int]:
    """(fn_index, trigger id) of the app's file-upload event, read from its config."""
    import httpx

    config = httpx.get(url.rstrip("/") + "/config", timeout=30).json()
    for dep in config["dependencies"]:
        for target, event in dep.get("targets", []):
            if event == "upload":
                return dep["id"], target
    raise LookupError("the app has no upload event")


def call_event(url: str, fn_index: int, data: list[Any], trigger: int) -> dict[str, Any]:
    """Run one event as the browser does (queue/join, then the SSE stream); the final message."""
    import httpx

    session = secrets.token_hex(8)
    payload = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger}
    with httpx.Client(base_url=url.rstrip("/") + "/gradio_api", timeout=120) as client:
        joined = client.post("/queue/join", json={**payload, "session_hash": session})
        if joined.status_code != 200:
            return {"success": False, "status": joined.status_code, "output": joined.text}
        with client.stream("GET", "/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
    return {"success": False, "output": "stream ended without a result"}


def file_data(path: str, name: str) -> dict[str, Any]:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


@dataclass
class WebResult:
    """Web attacks tried and refused (or neutralised), with what got through."""

    attempts: int = 0
    refused: int = 0
    leaks: list[str] = field(default_factory=list)

    def add(self, label: str, ok: bool, detail: str = "") -> None:
        self.attempts += 1
        if ok:
            self.refused += 1
        else:
            self.leaks.append(f"{label}: {detail}")


def run_web_attacks(url: str, index: Path, corpus: Path) -> WebResult:
    """Every file-route attack and every upload attack against the app at ``url``."""
    result = WebResult()
    for path, secret in expand(url, index, corpus):
        status, body = raw_get(url, path)
        result.add(f"GET {path}", refused(status, body, secret), f"status {status}")
    _upload_attacks(url, corpus, result)
    _abuse(corpus.parent / "abuse", index, corpus, result)
    return result


def _abuse(work: Path, index: Path, corpus: Path, result: WebResult) -> None:
    """Upload abuse and login guessing (stress_abuse), counted into ``result``."""
    abuse = run_abuse(work, index, corpus)
    for line in abuse.notes:
        print(f"  {line}", flush=True)
    print(
        f"  upload abuse and login throttle: {abuse.cases} cases, {len(abuse.failures)} failed, "
        f"{len(abuse.hangs)} hangs, {abuse.tracebacks} tracebacks in the servers' logs",
        flush=True,
    )
    result.attempts += abuse.cases
    result.refused += abuse.cases - len(abuse.failures) - len(abuse.hangs)
    result.leaks += abuse.failures + [f"hang: {h}" for h in abuse.hangs]
    if abuse.tracebacks:
        result.leaks.append(f"{abuse.tracebacks} tracebacks in the abuse servers' logs")


def _upload_attacks(url: str, corpus: Path, result: WebResult) -> None:
    token = secrets.token_hex(4)
    outside = Path(tempfile.gettempdir()) / f"stress-escape-{token}.txt"
    story = b"An article about the council, the ferry and the harbour budget. " * 5
    fn_index, trigger = upload_event(url)
    for name in traversal_names(outside):
        status, answer = upload(url, name, story + name.encode("utf-8", "replace"))
        result.add(f"upload route, name {name!r}", stored_inside(status, answer, outside))
        if status != 200:
            continue
        before = {p.name for p in corpus.rglob("*")}
        message = call_event(url, fn_index, [[file_data(answer[0], name)]], trigger)
        new = {p.name for p in corpus.rglob("*")} - before
        escaped = outside.exists() or any("/" in n or "\x00" in n or n.startswith(".") for n in new)
        detail = f"new corpus files {new}, event {message.get('output')}"
        result.add(f"upload event, name {name!r}", not escaped, detail)
    status, _ = upload(url, "huge.txt", b"x" * 21_000_000)
    result.add("upload of 21 MB", status == 413, f"status {status}")
    _event_attacks(url, corpus, result, fn_index, trigger)


def traversal_names(outside: Path) -> list[str]:
    """Upload names that point at ``outside`` (or are otherwise hostile)."""
    return [
        f"../../../../../..{outside}",
        str(outside),
        f"..\\..\\..\\..{outside}".replace("/", "\\"),
        f"{outside.parent}/x/../{outside.name}",
        "a\x00b.txt",
        "\x00",
        "../.hidden.txt",
        "",
    ]


def _event_attacks(url: str, corpus: Path, result: WebResult, fn_index: int, trigger: int) -> None:
    """Upload events whose file is not acceptable: each must be refused, the corpus untouched."""
    status, answer = upload(url, "evil.exe", b"MZ\x90\x00 not an article")
    exe = answer[0] if status == 200 else ""
    status, answer = upload(url, "big.txt", b"y" * 20_500_000)  # under Gradio's limit, over ours
    big = answer[0] if status == 200 else ""
    status, answer = upload(url, "empty.txt", b"")
    empty = answer[0] if status == 200 else ""
    gradio_dir = Path(exe).parent if exe else Path(tempfile.gettempdir()) / "gradio"
    attacks = [
        ("disallowed type .exe", [file_data(exe, "evil.exe")]),
        ("over the 20 MB limit", [file_data(big, "big.txt")]),
        ("empty file", [file_data(empty, "empty.txt")]),
        ("server path /etc/passwd", [file_data("/etc/passwd", "passwd.txt")]),
        ("traversal out of the upload dir", [file_data(f"{gradio_dir}/../../etc/hosts", "h.txt")]),
        (
            "a corpus file by its server path",
            [file_data(str(sorted(corpus.glob("*.txt"))[0]), "a.txt")],
        ),
    ]
    for label, files in attacks:
        before = {p.name: p.stat().st_size for p in corpus.rglob("*") if p.is_file()}
        message = call_event(url, fn_index, [files], trigger)
        after = {p.name: p.stat().st_size for p in corpus.rglob("*") if p.is_file()}
        output = message.get("output") or {}
        summary = str((output.get("data") or [""])[0]) if isinstance(output, dict) else ""
        ok = after == before and (not message.get("success") or "✗" in summary)
        result.add(f"upload event: {label}", ok, f"corpus changed: {set(after) - set(before)}")
