"""Checking what the user typed into the web chat's settings (or sent to /ask), the server's
login and upload settings, and what an error message may tell a client."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import qa
from ui.limits import MAX_ECHO_CHARS

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# An absolute server path of two or more parts (/srv/news/index, /home/x/.cache/...).
_PATH_CHARS = r"[^\s/:;,()'\"`]"
_ABSOLUTE_PATH = re.compile(rf"(?<![\w.~-])/(?:{_PATH_CHARS}+/)+{_PATH_CHARS}*")
_UPLOADS_CHOICES = {"on": True, "off": False}


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
        return qa.iso_day(text, label)
    except ValueError:
        raise InputError(
            f"“{label}” must be a date like 2024-01-31 (YYYY-MM-DD); got “{echo(text)}”."
        ) from None


def number_of_sources(k: Any, default: int) -> int | float:
    """The "number of sources" as a number (its range is the library's to check).

    Raises:
        InputError: ``k`` is not a number (text such as "abc", a list, true/false).
    """
    if k is None or k == "":
        return default
    number = _as_number(k.strip()) if isinstance(k, str) else k
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise InputError(
            f"“k” (the number of sources) must be a number such as 5; got {_quoted(k)}."
        )
    return number


def _as_number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def outlets(sources: Any) -> list[str] | None:
    """The outlets to search: None for all, one outlet given as text, or a list of names.

    Raises:
        InputError: ``sources`` is neither text nor a list of texts.
    """
    if sources is None or sources == "" or sources == []:
        return None
    if isinstance(sources, str):
        return [sources]
    if isinstance(sources, list | tuple) and all(isinstance(s, str) for s in sources):
        return list(sources)
    raise InputError(
        f"“sources” must be a list of outlet names, or one name; got {_quoted(sources)}."
    )


def echo(value: Any) -> str:
    """``value`` as it may be quoted back to a client: at most MAX_ECHO_CHARS characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "…"


def _quoted(value: Any) -> str:
    return f"“{echo(value)}”" if isinstance(value, str) else echo(value)


def public_message(message: str, places: Mapping[str | Path, str]) -> str:
    """An error message without server paths: each of ``places`` (and anything under it)
    becomes its name ("the index"), any other absolute path "a server file".

    Args:
        message: The library's message (written for the person running the server).
        places: Folders the client may hear of by name, e.g. {index_dir: "the index"}.
    """
    spellings = []
    for folder, name in places.items():
        for form in {str(folder), str(Path(folder).resolve())}:
            spellings.append((form.rstrip("/"), name))
    for form, name in sorted(spellings, key=lambda pair: -len(pair[0])):
        if form and form != ".":
            message = re.sub(re.escape(form) + rf"(?:/(?:{_PATH_CHARS}|/)*)?", name, message)
    return _ABSOLUTE_PATH.sub("a server file", message)


def uploads_from_env() -> bool:
    """Whether the page takes uploads: QA_UPLOADS=off serves a read-only archive.

    Raises:
        qa.SettingsError: QA_UPLOADS is set to something other than "on" or "off".
    """
    value = os.environ.get("QA_UPLOADS", "").strip().lower()
    if not value:
        return True
    if value not in _UPLOADS_CHOICES:
        raise qa.SettingsError(
            f"QA_UPLOADS must be one of {', '.join(_UPLOADS_CHOICES)} (or unset for on); "
            f"got {echo(value)!r}"
        )
    return _UPLOADS_CHOICES[value]


def auth_from_env() -> tuple[str, str] | None:
    """Login credentials (the page's login form) from QA_AUTH="user:password", or None when
    it is unset.

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
