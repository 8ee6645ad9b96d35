"""The Reader protocol: from a question's retrieval to an answer (cited sentences or abstention)."""

from __future__ import annotations

from typing import Protocol

from qa.index.base import IndexReader
from qa.records import Answer
from qa.search.hits import Retrieval


class Reader(Protocol):
    """Reads the retrieved passages of a question and answers, or abstains with a reason."""

    def answer(
        self,
        question: str,
        retrieval: Retrieval,
        index: IndexReader,
        *,
        notices: tuple[str, ...] = (),
    ) -> Answer:
        """The answer to ``question``; ``index`` is the version ``retrieval`` came from."""
        ...
