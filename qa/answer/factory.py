"""Which reader answers and which reranker reorders: one line each, chosen by name
(`qa eval --reader`, `qa eval --reranker`, the API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qa.answer.base import Reader
from qa.embed.encoder import Encoder
from qa.errors import SettingsError
from qa.search.rerank import KeepOrder, Reranker

T = TypeVar("T")


def _trained(encoder: Encoder) -> Reader:
    from qa.answer.trained import TrainedReader

    return TrainedReader(encoder)


def _joint(encoder: Encoder) -> Reader:
    from qa.answer.trained import TrainedReader

    return TrainedReader(encoder, joint=True)


def _extractive(encoder: Encoder) -> Reader:
    from qa.answer.extractive import ExtractiveReader

    return ExtractiveReader(encoder)


READERS: dict[str, Callable[[Encoder], Reader]] = {
    "trained": _trained,  # the trained sentence scorer (qa/answer/trained.py)
    "none": _extractive,  # no trained reader: cosine, key terms and answer kind (extractive.py)
    "joint": _joint,  # trained + the joint model reading the question against the sentence
}
DEFAULT_READER = "joint"


def make_reader(name: str, encoder: Encoder) -> Reader:
    """The reader called ``name`` (one of ``READERS``) on ``encoder``.

    Raises:
        SettingsError: an unknown name; the message lists the valid ones.
    """
    return _by_name("reader", READERS, name, encoder)


def _sentence_reranker(encoder: Encoder) -> Reranker:
    from qa.answer.rerank import SentenceReranker

    return SentenceReranker(encoder)


RERANKERS: dict[str, Callable[[Encoder], Reranker]] = {
    "none": lambda encoder: KeepOrder(),  # the fused order stands (qa/search/rerank.py)
    "sentence": _sentence_reranker,  # best trained sentence logit per passage (answer/rerank.py)
}
DEFAULT_RERANKER = "none"


def make_reranker(name: str, encoder: Encoder) -> Reranker:
    """The reranker called ``name`` (one of ``RERANKERS``) on ``encoder``.

    Raises:
        SettingsError: an unknown name; the message lists the valid ones.
    """
    return _by_name("reranker", RERANKERS, name, encoder)


def _by_name(kind: str, table: dict[str, Callable[[Encoder], T]], name: str, encoder: Encoder) -> T:
    """``table[name](encoder)``, or a SettingsError naming the ``kind`` and the valid names."""
    if name not in table:
        raise SettingsError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
    return table[name](encoder)
