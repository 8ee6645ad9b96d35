"""One article from a file's text: plain text or Markdown with front matter, HTML, JSON records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.ingest.decoding import Unreadable, without_surrogates
from qa.ingest.metadata import guess_published, guess_source, guess_title, split_front_matter
from qa.records import Article, Skipped
from qa.text.cleaning import clean_text, normalize_whitespace
from qa.text.dates import parse_date

_JSON_FIELDS = {
    "title": ("title", "headline"),
    "source": ("source", "outlet", "publisher", "site_name", "sitename"),
    "published": ("published_at", "published", "date", "pubdate"),
    "url": ("url", "link"),
    "author": ("author", "authors", "byline"),
}


_BODY_FIELDS = ("body", "text", "content")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_id_of(rel: str) -> str:
    return rel.rsplit(".", 1)[0] if "." in Path(rel).name else rel


def _make(article_id: str, raw: str, meta: dict[str, Any], rel: str, *, guess: bool) -> Article:
    """Clean the text and fill metadata: explicit values first, then (if allowed) heuristics."""
    text = clean_text(raw)
    if not text:
        raise Unreadable(
            "no article text after cleaning (empty, whitespace or page furniture only)"
        )
    title, source, url, author = (meta.get(k) for k in ("title", "source", "url", "author"))
    published = parse_date(meta.get("published"))
    date_text = None
    if guess:
        head = normalize_whitespace(raw)
        title = title or guess_title(head)
        source = source or guess_source(head)
        if published is None:
            published, date_text = guess_published(head)
    return Article(
        id=article_id,
        text=text,
        title=title or None,
        source=source or None,
        published=published,
        url=url or None,
        author=author or None,
        path=rel,
        date_text=date_text,
        sha256=text_sha256(text),
    )


def from_text(text: str, rel: str) -> Article:
    fields, body = split_front_matter(text)
    meta = {key: _first(fields, names) for key, names in _JSON_FIELDS.items()}
    if meta["title"] is None and rel.endswith((".md", ".markdown")):
        for line in body.splitlines():
            if line.startswith("# "):
                meta["title"] = line[2:].strip()
                break
    return _make(fields.get("id") or article_id_of(rel), body, meta, rel, guess=True)


def from_html(html: str, rel: str) -> Article:
    import trafilatura  # heavy import, only when an HTML file shows up

    try:
        doc = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True)
    except Exception as exc:  # lxml/trafilatura raise many types on hostile markup
        raise Unreadable(
            f"cannot extract the main text from HTML: {type(exc).__name__}: {exc}"
        ) from None
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    body = data.get("text") or ""
    if not body.strip():
        raise Unreadable("HTML page has no main text")
    meta = {
        "title": data.get("title"),
        "source": data.get("sitename"),
        "published": data.get("date"),
        "url": data.get("url"),
        "author": data.get("author"),
    }
    return _make(article_id_of(rel), body, meta, rel, guess=True)


def _first(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) not in (None, ""):
            return fields[name]
    return None


def from_record(record: Any, rel: str, default_id: str, max_file_mb: float) -> Article:
    if not isinstance(record, dict):
        raise Unreadable(f"expected a JSON object, got {type(record).__name__}")
    body_field = next((f for f in _BODY_FIELDS if f in record), None)
    if body_field is None:
        raise Unreadable(f"missing article text: give one of the fields {', '.join(_BODY_FIELDS)}")
    body = record[body_field]
    if not isinstance(body, str):
        raise Unreadable(f"field {body_field!r} must be a string, got {type(body).__name__}")
    limit = max_file_mb * 1_000_000
    # Count bytes only when the characters alone might exceed it (up to 4 bytes a character).
    if len(body) * 4 > limit and len(body.encode("utf-8", "surrogatepass")) > limit:
        raise Unreadable(
            f"article text is {len(body.encode('utf-8', 'surrogatepass')) / 1e6:.1f} MB, over "
            f"the {max_file_mb:g} MB limit for one article; split it or raise the limit "
            "(--max-file-mb)"
        )
    meta: dict[str, Any] = {}
    for key, names in _JSON_FIELDS.items():
        value = _first(record, names)
        if key == "author" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)
        if value is not None and not isinstance(value, str):
            raise Unreadable(f"field {key!r} must be a string, got {type(value).__name__}")
        meta[key] = without_surrogates(value).strip() if isinstance(value, str) else None
    raw_id = record.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool):
        raise Unreadable(f"field 'id' must be a string or integer, got {type(raw_id).__name__}")
    article_id = without_surrogates(str(raw_id)).strip() if raw_id not in (None, "") else default_id
    if not article_id:
        raise Unreadable("field 'id' is empty")
    return _make(article_id, without_surrogates(body), meta, rel, guess=False)


def load_json(text: str, rel: str, max_file_mb: float) -> Iterator[Article | Skipped]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:  # nesting too deep, a number too long
        raise Unreadable(f"unreadable JSON: {str(exc)[:120]}") from None
    if isinstance(data, dict):
        yield from_record(data, rel, article_id_of(rel), max_file_mb)
        return
    if not isinstance(data, list):
        raise Unreadable(f"expected a JSON object or a list of objects, got {type(data).__name__}")
    if not data:
        raise Unreadable("no articles: the JSON list is empty")
    for n, record in enumerate(data):
        try:
            yield from_record(record, rel, f"{article_id_of(rel)}#{n}", max_file_mb)
        except Unreadable as exc:
            yield Skipped(rel, f"item {n}: {exc}")
