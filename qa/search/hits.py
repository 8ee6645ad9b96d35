"""What search hands on: ranked hits with the signals behind their scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.base import StoredChunk
from qa.records import Passage
from qa.search.query import QueryPlan


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the signals behind its score."""

    chunk: StoredChunk
    score: float
    dense: float  # cosine of question and chunk
    bm25: float

    def passage(self) -> Passage:
        """The public record of this hit (score rounded to 4 places)."""
        c = self.chunk
        return Passage(
            article_id=c.article_id,
            title=c.title,
            source=c.source,
            published=c.published,
            url=c.url,
            path=c.path,
            start=c.start,
            end=c.end,
            text=c.text,
            score=round(self.score, 4),
        )


@dataclass(frozen=True)
class Retrieval:
    """The ranked hits of a question, the reading of the question, and its vector."""

    plan: QueryPlan
    hits: tuple[Hit, ...]
    query_vector: np.ndarray
    term_weights: dict[str, float]  # IDF of the question's stemmed terms that the index knows
