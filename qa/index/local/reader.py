"""LocalIndex: the IndexReader of one local generation (FAISS, bm25s, sentence terms, SQLite).

Rows (positions shared by FAISS ids, bm25s documents, sentence-index rows and ``chunks.row`` in
SQLite) stay inside qa.index.local (the id <-> row map is rows.py): everything the IndexReader
methods return is keyed by chunk id. ``candidates`` (what qa.search.candidates asks of an index
that can) keeps a question's candidates as rows and makes ids only for those it is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import Manifest
from qa.errors import IndexCorruptError
from qa.index.base import ArticleQuery, Catalog, ChunkRefs, Filters, StoredChunk
from qa.index.local.candidates import RowCandidates, known_cosines
from qa.index.local.generation import Generation, current_generation, open_generation
from qa.index.local.listing import article_page
from qa.index.local.masks import FilterMasks
from qa.index.local.rows import ChunkRows, top
from qa.memo import Memo
from qa.records import Article, ArticlePage

_MEMO = 8  # BM25 score vectors kept: one question asks for a few
_NONE = Filters()
_NO_SCORES = np.zeros(0, dtype=np.float32)


class LocalIndex:
    """Reads one generation of a local index folder (its segments as one row space); thread-safe.

    Global row ``first[i] + r`` is row ``r`` of segment ``i``; rows of deleted articles stay in
    the row space and are never returned. Segments are shared with other readers of the process,
    so opening the next generation after an update loads only its new segment.
    """

    def __init__(self, folder: str | Path, generation: Generation | None = None) -> None:
        self.folder = Path(folder)
        self._gen = generation or open_generation(self.folder)
        self.manifest: Manifest = self._gen.manifest
        ids, row_article, articles = [], [], []
        self._home: dict[str, tuple[int, int]] = {}  # article id -> (segment, position)
        masks = self._gen.masks()
        for i, (segment, (chunk_ids, owners)) in enumerate(
            zip(self._gen.segments, self._gen.layouts())
        ):
            rows = segment.article_rows()
            position = {a["id"]: len(articles) + n for n, a in enumerate(rows)}
            if not set(owners) <= set(position):
                raise IndexCorruptError(
                    f"{segment.path / 'meta.sqlite'} has chunk rows of no stored article; "
                    f"`qa index CORPUS --index {self.folder}` rebuilds it"
                )
            deleted = self._gen.deleted[i]
            for n, a in enumerate(rows):
                if a["id"] not in deleted:
                    self._home[a["id"]] = (i, len(articles) + n)
            articles.extend(rows)
            ids.extend(chunk_ids)
            row_article.extend(position[a] for a in owners)
        self._live = np.concatenate(
            [
                np.ones(s.chunk_count, bool) if m is None else m
                for s, m in zip(self._gen.segments, masks)
            ]
            or [np.zeros(0, bool)]
        )
        # deleted rows per segment: a dense search asks that segment for as many more
        self._dead = [0 if m is None else int(len(m) - m.sum()) for m in masks]
        self._articles = articles  # metadata of every stored article (no text), by position
        self._map = ChunkRows(ids, self._live)
        self._article_id_array = np.array([a["id"] for a in articles], dtype=str)
        self._row_article = np.array(row_article, dtype=np.int64)
        self._article_source = np.array([a["source"] or "" for a in articles])
        self._article_date = np.array([(a["published"] or "")[:10] for a in articles])
        for segment in self._gen.segments:  # load now: a question must not wait for them
            segment.sentences, segment.vectors  # noqa: B018
        self._lexical = self._gen.lexical
        live_articles = [articles[p] for _, p in self._home.values()]
        self._catalog = Catalog(
            articles=len(live_articles),
            chunks=int(self._live.sum()),
            sources=tuple(sorted({a["source"] for a in live_articles if a["source"]})),
            published_min=min(
                (a["published"] for a in live_articles if a["published"]), default=None
            ),
            published_max=max(
                (a["published"] for a in live_articles if a["published"]), default=None
            ),
            name=self._gen.name,
            built_at=self.manifest.built_at or None,
        )
        self._filters = FilterMasks(
            self._row_article, self._article_source, self._article_date, self._live
        )
        self._bm25 = Memo(_MEMO)

    @property
    def name(self) -> str:
        return self._gen.name

    @property
    def segment_count(self) -> int:
        return len(self._gen.segments)

    @property
    def sentence_terms_bytes(self) -> int:
        """Memory held by the sentence term counts (for the benchmark)."""
        return sum(s.sentences.nbytes for s in self._gen.segments)

    # -- searching -------------------------------------------------------------------------------

    def dense(self, vector: np.ndarray, k: int, filters: Filters) -> dict[str, float]:
        """Each segment's nearest ``k`` live rows, merged: exactly one index's top ``k`` (every
        segment's search is exact, ``qa.index.local.vectors``)."""
        rows, scores = self._dense_rows(vector, k, filters)
        return self._map.returned(rows, scores) if rows is not None else {}

    def _dense_rows(
        self, vector: np.ndarray, k: int, filters: Filters
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The rows and cosines of ``dense`` (rows None when no segment has chunks)."""
        scores, rows = [], []
        for i, segment in enumerate(self._gen.segments):
            if not segment.chunk_count:
                continue
            first = int(self._gen.first[i])
            found_scores, found = segment.vectors.search(vector, k + self._dead[i])
            keep = found[0] >= 0
            glob = found[0][keep] + first
            if self._dead[i]:
                alive = self._live[glob]
                scores.append(found_scores[0][keep][alive])
                rows.append(glob[alive])
            else:
                scores.append(found_scores[0][keep])
                rows.append(glob)
        if not rows:
            return None, np.zeros(0, dtype=np.float32)
        all_scores, all_rows = np.concatenate(scores), np.concatenate(rows)
        top = np.lexsort((all_rows, -all_scores))[:k]
        all_scores, all_rows = all_scores[top], all_rows[top]
        if filters != _NONE:
            keep = self._filters.allowed(filters)[all_rows]
            all_scores, all_rows = all_scores[keep], all_rows[keep]
        return all_rows, all_scores

    def lexical(self, terms: Sequence[str], k: int, filters: Filters) -> dict[str, float]:
        if not self._catalog.chunks:
            return {}
        rows = self._lexical_rows(terms, k, filters)
        return self._map.returned(rows, self._scores(terms)[rows])

    def _lexical_rows(self, terms: Sequence[str], k: int, filters: Filters) -> np.ndarray:
        """The rows of ``lexical`` (none in an index without chunks)."""
        if not self._catalog.chunks:
            return np.zeros(0, dtype=np.int64)
        scores = self._scores(terms)
        searchable = self._filters.searchable(filters)
        # every row searchable: the scores as they are (the same values np.where would copy)
        return top(scores if searchable is None else np.where(searchable, scores, -1.0), k)

    def candidates(
        self,
        terms: Sequence[str],
        vector: np.ndarray,
        filters: Filters,
        *,
        lexical_k: int,
        dense_k: int,
        lanes: Sequence[Filters],
        lane_k: int,
        use_lexical: bool,
        use_dense: bool,
    ) -> RowCandidates:
        """The union of the legs (``dense``, ``lexical`` when ``use_lexical``, ``lexical`` per
        lane) as rows, scored as the id-keyed methods would (``qa.search.candidates``)."""
        near, near_scores = self._dense_rows(vector, dense_k, filters)
        pools = [near] if use_dense and near is not None else []
        if use_lexical:
            pools.append(self._lexical_rows(terms, lexical_k, filters))
        pools.extend(self._lexical_rows(terms, lane_k, lane) for lane in lanes)
        rows = np.unique(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)
        articles = self._row_article[rows]
        return RowCandidates(
            rows,
            self._scores(terms)[rows].astype(np.float32) if len(rows) else _NO_SCORES,
            known_cosines(rows, near, near_scores, lambda rest: self.cosines_at(vector, rest)),
            self._article_source[articles],
            self._article_date[articles],
            self.sentence_scores_at,
            self._chunks_at,
            self._map.ids,
        )

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[str]) -> np.ndarray:
        return self._scores(terms)[self._rows(ids)]

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        return self.cosines_at(vector, self._rows(ids))

    def cosines_at(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``cosines`` of global rows (float32), computed as the dense search's are."""
        return self._per_segment(
            rows, lambda seg, local: seg.vectors.scores_of(local, vector)
        ).astype(np.float32)

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        return self._lexical.idf(list(terms))

    def best_sentence_scores(self, ids: Sequence[str], weights: dict[str, float]) -> np.ndarray:
        return self.sentence_scores_at(self._rows(ids), weights)

    def sentence_scores_at(self, rows: np.ndarray, weights: dict[str, float]) -> np.ndarray:
        """``best_sentence_scores`` of global rows (float32)."""
        return self._per_segment(
            rows, lambda seg, local: seg.sentences.best_sentence_scores(local, weights)
        ).astype(np.float32)

    def _per_segment(self, rows: np.ndarray, score) -> np.ndarray:
        """``score(segment, local rows)`` of each segment's share of ``rows``, in order."""
        out = np.zeros(len(rows), dtype=np.float64)
        if not len(rows):
            return out
        if len(self._gen.segments) == 1:
            out[:] = score(self._gen.segments[0], rows)
            return out
        seg = self._gen.locate(rows)
        for i in np.unique(seg).tolist():
            at = np.flatnonzero(seg == i)
            out[at] = score(self._gen.segments[i], rows[at] - self._gen.first[i])
        return out

    def order(self, ids: Sequence[str]) -> list[str]:
        return self._map.order(ids)

    def refs(self, ids: Sequence[str]) -> ChunkRefs:
        articles = self._row_article[self._rows(ids)]
        return ChunkRefs(
            self._article_id_array[articles],
            self._article_source[articles],
            self._article_date[articles],
        )

    # -- reading ---------------------------------------------------------------------------------

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        return self._chunks_at(self._map.live_rows(ids))

    def _chunks_at(self, rows: list[int]) -> list[StoredChunk]:
        """The chunks at global ``rows``, in that order (rows no longer stored left out)."""
        if len(self._gen.segments) != 1:
            return self._gen.chunks_at(rows)
        # one segment: the chunk texts from SQLite, their article's metadata from the rows read
        # when the index was opened (fewer columns to fetch and convert)
        found = self._gen.segments[0].chunk_texts_at(rows)
        owners = self._row_article[rows].tolist() if rows else []
        out = []
        for row, owner in zip(rows, owners):
            text = found.get(row)
            if text is not None:
                a = self._articles[owner]
                out.append(
                    StoredChunk(*text, a["title"], a["source"], a["published"], a["url"], a["path"])
                )
        return out

    def article(self, article_id: str) -> Article | None:
        home = self._home.get(article_id)
        return None if home is None else self._gen.segments[home[0]].article(article_id)

    def catalog(self) -> Catalog:
        return self._catalog

    def articles(self, query: ArticleQuery) -> ArticlePage:
        return article_page(self._gen, query)

    def stale(self) -> bool:
        live = current_generation(self.folder)
        return live is not None and live.name != self._gen.name

    def close(self) -> None:
        self._gen.close()

    # -- rows ------------------------------------------------------------------------------------

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        return self._map.rows(ids)

    def _scores(self, terms: Sequence[str]) -> np.ndarray:
        tokens = list(terms)
        return self._bm25.get(tuple(tokens), lambda: self._lexical.scores_of(tokens))
