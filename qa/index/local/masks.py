"""Which rows of a LocalIndex a search may return under some Filters: per-row masks, kept."""

from __future__ import annotations

import numpy as np

from qa.index.base import Filters
from qa.memo import Memo

_KEPT = 16  # masks kept: a filter's mask and its live part, a few filters per question
_EVERY = np.ones(0, dtype=bool)  # the kept mask of filters that leave every live row in


class FilterMasks:
    """Masks over the rows from each row's article outlet and day; thread-safe."""

    def __init__(
        self, row_article: np.ndarray, sources: np.ndarray, days: np.ndarray, live: np.ndarray
    ) -> None:
        self._row_article = row_article  # article position per row
        self._article_source = sources  # outlet per article, "" when unknown
        self._article_date = days  # ISO day per article, "" when unknown
        self._live = live
        self._masks = Memo(_KEPT)

    def allowed(self, filters: Filters) -> np.ndarray:
        """Per chunk row: whether its article passes ``filters``."""
        return self._masks.get(filters, lambda: self._mask(filters))

    def searchable(self, filters: Filters) -> np.ndarray | None:
        """Per chunk row: live and passing ``filters``; None when every row is (kept)."""

        def make() -> np.ndarray:
            both = self.allowed(filters) & self._live
            return _EVERY if both.all() else both

        found = self._masks.get(("searchable", filters), make)
        return None if found is _EVERY else found

    def _mask(self, filters: Filters) -> np.ndarray:
        ok = np.ones(len(self._article_source), dtype=bool)
        if filters.sources:
            wanted = {s.casefold() for s in filters.sources}
            ok &= np.array([s.casefold() in wanted for s in self._article_source.tolist()])
        dated = self._article_date != ""
        if filters.since:
            ok &= dated & (self._article_date >= filters.since)
        if filters.until:
            ok &= dated & (self._article_date <= filters.until)
        return ok[self._row_article]
