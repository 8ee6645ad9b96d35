"""Counting requests per client and failed logins per name: rate limits, delays and lockouts.

Everything here is in memory and per process: a restart forgets it (see docs/security.md).
The clock is a parameter so the windows can be checked without waiting for them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ui import limits

log = logging.getLogger(__name__)

_ALL = "\x00all"  # the key of "every name together" (no user name can hold a NUL)

Clock = Callable[[], float]


class RateLimit:
    """At most ``limit`` events per key in any window of ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float, *, clock: Clock = time.monotonic) -> None:
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float:
        """Count one event for ``key``; 0.0 when allowed, else the seconds until it would be."""
        now = self._clock()
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return max(events[0] + self.window_s - now, 0.001)
        events.append(now)
        return 0.0

    def count(self, key: str) -> int:
        """Events of ``key`` in the current window."""
        return len(self._recent(key, self._clock()))

    def undo(self, key: str) -> None:
        """Take back the last event counted for ``key``."""
        events = self._events.get(key)
        if events:
            events.pop()

    def forget(self, key: str) -> None:
        """Drop every event of ``key``."""
        self._events.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        if key not in self._events and len(self._events) >= limits.MAX_TRACKED_KEYS:
            self._forget_idle(now)
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, e in self._events.items() if not e or e[-1] <= now - self.window_s]
        for key in idle or list(self._events)[: len(self._events) // 2]:
            del self._events[key]


@dataclass(frozen=True)
class LoginVerdict:
    """What to do with one login attempt: wait ``wait_s`` and try it, or refuse it for now."""

    wait_s: float = 0.0
    locked_s: float = 0.0  # > 0: refused without checking the password, for this many seconds
    everyone: bool = False  # the lock is on all names, not only this one

    @property
    def refused(self) -> bool:
        return self.locked_s > 0


class LoginThrottle:
    """Failed logins per user name and overall: a growing delay, then a lockout.

    Each attempt counts as a failure the moment it is admitted, so attempts sent in parallel
    cannot slip past the limits while their passwords are being checked; a success takes
    its attempt back and clears the name's failures.
    """

    def __init__(
        self,
        *,
        per_name: int = limits.LOGIN_FAILURES_PER_NAME,
        overall: int = limits.LOGIN_FAILURES_OVERALL,
        window_s: float = limits.LOGIN_WINDOW_S,
        lockout_s: float = limits.LOGIN_LOCKOUT_S,
        base_delay_s: float = limits.LOGIN_BASE_DELAY_S,
        max_delay_s: float = limits.LOGIN_MAX_DELAY_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self.per_name, self.overall = per_name, overall
        self.lockout_s, self.base_delay_s, self.max_delay_s = lockout_s, base_delay_s, max_delay_s
        self._clock = clock
        # the failures themselves; a RateLimit's limit is never reached here (checked below)
        self._failures = RateLimit(max(per_name, overall) + 1, window_s, clock=clock)
        self._locked_until: dict[str, float] = {}
        self._logged: set[str] = set()  # locks already in the log (one line per lock)

    def attempt(self, name: str, client: str) -> LoginVerdict:
        """Admit (and count) one attempt for ``name`` from ``client``, or refuse it."""
        now = self._clock()
        key = _key(name)
        for locked in (_ALL, key):
            remaining = self._locked_until.get(locked, 0.0) - now
            if remaining > 0:
                return LoginVerdict(locked_s=remaining, everyone=locked == _ALL)
        mine, everyone = self._failures.count(key), self._failures.count(_ALL)
        self._failures.hit(key)
        self._failures.hit(_ALL)
        # locked now, not when the password turns out wrong, so that parallel attempts wait
        if mine + 1 >= self.per_name:
            self._lock(key, now)
        if everyone + 1 >= self.overall:
            self._lock(_ALL, now)
        return LoginVerdict(wait_s=self._delay(mine, everyone))

    def succeeded(self, name: str) -> None:
        """The password was right: forget the name's failures and lift its lock."""
        key = _key(name)
        self._failures.forget(key)
        self._failures.undo(_ALL)  # this attempt was counted as a failure when admitted
        self._locked_until.pop(key, None)
        if self._failures.count(_ALL) < self.overall:
            self._locked_until.pop(_ALL, None)

    def failed(self, name: str, client: str) -> None:
        """The password was wrong (already counted): one log line for the operator."""
        mine, everyone = self._failures.count(_key(name)), self._failures.count(_ALL)
        log.warning(
            "failed login for user %s from %s (%d of %d allowed in %.0f min)",
            _shown(name),
            client,
            mine,
            self.per_name,
            self._failures.window_s / 60,
        )
        if mine >= self.per_name and self._first_report(_key(name)):
            log.warning("logins locked for %.0f s: user %s", self.lockout_s, _shown(name))
        if everyone >= self.overall and self._first_report(_ALL):
            log.warning(
                "logins locked for %.0f s for every user: %d failed logins in %.0f min",
                self.lockout_s,
                everyone,
                self._failures.window_s / 60,
            )

    def _lock(self, key: str, now: float) -> None:
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._logged &= set(self._locked_until)
        self._locked_until[key] = now + self.lockout_s
        self._logged.discard(key)

    def _first_report(self, key: str) -> bool:
        """True once per lock of ``key``: whether its lock line is still to be logged."""
        if key in self._logged:
            return False
        self._logged.add(key)
        return True

    def _delay(self, mine: int, everyone: int) -> float:
        steps = max(mine, everyone // max(self.overall // self.per_name, 1))
        return 0.0 if steps == 0 else min(self.base_delay_s * 2 ** (steps - 1), self.max_delay_s)


def _key(name: str) -> str:
    return name.strip().casefold()


def _shown(name: str) -> str:
    """The name as it may go into a log line: quoted, escaped, at most 64 characters."""
    return repr(name[:64] + ("…" if len(name) > 64 else ""))
