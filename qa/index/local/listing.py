"""The archive listing of a local generation: one page of articles and its counts, in SQL."""

from __future__ import annotations

from qa.index.base import ArticleQuery
from qa.index.local.generation import Generation
from qa.records import ArticlePage, ArticleSummary
from qa.text.sentences import lead_sentence

# the archive listing's ORDER BY per sort (missing values last either way; ties by id)
_ORDER = {
    "published": "substr(a.published, 1, 10)",
    "title": "lower(a.title)",
    "source": "lower(a.source)",
    "passages": "coalesce(n.passages, 0)",
    "id": "a.id",
}


def article_page(gen: Generation, query: ArticleQuery) -> ArticlePage:
    """One page of the archive listing of ``gen``, with its counts per month and outlet."""
    where, args = _article_where(query)
    counted = gen.select(
        "SELECT count(*), sum(a.published IS NULL OR a.published = '') "
        f"FROM articles a WHERE {where}",
        args,
    )[0]
    months = gen.select(
        f"SELECT substr(a.published, 1, 7) AS m, count(*) FROM articles a WHERE {where} "
        "AND a.published IS NOT NULL AND a.published != '' GROUP BY m ORDER BY m",
        args,
    )
    sources = gen.select(
        f"SELECT coalesce(a.source, '') AS s, count(*) AS n FROM articles a WHERE {where} "
        "GROUP BY s ORDER BY n DESC, s",
        args,
    )
    order = _ORDER[query.sort]
    direction = "DESC" if query.descending else "ASC"
    counts = (
        "LEFT JOIN (SELECT article_id, count(*) AS passages FROM chunks GROUP BY article_id) "
        "n ON n.article_id = a.id "
        if query.sort == "passages"
        else ""
    )
    # the page's ids first (only the sort key is read for the rows skipped), then its rows
    ids = gen.select(
        f"SELECT a.id FROM articles a {counts}WHERE {where} "
        f"ORDER BY ({order}) IS NULL OR ({order}) = '', ({order}) {direction}, a.id "
        "LIMIT ? OFFSET ?",
        (*args, query.limit, query.offset),
    )
    found = {
        row[0]: row
        for row in gen.select(
            "SELECT a.id, a.title, a.source, a.published, a.path, "
            "(SELECT count(*) FROM chunks c WHERE c.article_id = a.id), "
            "a.text "  # an untitled article's first characters, where its lead is
            f"FROM articles a WHERE a.id IN ({','.join('?' * len(ids))})",
            tuple(i for (i,) in ids),
        )
    }
    page = [found[i] for (i,) in ids if i in found]
    return ArticlePage(
        rows=tuple(
            ArticleSummary(*row[:6], lead=lead_sentence(row[6]) if not row[1] else "")
            for row in page
        ),
        total=int(counted[0]),
        offset=query.offset,
        by_month=tuple((m, int(n)) for m, n in months),
        by_source=tuple((s, int(n)) for s, n in sources),
        undated=int(counted[1] or 0),
    )


def _article_where(query: ArticleQuery) -> tuple[str, tuple[object, ...]]:
    """The SQL condition on ``articles a`` for a listing query, and its arguments."""
    clauses, args = ["1"], []
    if query.needle:
        clauses.append("(instr(lower(coalesce(a.title, '')), ?) OR instr(lower(a.path), ?))")
        args += [query.needle, query.needle]
    f = query.filters
    if f.sources:
        clauses.append(f"lower(a.source) IN ({','.join('?' * len(f.sources))})")
        args += [s.lower() for s in f.sources]
    if f.since:
        clauses.append("substr(a.published, 1, 10) >= ?")
        args.append(f.since)
    if f.until:
        clauses.append("a.published != '' AND substr(a.published, 1, 10) <= ?")
        args.append(f.until)
    return " AND ".join(clauses), tuple(args)
