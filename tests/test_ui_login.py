"""The login form with QA_AUTH set (issue 15, finding 4): failed logins are throttled per user
name and overall (a doubling delay, then a lockout, each logged), and uploads need the login
like every other route. Over real HTTP against a server on 127.0.0.1, and the throttle's
windows with a clock of the test's own."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from browser import free_port

from ui import limits
from ui.throttle import LoginThrottle, RateLimit

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # gradio 6.31
USER, PASSWORD = "ann", "s3cret-pass"


@pytest.fixture()
def url(seed_index, tmp_path, encoder) -> Iterator[str]:
    """A fresh app (fresh throttle) with QA_AUTH set, over the read-only seed index."""
    import qa
    from ui.app import build_app
    from ui.server import start

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_AUTH", f"{USER}:{PASSWORD}")
        app = build_app(seed_index, tmp_path, assistant=qa.Assistant(seed_index, encoder))
        address = start(app, port=free_port())
    try:
        yield address
    finally:
        app.close(verbose=False)


def login(client: httpx.Client, url: str, password: str, user: str = USER) -> httpx.Response:
    return client.post(f"{url}login", data={"username": user, "password": password})


def test_the_sixth_wrong_login_is_refused_even_with_the_right_password(url, caplog):
    caplog.set_level(logging.WARNING, logger="ui.throttle")
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        wrong = [login(client, url, f"guess-{i}").status_code for i in range(5)]
        took = time.perf_counter() - started
        locked = login(client, url, PASSWORD)
        assert wrong == [400] * 5
        assert locked.status_code == 429 and "locked" in locked.json()["detail"]
        assert int(locked.headers["retry-after"]) > 60
        assert not client.cookies  # no session was handed out
        assert client.get(f"{url}config").status_code == 401
        # another user name is not locked by ann's failures (it is merely wrong)
        assert login(client, url, PASSWORD, user="bob").status_code == 400
    # the delay doubled after each failure: 0.1 + 0.2 + 0.4 + 0.8 s before attempts 2 to 5
    assert took >= 1.5
    lines = [r.getMessage() for r in caplog.records]
    assert sum("failed login for user 'ann' from 127.0.0.1" in line for line in lines) == 5
    assert any("logins locked for 900 s: user 'ann'" in line for line in lines)
    assert PASSWORD not in " ".join(lines)


def test_logins_sent_as_the_login_page_sends_them_are_throttled_too(url):
    """The page posts multipart form data; the name is read from it the same way."""
    with httpx.Client(timeout=30) as client:
        for i in range(limits.LOGIN_FAILURES_PER_NAME):
            form = {"username": (None, f" {USER} "), "password": (None, f"guess-{i}")}
            assert client.post(f"{url}login", files=form).status_code == 400
        form = {"username": (None, USER), "password": (None, PASSWORD)}
        assert client.post(f"{url}login", files=form).status_code == 429


def test_a_right_password_before_the_lockout_logs_in_and_clears_the_failures(url):
    with httpx.Client(timeout=30) as client:
        assert [login(client, url, "nope").status_code for _ in range(4)] == [400] * 4
        assert login(client, url, PASSWORD).status_code == 200
        assert client.get(f"{url}config").status_code == 200
    with httpx.Client(timeout=30) as client:  # counting starts again from zero
        assert [login(client, url, "nope").status_code for _ in range(4)] == [400] * 4
        assert login(client, url, PASSWORD).status_code == 200


def test_parallel_wrong_logins_cannot_slip_past_the_limit(url):
    import concurrent.futures

    def attempt(i: int) -> int:
        with httpx.Client(timeout=30) as client:
            return login(client, url, f"parallel-{i}").status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(attempt, range(12)))
    assert statuses.count(400) == limits.LOGIN_FAILURES_PER_NAME
    assert statuses.count(429) == 12 - limits.LOGIN_FAILURES_PER_NAME


def test_uploads_need_the_login(url):
    files = [("files", ("note.txt", b"A note about the harbour.", "text/plain"))]
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{url}gradio_api/upload", files=files).status_code == 401
        joined = client.post(
            f"{url}gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}
        )
        assert joined.status_code == 401
        assert login(client, url, PASSWORD).status_code == 200
        assert client.post(f"{url}gradio_api/upload", files=files).status_code == 200


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_of_all_names_together_lock_every_login(caplog):
    caplog.set_level(logging.WARNING, logger="ui.throttle")
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    waits = []
    for i in range(limits.LOGIN_FAILURES_OVERALL):  # a new name each time: no name is locked
        verdict = throttle.attempt(f"name-{i}", "10.0.0.1")
        assert not verdict.refused
        waits.append(verdict.wait_s)
        throttle.failed(f"name-{i}", "10.0.0.1")
    refused = throttle.attempt(USER, "10.0.0.2")
    assert refused.refused and refused.everyone and refused.locked_s == limits.LOGIN_LOCKOUT_S
    # the delay doubles every 10 failures overall: 0, 0.1, 0.2, 0.4, 0.8 s
    assert [waits[i] for i in (0, 9, 10, 20, 30, 40, 49)] == [0, 0, 0.1, 0.2, 0.4, 0.8, 0.8]
    assert any("for every user: 50 failed logins" in r.getMessage() for r in caplog.records)
    clock.now += limits.LOGIN_LOCKOUT_S + 1  # the window has passed: logins are admitted again
    assert not throttle.attempt(USER, "10.0.0.2").refused


def test_a_name_lock_ends_after_the_lockout_and_the_delay_has_a_ceiling():
    clock = Clock()
    throttle = LoginThrottle(per_name=50, overall=1000, clock=clock)
    waits = [throttle.attempt(USER, "10.0.0.1").wait_s for _ in range(12)]
    assert waits[:5] == [0, 0.1, 0.2, 0.4, 0.8] and max(waits) == limits.LOGIN_MAX_DELAY_S
    strict = LoginThrottle(clock=clock)
    for _ in range(limits.LOGIN_FAILURES_PER_NAME):
        strict.attempt(USER, "10.0.0.1")
    assert strict.attempt(USER, "10.0.0.1").refused
    clock.now += limits.LOGIN_LOCKOUT_S - 1
    assert strict.attempt(USER, "10.0.0.1").refused
    clock.now += 2
    assert not strict.attempt(USER, "10.0.0.1").refused


def test_rate_limit_counts_per_key_within_its_window():
    clock = Clock()
    rate = RateLimit(3, 60.0, clock=clock)
    assert [rate.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.hit("a") == pytest.approx(60.0) and rate.hit("b") == 0.0
    clock.now += 60.5
    assert rate.hit("a") == 0.0
