"""Sentence spans for quotes: exact offsets, wrapped lines joined, headlines and lists apart."""

from __future__ import annotations

import pytest

from qa.text.sentences import sentence_spans

WRAPPED = (
    "Mosul bridge\n\nNineveh Post\nMOSUL, 3 March - The governor announced on Sunday that the "
    "old\nbridge over the Tigris will reopen to traffic on 1 April after two\nyears of repairs. "
    "Mr. Jubouri said so.\n- bullet one\n- bullet two\nA line that ends.\nNext line."
)


def test_spans_are_exact_and_wrapped_lines_joined():
    quotes = [WRAPPED[a:b] for a, b in sentence_spans(WRAPPED)]
    assert quotes == [
        "Mosul bridge",
        "Nineveh Post",
        "MOSUL, 3 March - The governor announced on Sunday that the old\nbridge over the Tigris "
        "will reopen to traffic on 1 April after two\nyears of repairs.",
        "Mr. Jubouri said so.",
        "- bullet one",
        "- bullet two",
        "A line that ends.",
        "Next line.",
    ]


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n  ", "no punctuation at all", "x" * 2000, "A. B. C. D.", "“Quoted.” Then more."],
)
def test_odd_text_gives_clean_spans(text):
    for a, b in sentence_spans(text):
        assert 0 <= a < b <= len(text) and text[a:b] == text[a:b].strip()
        assert b - a <= 601


def test_a_megabyte_without_a_space_is_cut_without_recursion():
    text = "QUJD" * 250_000  # was a RecursionError: one recursive call per 600 characters
    spans = sentence_spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert max(b - a for a, b in spans) <= 601
