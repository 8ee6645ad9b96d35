"""The HTTP gate in front of the Gradio app (an ASGI middleware): request bodies are capped,
uploads are kept to their size, count and per-client rate (or refused in read-only mode),
failed logins are throttled, and REST calls to /ask that leave out values get the defaults.

Gradio's own routes do the rest (the login check on every route, the queue, file serving).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ui import limits
from ui.throttle import LoginThrottle, RateLimit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_UPLOAD = "/gradio_api/upload"
_LOGIN = "/login"
_QUEUE_JOIN = "/gradio_api/queue/join"
# The REST routes that call an endpoint by name with {"data": [...]} (Gradio 6).
_BY_NAME = re.compile(r"/gradio_api/(?:call|run|api)/(?P<name>[^/]+)")


@dataclass
class GuardSettings:
    """What the gate enforces for one app."""

    uploads: bool = True  # False: read-only archive, the upload route answers 403
    login: bool = False  # QA_AUTH is set: throttle POST /login
    # endpoint name -> its parameters' defaults, for REST calls that send fewer values
    defaults: dict[str, Sequence[Any]] = field(default_factory=dict)
    # the same by the endpoint's function index (the queue/join route names it so)
    defaults_by_fn: dict[int, Sequence[Any]] = field(default_factory=dict)
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    upload_rate: RateLimit = field(
        default_factory=lambda: RateLimit(limits.UPLOAD_REQUESTS_PER_CLIENT, limits.UPLOAD_WINDOW_S)
    )


class _TooLarge(Exception):
    """The request body went past its cap while the app was reading it."""


class Guard:
    """ASGI middleware; give it to Gradio as ``app_kwargs={"middleware": [...]}``."""

    def __init__(self, app: App, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        post = scope["method"] == "POST"
        if post and path == _UPLOAD and not self.settings.uploads:
            await _refuse(send, 403, "this archive is read-only: uploads are turned off")
        elif (_content_length(scope) or 0) > _cap(path):  # refused before a byte is read
            await _refuse(send, 413, _too_large(path), json_body=path != _UPLOAD)
        elif post and path == _UPLOAD:
            await self._upload(scope, receive, send)
        elif post and path == _LOGIN and self.settings.login:
            await self._login(scope, receive, send)
        elif post and (_BY_NAME.fullmatch(path) or path == _QUEUE_JOIN):
            await self._call(scope, receive, send, path)
        else:
            await _capped(self.app, scope, receive, send, path)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.settings.upload_rate.hit(_client(scope))
        if wait:
            message = (
                f"too many uploads from your address ({limits.UPLOAD_REQUESTS_PER_CLIENT} in "
                f"{limits.UPLOAD_WINDOW_S / 60:.0f} minutes); try again in {_minutes(wait)}"
            )
            await _refuse(send, 429, message, retry_after=wait)
            return
        await _capped(self.app, scope, receive, send, _UPLOAD, parts=_PartCounter.of(scope))

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_all(receive, limits.MAX_LOGIN_BODY_BYTES)
        if body is None:
            await _refuse(send, 413, _too_large(_LOGIN), json_body=True)
            return
        name, client = await _login_name(scope, body), _client(scope)
        throttle = self.settings.login_throttle
        verdict = throttle.attempt(name, client)
        if verdict.refused:
            who = "all logins are" if verdict.everyone else "this user name is"
            wait = _minutes(verdict.locked_s)
            message = f"too many failed logins: {who} locked; try again in {wait}"
            await _refuse(send, 429, message, retry_after=verdict.locked_s, json_body=True)
            return
        await asyncio.sleep(verdict.wait_s)
        status = await _replay(self.app, scope, body, receive, send)
        if status == 200:
            throttle.succeeded(name)
        else:
            throttle.failed(name, client)

    async def _call(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        body = await _read_all(receive, limits.MAX_BODY_BYTES)
        if body is None:
            await _refuse(send, 413, _too_large(path), json_body=True)
            return
        await _replay(self.app, scope, self._completed(path, body), receive, send)

    def _completed(self, path: str, body: bytes) -> bytes:
        """The body with the endpoint's defaults appended when its "data" list is short."""
        try:
            payload = json.loads(body)
        except ValueError:
            return body  # Gradio answers malformed JSON itself (422)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return body
        match = _BY_NAME.fullmatch(path)
        if match:
            defaults = self.settings.defaults.get(match["name"])
        else:
            defaults = self.settings.defaults_by_fn.get(payload.get("fn_index"))  # type: ignore[arg-type]
        data = payload["data"]
        if not defaults or len(data) >= len(defaults):
            return body
        payload["data"] = [*data, *defaults[len(data) :]]
        return json.dumps(payload).encode()


async def _capped(
    app: App,
    scope: Scope,
    receive: Receive,
    send: Send,
    path: str,
    *,
    parts: _PartCounter | None = None,
) -> None:
    """Run ``app`` with the body cut off past the cap of ``path`` (or past the upload's file
    count): the answer is then a 413, whatever the app made of the cut."""
    cap = _cap(path)
    state = {"read": 0, "over": "", "started": False}

    async def counted() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            state["read"] += len(chunk)
            if state["read"] > cap:
                state["over"] = _too_large(path)
            elif parts and parts.add(chunk):
                state["over"] = f"an upload may hold at most {limits.MAX_UPLOAD_FILES} files"
            if state["over"]:
                raise _TooLarge(state["over"])
        return message

    async def answer(message: Message) -> None:
        if state["over"]:  # the app's own answer to a body it could not finish reading
            if message["type"] == "http.response.start" and not state["started"]:
                state["started"] = True
                await _refuse(send, 413, state["over"])
            return
        state["started"] = state["started"] or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counted, answer)
    except _TooLarge:
        if not state["started"]:
            state["started"] = True
            await _refuse(send, 413, state["over"])


class _PartCounter:
    """Counts the parts of a multipart body as it streams by (boundaries split across chunks
    included): True from ``add`` once there are more than MAX_UPLOAD_FILES."""

    def __init__(self, boundary: bytes) -> None:
        self.marker = b"--" + boundary
        self.seen = 0
        self.tail = b""

    @classmethod
    def of(cls, scope: Scope) -> _PartCounter | None:
        content_type = _header(scope, b"content-type").decode("latin-1")
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        return cls(match[1].encode("latin-1")) if match else None

    def add(self, chunk: bytes) -> bool:
        data = self.tail + chunk
        self.seen += data.count(self.marker)
        self.tail = data[-(len(self.marker) - 1) :]  # too short to hold a marker counted already
        return self.seen - 1 > limits.MAX_UPLOAD_FILES  # the last marker closes the body


async def _read_all(receive: Receive, cap: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``cap`` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _replay(app: App, scope: Scope, body: bytes, receive: Receive, send: Send) -> int:
    """Run ``app`` on an already read ``body``; returns the status it answered with."""
    sent = False
    status = {"code": 0}

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: only a disconnect can come
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def answer(message: Message) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
        await send(message)

    headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await app({**scope, "headers": headers}, replayed, answer)
    return status["code"]


async def _login_name(scope: Scope, body: bytes) -> str:
    """The user name of a login form (urlencoded or multipart), as Gradio reads it."""
    content_type = _header(scope, b"content-type").decode("latin-1")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", "replace")).get("username", [""])
        return values[0].strip()
    from starlette.requests import Request

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(dict(scope), receive).form()
    except Exception:  # a malformed form: Gradio refuses it; count it under no name
        return ""
    value = form.get("username")
    return value.strip() if isinstance(value, str) else ""


async def _refuse(
    send: Send,
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    json_body: bool = False,
) -> None:
    """Answer with ``status`` and one sentence: plain text (the upload widget shows it as is)
    or {"detail": ...} like FastAPI's own errors."""
    text = message[:1].upper() + message[1:] + "."
    body = json.dumps({"detail": text}).encode() if json_body else text.encode()
    kind = b"application/json" if json_body else b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    headers.append((b"connection", b"close"))  # the unread rest of a body is not wanted
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return b""


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _cap(path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    if path == _UPLOAD:
        return limits.MAX_UPLOAD_TOTAL_BYTES + limits.MAX_UPLOAD_FRAMING_BYTES
    if path == _LOGIN:
        return limits.MAX_LOGIN_BODY_BYTES
    return limits.MAX_BODY_BYTES


def _too_large(path: str) -> str:
    if path == _UPLOAD:
        return (
            f"an upload may hold at most {limits.MAX_UPLOAD_TOTAL_BYTES / 1e6:g} MB in all; "
            "upload fewer or smaller files at a time"
        )
    return f"the request is over the {_cap(path):,} bytes this server reads"


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
