"""Cleaning of news page text: whitespace, boilerplate lines, comment sections, repeated bodies."""

from __future__ import annotations

import re
import unicodedata

# Lines that are page furniture, never article content (matched on the whole stripped line).
_FURNITURE = re.compile(
    r"""^(?:
        back\ to\ top(?:\ button)?
      | comments\ are\ closed\.?
      | skip\ to\ (?:main\ )?content
      | share(?:\ this(?:\ article|\ story)?)?:?
      | share\ (?:on|via)\ \w+
      | (?:tweet|email|print|whatsapp|telegram|linkedin|facebook|twitter|reddit|pinterest)
      | click\ to\ (?:share|print|email)\b.*
      | follow\ us\ on\ .{1,40}
      | advertisement
      | related(?:\ articles|\ stories|\ posts)?:?
      | read\ more:?
      | like
      | like\ this:?
      | loading\.*
      | post\ a\ comment
      | leave\ a\ (?:comment|reply)
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# A heading that starts the reader-comment section; everything after it is dropped.
_COMMENTS_HEADING = re.compile(
    r"^(?:\d+\s+)?(?:comments?|reader comments|join the discussion|"
    r"discussion|responses?|\d+\s+responses? to .*)$",
    re.IGNORECASE,
)
# A WordPress-style comment signature: "Comment by NAME | DATE | Reply".
_COMMENT_SIGNATURE = re.compile(r"^comment by .{1,120}\|\s*reply$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*\d{1,3}\.\s+\S")
# Comment-policy sentences that may appear without a heading.
_COMMENT_POLICY = re.compile(
    r"\b(?:moderates? (?:all )?comments|comments (?:are|must|that do not) |"
    r"community guidelines|comment policy)\b",
    re.IGNORECASE,
)

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_INLINE_SPACE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Reasoned, not fitted: a repeated line under 40 characters (about six words) is a label or a
# heading ("Where to play: PC") and stays; a repeated paragraph of 200 or more (two sentences)
# is a second copy of the body, dropped even when it repeats alone.
_MIN_REPEAT_CHARS = 40
_LONG_PARAGRAPH = 200


def normalize_whitespace(text: str) -> str:
    """NFC-normalise, drop control and zero-width characters, collapse blank runs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text.translate(_ZERO_WIDTH))
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cut_comment_section(lines: list[str]) -> list[str]:
    """Drop the reader-comment section: from its heading, or from the first signed comment."""
    n = len(lines)
    for i, line in enumerate(lines):
        if i >= n // 3 and _COMMENTS_HEADING.match(line):
            tail = " ".join(lines[i + 1 : i + 12])
            if i + 1 >= n or _COMMENT_POLICY.search(tail) or _COMMENT_SIGNATURE.search(tail):
                return lines[:i]
        if _COMMENT_SIGNATURE.match(line):
            # The comment body precedes its signature; comment lists are numbered ("1. ...").
            start = i
            for j in range(i - 1, max(-1, i - 25), -1):
                if _LIST_ITEM.match(lines[j]):
                    start = j
                    break
            return lines[:start]
    return lines


def _drop_repeats(lines: list[str]) -> list[str]:
    """Drop a repeated copy of the body (pages often print it twice), keep the first.

    A repeated line goes only when it is part of a repeated run of two or more substantial lines,
    or is itself a long paragraph: short repeated labels ("Where to play: PC") carry content.
    """
    seen: set[str] = set()
    dup = []
    for line in lines:
        key = line.casefold()
        dup.append(len(line) >= _MIN_REPEAT_CHARS and key in seen)
        if len(line) >= _MIN_REPEAT_CHARS:
            seen.add(key)
    content = [i for i, line in enumerate(lines) if line]
    drop: set[int] = set()
    for pos, i in enumerate(content):
        if not dup[i]:
            continue
        prev_dup = pos > 0 and dup[content[pos - 1]]
        next_dup = pos + 1 < len(content) and dup[content[pos + 1]]
        if prev_dup or next_dup or len(lines[i]) >= _LONG_PARAGRAPH:
            drop.add(i)
    return [line for i, line in enumerate(lines) if i not in drop]


def clean_text(raw: str) -> str:
    """Return the article text that is stored, cited and shown.

    Args:
        raw: Decoded page text (plain text or the main text extracted from HTML).

    Returns:
        The text with whitespace normalised, navigation/share lines, comment sections and
        comment policies removed, and a repeated body kept once.
    """
    lines = normalize_whitespace(raw).split("\n")
    lines = _cut_comment_section(lines)
    lines = [line for line in lines if not _FURNITURE.match(line)]
    tail_from = (2 * len(lines)) // 3  # policies sit at the end; never touch the body
    lines = [line for i, line in enumerate(lines) if i < tail_from or not _is_policy(line)]
    lines = _drop_repeats(lines)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _is_policy(line: str) -> bool:
    return len(line) < 400 and bool(_COMMENT_POLICY.search(line)) and "comment" in line.lower()
