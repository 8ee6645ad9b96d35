"""Checking what the user typed into the web chat's settings, and the login setting."""

from __future__ import annotations

import datetime as dt
import os
import re

import qa

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InputError(ValueError):
    """A setting the user typed is unusable; the message says how to fix it."""


def date_range(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """The "published since/until" boxes as ISO dates (None when empty).

    Raises:
        InputError: A box holds something other than a real YYYY-MM-DD date, or since > until.
    """
    first, last = _day(since, "Published since"), _day(until, "Published until")
    if first and last and first > last:
        raise InputError(f"“Published since” ({first}) is after “Published until” ({last}).")
    return first, last


def _day(text: str | None, label: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(
            f"“{label}” must be a date like 2024-01-31 (YYYY-MM-DD); got “{text}”."
        ) from None


def auth_from_env() -> tuple[str, str] | None:
    """Basic-auth credentials from QA_AUTH="user:password", or None when it is unset.

    Raises:
        qa.SettingsError: QA_AUTH is set but not of that form.
    """
    value = os.environ.get("QA_AUTH", "")
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        raise qa.SettingsError('QA_AUTH must look like "user:password" (or be unset for no login)')
    return user, password
