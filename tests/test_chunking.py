"""Chunking: exact offsets and the token bound, on the seed, a larger corpus and odd text."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import pytest
from conftest import SEED, multihop_articles

from qa.config import ChunkerSettings
from qa.ingest.articles import text_sha256
from qa.ingest.chunking import Chunker
from qa.ingest.corpus import load_corpus
from qa.records import Article


@pytest.fixture(scope="module")
def chunker(encoder):
    settings = ChunkerSettings(
        max_tokens=encoder.info.max_tokens, special_tokens=encoder.special_tokens
    )
    return Chunker(encoder.count_tokens, settings)


@functools.cache
def _model_tokenizer(folder: str):
    """The model's own tokenizer.json, read apart from the Embedder that the chunker uses."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _full_tokens(encoder, text: str) -> int:
    """Tokens as the model sees them: special tokens included, no truncation."""
    return len(_model_tokenizer(encoder.info.path).encode(text, add_special_tokens=True).ids)


def _check(article, chunks, encoder):
    assert chunks, article.id
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert _full_tokens(encoder, c.text) <= encoder.info.max_tokens
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_seed_chunks_exact_and_bounded(chunker, encoder):
    assert encoder.info.max_tokens == 256
    for article in load_corpus(SEED).articles:
        _check(article, chunker.chunk(article), encoder)


def test_larger_corpus_chunks_exact_and_bounded(chunker, encoder):
    articles = load_corpus(multihop_articles()).articles[:80]
    for article in articles:
        _check(article, chunker.chunk(article), encoder)


def test_text_covered_without_gaps(chunker):
    article = load_corpus(SEED).articles[4]
    chunks = chunker.chunk(article)
    for left, right in itertools.pairwise(chunks):
        assert right.start <= left.end + 2  # only the separator between them may be left out
    assert chunks[0].start == 0 and chunks[-1].end == len(article.text)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,  # one unbreakable word
        "https://example.com/" + "a1b2c3/" * 800,
        "北京报道。" * 600,  # CJK without spaces
        ("Supercalifragilisticexpialidocious antidisestablishmentarianism. " * 200),
        "\n\n".join(f"Para {i}. " + "word " * (i * 7 % 90) for i in range(60)),
    ],
)
def test_odd_text_never_exceeds_bound(chunker, encoder, text):
    article = Article(id="odd", text=text, sha256=text_sha256(text))
    _check(article, chunker.chunk(article), encoder)


def test_a_megabyte_word_is_cut_by_characters(chunker):
    """The tokenizer reads it as one [UNK]; the character bound still cuts it into passages."""
    text = "Embedded image\n\n" + "QUJD" * 250_000
    chunks = chunker.chunk(Article(id="blob", text=text, sha256=text_sha256(text)))
    assert max(len(c.text) for c in chunks) <= chunker.settings.max_chars
    assert all(text[c.start : c.end] == c.text for c in chunks)
    ends = [0] + [c.end for c in chunks]
    gaps = [text[max(ends[: i + 1]) : c.start] for i, c in enumerate(chunks)]
    assert all(not gap.strip() for gap in gaps) and not text[chunks[-1].end :].strip()


def test_chunk_ids_are_stable(chunker):
    article = load_corpus(SEED).articles[0]
    assert [c.id for c in chunker.chunk(article)] == [c.id for c in chunker.chunk(article)]
