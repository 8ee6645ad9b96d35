"""A question before it is searched: cleaned and capped, its k checked, and the earlier question
it leans on when it is a short follow-up ("when was that?")."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from qa.config import MAX_K
from qa.errors import QuestionError

MAX_QUESTION_CHARS = 1000
# A short question that leans on the conversation ("when was that?", "what did he say?").
_FOLLOW_UP = re.compile(
    r"\b(?:it|its|that|this|those|these|they|them|their|he|she|him|her|his|there|then)\b",
    re.IGNORECASE,
)


def clean_question(question: str) -> tuple[str, tuple[str, ...]]:
    """The question as it is searched (one line, no control characters, at most
    MAX_QUESTION_CHARS), and notices for the answer (it was trimmed)."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    # Lone surrogates (bytes a terminal passed that are not UTF-8) become "?".
    cleaned = question.encode("utf-8", "replace").decode("utf-8")
    cleaned = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the articles")
    if len(cleaned) > MAX_QUESTION_CHARS:
        cut = cleaned.rfind(" ", 0, MAX_QUESTION_CHARS)
        cleaned = cleaned[: cut if cut > 0 else MAX_QUESTION_CHARS]
        return cleaned, (f"the question was trimmed to its first {len(cleaned)} characters",)
    return cleaned, ()


def check_k(k: int) -> int:
    """``k`` as an int from 1 to MAX_K, or QuestionError naming the range."""
    valid = isinstance(k, int | float) and not isinstance(k, bool) and math.isfinite(k)
    if not valid or not 1 <= int(k) <= MAX_K:
        raise QuestionError(f"k={k!r} is out of range; use a number from 1 to {MAX_K}")
    return int(k)


def follow_up_context(question: str, history: Sequence[str]) -> str:
    """The last earlier question when ``question`` is a short follow-up that refers back."""
    earlier = [h.strip() for h in history if h and h.strip()]
    if not earlier or len(question.split()) > 12 or not _FOLLOW_UP.search(question):
        return ""
    return earlier[-1][:MAX_QUESTION_CHARS]
