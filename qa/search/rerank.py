"""The Reranker protocol: reorder the fused pool before diversification. The default keeps it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qa.search.hits import Hit
from qa.search.query import QueryPlan


class Reranker(Protocol):
    """Rescores the fused candidates of a question (best first) before diversification."""

    def rerank(self, plan: QueryPlan, hits: Sequence[Hit], k: int) -> list[Hit]:
        """``hits`` reordered (and rescored) best first; ``k`` passages will be kept."""
        ...


class KeepOrder:
    """The default reranker: the fused order stands."""

    def rerank(self, plan: QueryPlan, hits: Sequence[Hit], k: int) -> list[Hit]:
        return list(hits)
