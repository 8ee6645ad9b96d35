"""Loading articles from a folder or file: .txt, .md, .html/.htm, .json and .jsonl.

Bad input never stops a load: each unreadable file (or JSON line) becomes a ``Skipped`` entry that
names the file, the line and the reason, and loading continues with the next one.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import CorpusNotFoundError
from qa.ingest.metadata import guess_published, guess_source, guess_title, split_front_matter
from qa.records import Article, Skipped
from qa.text.cleaning import clean_text, normalize_whitespace
from qa.text.dates import parse_date

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json", ".jsonl")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES
DEFAULT_MAX_FILE_MB = 20.0
_JSON_FIELDS = {
    "title": ("title", "headline"),
    "source": ("source", "outlet", "publisher", "site_name", "sitename"),
    "published": ("published_at", "published", "date", "pubdate"),
    "url": ("url", "link"),
    "author": ("author", "authors", "byline"),
}
_BODY_FIELDS = ("body", "text", "content")


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I
)
# What Western newsroom files that are not UTF-8 nearly always are: chosen when it reads as
# cleanly as the detector's best guess (which for short French or English text is often a
# Central European code page that turns é into another letter; Latin-1 text reads the same).
_WESTERN = "cp1252"
# A valid multi-byte UTF-8 sequence: in a legacy file (é is one byte, then a letter) these
# almost never occur, so a file holding them is broken UTF-8 and is not decoded by a guess.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_FIT = 0.01  # detector scores (chaos, coherence) this close count as an equally good fit:
# on the stress catalog's cp1252 texts, cp1252 is 0.001 above the best chaos


class _Bad(Exception):
    """One input that cannot become an article; the message is the reason shown to the user."""


@dataclass(frozen=True)
class LoadResult:
    """Articles that loaded, and inputs that did not (with reasons)."""

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = ()  # e.g. "old.txt: decoded as windows-1252"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_corpus(path: str | Path, *, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> LoadResult:
    """Load every supported article under ``path`` (a folder, recursively, or one file).

    Args:
        path: Folder or file.
        max_file_mb: Size limit for one article file; .json/.jsonl collections may be 10x larger.

    Returns:
        The articles in a stable order (by path, then position) and the skipped inputs.

    Raises:
        CorpusNotFoundError: ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise CorpusNotFoundError(f"corpus not found: {root} (give a folder or an article file)")
    files = [root] if root.is_file() else _walk(root)
    base = root.parent if root.is_file() else root
    articles: list[Article] = []
    skipped: list[Skipped] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for file in files:
        rel = _display_path(file.relative_to(base).as_posix())
        for item in _load_file(file, rel, max_file_mb):
            if isinstance(item, str):
                notes.append(f"{rel}: {item}")
            elif isinstance(item, Skipped):
                skipped.append(item)
            elif item.id in seen:
                skipped.append(
                    Skipped(rel, f"duplicate article id {item.id!r} (first in {seen[item.id]})")
                )
            else:
                seen[item.id] = rel
                articles.append(item)
    return LoadResult(tuple(articles), tuple(skipped), tuple(notes))


def _display_path(rel: str) -> str:
    """The path as valid text: bytes of a name that is not UTF-8 are shown as ``\\xe9``.

    Python keeps such bytes as lone surrogates, which no UTF-8 writer (SQLite, JSON, hashing)
    accepts; the escaped form is readable and safe to store. (A name that literally holds the
    same escape would give the same article id: it is then skipped as a duplicate, with reason.)
    """
    if not _LONE_SURROGATE.search(rel):
        return rel
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _text(value: str) -> str:
    """``value`` with lone surrogates (from JSON ``\\ud800`` escapes) replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def _walk(root: Path) -> list[Path]:
    """All files under root, sorted, skipping hidden files and folders."""
    out = []
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if not p.is_dir() or p.is_symlink():  # pipes and devices too: they are reported
            out.append(p)
    return out


def _load_file(file: Path, rel: str, max_file_mb: float) -> Iterator[Article | Skipped | str]:
    """The file's articles and skipped parts, and a note (a str) when it was not UTF-8."""
    if file.is_symlink() and file.is_dir():
        yield Skipped(rel, "link to a folder: linked folders are not followed; link the files")
        return
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(
            rel,
            f"unsupported file type {suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
        return
    limit = max_file_mb * (10 if suffix in JSON_SUFFIXES else 1)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise _Bad("not a regular file (a pipe, device or socket); only files are read")
        size = info.st_size
        if size > limit * 1_000_000:
            raise _Bad(
                f"file is {size / 1e6:.1f} MB, over the {limit:g} MB limit; "
                "split it or raise the limit (--max-file-mb)"
            )
        if suffix == ".jsonl":
            yield from _load_jsonl(file, rel, max_file_mb)
            return
        text, encoding = _decode(file.read_bytes(), html=suffix in HTML_SUFFIXES)
        if encoding:
            yield f"decoded as {encoding}"
        if suffix == ".json":
            yield from _load_json(text, rel, max_file_mb)
        elif suffix in HTML_SUFFIXES:
            yield _from_html(text, rel)
        else:
            yield _from_text(text, rel)
    except _Bad as exc:
        yield Skipped(rel, str(exc))
    except OSError as exc:
        yield Skipped(rel, f"cannot read file: {exc.strerror or exc}")


def _decode(data: bytes, *, html: bool = False) -> tuple[str, str | None]:
    """The text of a file, and the legacy encoding it was decoded from (None for UTF-8).

    Not UTF-8: an HTML page's ``<meta charset>`` is followed; otherwise charset-normalizer
    guesses, windows-1252 winning among equally good fits. No fit, or several that read
    differently, is a reason to skip the file.
    """
    if b"\x00" in data[:8192]:
        raise _Bad("binary data (NUL bytes), not a text article")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _Bad("starts with a UTF-16 byte-order mark; re-save the file as UTF-8")
    if _UTF8_SEQUENCE.search(data):  # UTF-8 with a bad byte, not a legacy encoding: no guess
        raise _Bad(f"not valid UTF-8 ({where}); re-save the file as UTF-8")
    declared = _META_CHARSET.search(data[:4096]) if html else None
    if declared:
        name = declared[1].decode("ascii").lower()
        try:
            return data.decode(name), _label(codecs.lookup(name).name)
        except LookupError:
            raise _Bad(f"declares an unknown charset {name!r}; re-save the file as UTF-8") from None
        except UnicodeDecodeError:
            raise _Bad(f"not valid {name} as it declares ({where}); re-save it as UTF-8") from None
    return _guess(data, where)


def _guess(data: bytes, where: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # only for the rare file that is not UTF-8

    matches = list(from_bytes(data))
    if not matches:
        raise _Bad(f"not valid UTF-8 ({where}) and no known encoding fits; re-save it as UTF-8")
    best = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= best + _FIT]  # as little mess as the best
    if _WESTERN in {codecs.lookup(m.encoding).name for m in clean}:
        try:
            return data.decode(_WESTERN), _label(_WESTERN)
        except UnicodeDecodeError:
            return data.decode("latin-1"), _label("latin-1")
    coherent = max(m.coherence for m in clean)
    fits = [m for m in clean if m.coherence >= coherent - _FIT]
    names = [codecs.lookup(m.encoding).name for m in fits]
    texts = {str(m) for m in fits}
    if len(texts) == 1:
        return texts.pop(), _label(names[0])
    shown = ", ".join(_label(n) for n in names[:3])
    raise _Bad(
        f"not valid UTF-8 ({where}) and its encoding is ambiguous (could be {shown}); "
        "re-save it as UTF-8"
    )


def _label(codec: str) -> str:
    """A codec's usual name: "cp1252" -> "windows-1252", "iso8859-1" -> "latin-1"."""
    name = codec.replace("_", "-").lower()
    if name.startswith("cp125"):
        return "windows-" + name[2:]
    return {"iso8859-1": "latin-1", "latin-1": "latin-1"}.get(name, name)


def _article_id(rel: str) -> str:
    return rel.rsplit(".", 1)[0] if "." in Path(rel).name else rel


def _make(article_id: str, raw: str, meta: dict[str, Any], rel: str, *, guess: bool) -> Article:
    """Clean the text and fill metadata: explicit values first, then (if allowed) heuristics."""
    text = clean_text(raw)
    if not text:
        raise _Bad("no article text after cleaning (empty, whitespace or page furniture only)")
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


def _from_text(text: str, rel: str) -> Article:
    fields, body = split_front_matter(text)
    meta = {key: _first(fields, names) for key, names in _JSON_FIELDS.items()}
    if meta["title"] is None and rel.endswith((".md", ".markdown")):
        for line in body.splitlines():
            if line.startswith("# "):
                meta["title"] = line[2:].strip()
                break
    return _make(fields.get("id") or _article_id(rel), body, meta, rel, guess=True)


def _from_html(html: str, rel: str) -> Article:
    import trafilatura  # heavy import, only when an HTML file shows up

    try:
        doc = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True)
    except Exception as exc:  # lxml/trafilatura raise many types on hostile markup
        raise _Bad(f"cannot extract the main text from HTML: {type(exc).__name__}: {exc}") from None
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    body = data.get("text") or ""
    if not body.strip():
        raise _Bad("HTML page has no main text")
    meta = {
        "title": data.get("title"),
        "source": data.get("sitename"),
        "published": data.get("date"),
        "url": data.get("url"),
        "author": data.get("author"),
    }
    return _make(_article_id(rel), body, meta, rel, guess=True)


def _first(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) not in (None, ""):
            return fields[name]
    return None


def _from_record(record: Any, rel: str, default_id: str, max_file_mb: float) -> Article:
    if not isinstance(record, dict):
        raise _Bad(f"expected a JSON object, got {type(record).__name__}")
    body_field = next((f for f in _BODY_FIELDS if f in record), None)
    if body_field is None:
        raise _Bad(f"missing article text: give one of the fields {', '.join(_BODY_FIELDS)}")
    body = record[body_field]
    if not isinstance(body, str):
        raise _Bad(f"field {body_field!r} must be a string, got {type(body).__name__}")
    limit = max_file_mb * 1_000_000
    # Count bytes only when the characters alone might exceed it (up to 4 bytes a character).
    if len(body) * 4 > limit and len(body.encode("utf-8", "surrogatepass")) > limit:
        raise _Bad(
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
            raise _Bad(f"field {key!r} must be a string, got {type(value).__name__}")
        meta[key] = _text(value).strip() if isinstance(value, str) else None
    raw_id = record.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool):
        raise _Bad(f"field 'id' must be a string or integer, got {type(raw_id).__name__}")
    article_id = _text(str(raw_id)).strip() if raw_id not in (None, "") else default_id
    if not article_id:
        raise _Bad("field 'id' is empty")
    return _make(article_id, _text(body), meta, rel, guess=False)


def _load_json(text: str, rel: str, max_file_mb: float) -> Iterator[Article | Skipped]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # nesting too deep, a number too long
        raise _Bad(f"unreadable JSON: {str(exc)[:120]}") from None
    if isinstance(data, dict):
        yield _from_record(data, rel, _article_id(rel), max_file_mb)
        return
    if not isinstance(data, list):
        raise _Bad(f"expected a JSON object or a list of objects, got {type(data).__name__}")
    if not data:
        raise _Bad("no articles: the JSON list is empty")
    for n, record in enumerate(data):
        try:
            yield _from_record(record, rel, f"{_article_id(rel)}#{n}", max_file_mb)
        except _Bad as exc:
            yield Skipped(rel, f"item {n}: {exc}")


def _load_jsonl(file: Path, rel: str, max_file_mb: float) -> Iterator[Article | Skipped]:
    records = 0
    noted = False
    with file.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            records += 1
            try:
                if len(raw) > max_file_mb * 1_000_000:
                    raise _Bad(f"line is over the {max_file_mb:g} MB limit for one article")
                text, encoding = _decode(raw)
                if encoding and not noted:
                    noted = True
                    yield f"decoded as {encoding} (line {lineno} first)"
                record = json.loads(text)
                yield _from_record(record, rel, f"{_article_id(rel)}#{lineno}", max_file_mb)
            except json.JSONDecodeError as exc:
                yield Skipped(rel, f"malformed JSON: {exc.msg} (column {exc.colno})", lineno)
            except (ValueError, RecursionError) as exc:  # nesting too deep, a number too long
                yield Skipped(rel, f"unreadable JSON: {str(exc)[:120]}", lineno)
            except _Bad as exc:
                yield Skipped(rel, str(exc), lineno)
    if not records:
        yield Skipped(rel, "no articles: the JSON Lines file is empty or blank")
