"""Reading and writing rows of the Milvus collections: filter expressions, paging, batching."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from qa.index.base import Filters

BATCH = 1_000  # rows per request: well under Milvus's 16,384 limit on limit and on `in` lists


def day_of(published: str | None) -> int:
    """An ISO date as YYYYMMDD, 0 when undated (what the ``day`` fields hold)."""
    day = (published or "")[:10]
    return int(day.replace("-", "")) if len(day) == 10 else 0


def in_list(field: str, values: Sequence[str]) -> str:
    """``field in [...]`` with each value quoted as a JSON string (Milvus parses the escapes)."""
    return f"{field} in [{', '.join(json.dumps(v) for v in values)}]"


def filter_expression(filters: Filters) -> str:
    """``filters`` as a Milvus boolean expression on the chunks collection ("" for none).

    Outlets match case-insensitively through ``outlet_key``; a date bound leaves out undated
    chunks (day 0).
    """
    parts = []
    if filters.sources:
        parts.append(in_list("outlet_key", sorted({s.casefold() for s in filters.sources})))
    if filters.since or filters.until:
        parts.append("day > 0")
    if filters.since:
        parts.append(f"day >= {day_of(filters.since)}")
    if filters.until:
        parts.append(f"day <= {day_of(filters.until)}")
    return " and ".join(parts)


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def by_ids(client: Any, collection: str, ids: Sequence[str], fields: list[str]) -> list[dict]:
    """The rows with these primary keys (missing ones left out, in no particular order)."""
    out: list[dict] = []
    for part in batches(list(dict.fromkeys(ids))):
        out.extend(client.query(collection, ids=list(part), output_fields=fields))
    return out


def every(client: Any, collection: str, fields: list[str], expression: str = "") -> list[dict]:
    """Every row (of those matching ``expression``), read in pages."""
    pages = client.query_iterator(
        collection, batch_size=BATCH, filter=expression, output_fields=fields
    )
    out: list[dict] = []
    try:
        while page := pages.next():
            out.extend(page)
    finally:
        pages.close()
    return out


def delete(client: Any, collection: str, ids: Sequence[str]) -> None:
    for part in batches(list(ids)):
        client.delete(collection, ids=list(part))


def upsert(client: Any, collection: str, rows: Sequence[dict], size: int = BATCH) -> None:
    for part in batches(list(rows), size):
        client.upsert(collection, list(part))
