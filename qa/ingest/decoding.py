"""Bytes to text: UTF-8, or a legacy encoding named by the page or guessed; names made storable.

A file that cannot be read as text raises ``Unreadable`` with the reason shown to the user.
"""

from __future__ import annotations

import codecs
import os
import re


class Unreadable(Exception):
    """One input that cannot become an article; the message is the reason shown to the user."""


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I
)


# What Western newsroom files that are not UTF-8 nearly always are: chosen when it reads as
# cleanly as the detector's best guess (which for short French or English text is often a
# Central European code page that turns é into another letter; Latin-1 text reads the same).
_WESTERN = "cp1252"


# A valid multi-byte UTF-8 sequence: in a legacy file (é is one byte, then a letter) these
# almost never occur, so a file holding them is broken UTF-8 and is not decoded by a guess.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


_FIT = 0.01  # detector scores (chaos, coherence) this close count as an equally good fit:
# on the stress catalog's cp1252 texts, cp1252 is 0.001 above the best chaos


def display_path(rel: str) -> str:
    """The path as valid text: bytes of a name that is not UTF-8 are shown as ``\\xe9``.

    Python keeps such bytes as lone surrogates, which no UTF-8 writer (SQLite, JSON, hashing)
    accepts; the escaped form is readable and safe to store. (A name that literally holds the
    same escape would give the same article id: it is then skipped as a duplicate, with reason.)
    """
    if not _LONE_SURROGATE.search(rel):
        return rel
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def without_surrogates(value: str) -> str:
    """``value`` with lone surrogates (from JSON ``\\ud800`` escapes) replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def decode_bytes(data: bytes, *, html: bool = False) -> tuple[str, str | None]:
    """The text of a file, and the legacy encoding it was decoded from (None for UTF-8).

    Not UTF-8: an HTML page's ``<meta charset>`` is followed; otherwise charset-normalizer
    guesses, windows-1252 winning among equally good fits. No fit, or several that read
    differently, is a reason to skip the file.
    """
    if b"\x00" in data[:8192]:
        raise Unreadable("binary data (NUL bytes), not a text article")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Unreadable("starts with a UTF-16 byte-order mark; re-save the file as UTF-8")
    if _UTF8_SEQUENCE.search(data):  # UTF-8 with a bad byte, not a legacy encoding: no guess
        raise Unreadable(f"not valid UTF-8 ({where}); re-save the file as UTF-8")
    declared = _META_CHARSET.search(data[:4096]) if html else None
    if declared:
        name = declared[1].decode("ascii").lower()
        try:
            return data.decode(name), _label(codecs.lookup(name).name)
        except LookupError:
            raise Unreadable(
                f"declares an unknown charset {name!r}; re-save the file as UTF-8"
            ) from None
        except UnicodeDecodeError:
            raise Unreadable(
                f"not valid {name} as it declares ({where}); re-save it as UTF-8"
            ) from None
    return _guess(data, where)


def _guess(data: bytes, where: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # only for the rare file that is not UTF-8

    matches = list(from_bytes(data))
    if not matches:
        raise Unreadable(
            f"not valid UTF-8 ({where}) and no known encoding fits; re-save it as UTF-8"
        )
    best = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= best + _FIT]  # as little mess as the best
    if _WESTERN in {codecs.lookup(m.encoding).name for m in clean}:
        try:
            return data.decode(_WESTERN), _label(_WESTERN)
        except UnicodeDecodeError:
            return data.decode("latin-1"), _label("latin-1")
    coherent = max(m.coherence for m in clean)
    fits = [m for m in clean if m.coherence >= coherent - _FIT]
    names = [codecs.lookup(m.encoding).name for m in fits]
    texts = {str(m) for m in fits}
    if len(texts) == 1:
        return texts.pop(), _label(names[0])
    shown = ", ".join(_label(n) for n in names[:3])
    raise Unreadable(
        f"not valid UTF-8 ({where}) and its encoding is ambiguous (could be {shown}); "
        "re-save it as UTF-8"
    )


def _label(codec: str) -> str:
    """A codec's usual name: "cp1252" -> "windows-1252", "iso8859-1" -> "latin-1"."""
    name = codec.replace("_", "-").lower()
    if name.startswith("cp125"):
        return "windows-" + name[2:]
    return {"iso8859-1": "latin-1", "latin-1": "latin-1"}.get(name, name)
