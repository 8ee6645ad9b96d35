"""Loading articles from a folder or file: .txt, .md, .html/.htm, .json and .jsonl.

Bad input never stops a load: each unreadable file (or JSON line) becomes a ``Skipped`` entry that
names the file, the line and the reason, and loading continues with the next one.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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
class Lines:
    """Per article of a .jsonl stamp, in file order: the blake2b-128 digest of its line, its
    line number and whether its id came from the record (lists, not a dict per line: a
    200,000-line file's lines load and compare in a fraction of a second)."""

    digests: list[bytes] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    own: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.digests)

    def __add__(self, other: Lines) -> Lines:
        return Lines(
            self.digests + other.digests, self.numbers + other.numbers, self.own + other.own
        )


@dataclass(frozen=True)
class FileStamp:
    """What the last build saw of one file: its stat, content hash and what it held.

    ``articles`` are (id, text sha256) in file order; for a .jsonl file ``lines`` tells, per
    article (aligned with ``articles``), the digest of its line, its line number and whether
    the id came from the record itself, so a changed file re-parses only its changed lines.
    """

    size: int
    mtime_ns: int
    sha256: str
    articles: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, int | None], ...] = ()
    lines: Lines | None = None  # .jsonl only; None when not loaded (the stat was unchanged)
    line_count: int = 0  # .jsonl: lines read (blank ones too), to number appended lines
    appended: bool = False  # only the lines appended since the last stamp were read
    racy: bool = False  # modified right before the load: its stat alone is not believed


@dataclass(frozen=True)
class LoadResult:
    """Articles that loaded, and inputs that did not (with reasons).

    ``reused`` are (id, text sha256) of articles of files (or .jsonl lines) unchanged since the
    stamps given to ``load_corpus``: not read, cleaned or hashed again; ``stamps`` are the new
    stamps of every file, to give to the next load.
    """

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    reused: tuple[tuple[str, str], ...] = ()
    stamps: dict[str, FileStamp] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. "old.txt: decoded as windows-1252"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_corpus(
    path: str | Path,
    *,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    stamps: dict[str, FileStamp] | None = None,
) -> LoadResult:
    """Load every supported article under ``path`` (a folder, recursively, or one file).

    Args:
        path: Folder or file.
        max_file_mb: Size limit for one article file; .json/.jsonl collections may be 10x larger.
        stamps: What the last load saw of each file (``LoadResult.stamps``): a file whose size
            and modification time match is not read at all, one whose content hash matches is
            not parsed, and a changed .jsonl file parses only its changed lines. Their
            articles come back in ``reused``, for the caller to check against its index.

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
    reused: list[tuple[str, str]] = []
    new_stamps: dict[str, FileStamp] = {}
    notes: list[str] = []
    seen: dict[str, str] = {}
    started = time.time_ns()
    for file in files:
        rel = _display_path(file.relative_to(base).as_posix())
        reader = _Stamped(file, rel, (stamps or {}).get(rel), started)
        for item in reader.items(max_file_mb):
            if isinstance(item, str):  # a note: decoded from a legacy encoding
                notes.append(f"{rel}: {item}")
                continue
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            if isinstance(item, _Reused):  # a run of stamped articles: checked at once
                ids = dict.fromkeys([aid for aid, _ in item.pairs], rel)
                if len(ids) == len(item.pairs) and seen.keys().isdisjoint(ids):
                    seen.update(ids)
                    reused.extend(item.pairs)
                    continue
                for aid, sha in item.pairs:
                    if aid in seen:
                        skipped.append(
                            Skipped(rel, f"duplicate article id {aid!r} (first in {seen[aid]})")
                        )
                        continue
                    seen[aid] = rel
                    reused.append((aid, sha))
                continue
            aid, sha = (item.id, item.sha256) if isinstance(item, Article) else item
            if aid in seen:
                skipped.append(Skipped(rel, f"duplicate article id {aid!r} (first in {seen[aid]})"))
                continue
            seen[aid] = rel
            (articles.append(item) if isinstance(item, Article) else reused.append(item))
        if reader.stamp is not None:
            new_stamps[rel] = reader.stamp
    return LoadResult(tuple(articles), tuple(skipped), tuple(reused), new_stamps, tuple(notes))


_BLOCK_BYTES = 4 << 20  # a .jsonl file is read this much at a time
_RACY_NS = 2_000_000_000  # a file modified this close to the load may change again unseen


class _Stamped:
    """One file's items, skipping the work its stamp says was done; makes its new stamp."""

    def __init__(self, file: Path, rel: str, old: FileStamp | None, started: int) -> None:
        self.file, self.rel, self.old, self.started = file, rel, old, started
        self.stamp: FileStamp | None = None

    def items(self, max_file_mb: float) -> Iterator[Article | Skipped | tuple[str, str]]:
        old = self.old
        try:
            info = self.file.stat()
        except OSError:
            info = None
        n: list[int] = []  # the number of lines a .jsonl file has
        running = hashlib.sha256()  # a .jsonl file's sha256, taken while its lines are read
        if info is None or not stat.S_ISREG(info.st_mode) or old is None:
            items = _load_file(self.file, self.rel, max_file_mb, None, n, running)
            yield from self._fresh(items, info, counted=n, digest=running)
            return
        if not old.racy and (info.st_size, info.st_mtime_ns) == (old.size, old.mtime_ns):
            yield from self._again(old, info)  # not even opened
            return
        if self.file.suffix.lower() == ".jsonl":
            head = _appended(self.file, old, info)
            if head is not None:  # lines were only appended: parse just those
                yield from self._tail(old, info, head, max_file_mb)
                return
            # only its new or changed lines are parsed
            items = _load_file(self.file, self.rel, max_file_mb, old, n, running)
            yield from self._fresh(items, info, counted=n, digest=running)
            return
        try:
            digest = hashlib.sha256(self.file.read_bytes()).hexdigest()
        except OSError:
            digest = ""
        if digest == old.sha256:  # touched, not changed: not parsed or cleaned again
            yield from self._again(old, info)
            return
        yield from self._fresh(_load_file(self.file, self.rel, max_file_mb), info)

    def _again(self, old: FileStamp, info: os.stat_result) -> Iterator[Skipped | _Reused]:
        yield from (Skipped(self.rel, reason, line) for reason, line in old.skipped)
        yield _Reused(old.articles)
        same = not old.racy and (info.st_size, info.st_mtime_ns) == (old.size, old.mtime_ns)
        # the same stamp object: its store keeps the saved row (and its lines) as they are
        self.stamp = (
            old if same else self._stamped(info, old.sha256, old.articles, old.skipped, old.lines)
        )

    def _tail(self, old: FileStamp, info: os.stat_result, head: Any, max_file_mb: float):
        """The articles of an appended .jsonl: the old ones as stamped, the tail parsed."""
        yield from (Skipped(self.rel, reason, line) for reason, line in old.skipped)
        yield _Reused(old.articles)
        counted: list[int] = []
        tail = _load_jsonl(
            self.file,
            self.rel,
            max_file_mb,
            None,
            offset=old.size,
            first_line=old.line_count + 1,
            counted=counted,
            running=head,
        )
        yield from self._fresh(tail, info, digest=head, before=old, counted=counted)

    def _fresh(
        self,
        items: Iterator,
        info: os.stat_result | None,
        *,
        digest: Any = None,
        before: FileStamp | None = None,
        counted: list[int] | None = None,
    ) -> Iterator:
        """Pass the items on, then stamp the file (``digest``: the sha256 the .jsonl reader
        took of the lines it read, after the head read before when ``before`` is its stamp)."""
        counted = counted if counted is not None else []
        found: list[tuple[str, str]] = []
        bad: list[tuple[str, int | None]] = []
        lines = Lines()
        for item in items:
            if isinstance(item, str):  # a note, not an article
                yield item
                continue
            if isinstance(item, _Run):  # stamped lines, unchanged
                found.extend(item.pairs)
                lines.digests.extend(item.lines.digests)
                lines.numbers.extend(item.lines.numbers)
                lines.own.extend(item.lines.own)
                yield _Reused(item.pairs)
                continue
            if isinstance(item, _Line):
                lines.digests.append(item.digest)
                lines.numbers.append(item.lineno)
                lines.own.append(item.own_id)
                item = item.loaded
            if isinstance(item, Skipped):
                bad.append((item.reason, item.line))
            else:
                found.append((item.id, item.sha256))
            yield item
        if info is None or not stat.S_ISREG(info.st_mode):
            return
        try:
            # the reader read every line (it counts them at its end): its hash is the file's
            sha = digest.hexdigest() if digest is not None and counted else None
            if sha is None:
                sha = file_sha256_of(self.file)
        except OSError:
            return
        jsonl = self.file.suffix.lower() == ".jsonl"
        if before is not None:
            whole = before.lines + lines if before.lines is not None else None
            stamp = self._stamped(
                info, sha, before.articles + tuple(found), before.skipped + tuple(bad), whole
            )
            self.stamp = dataclasses.replace(
                stamp, appended=True, line_count=counted[-1] if counted else before.line_count
            )
        else:
            stamp = self._stamped(info, sha, tuple(found), tuple(bad), lines if jsonl else None)
            self.stamp = dataclasses.replace(stamp, line_count=counted[-1] if counted else 0)

    def _stamped(self, info, digest, articles, skipped, lines) -> FileStamp:
        racy = info.st_mtime_ns >= self.started - _RACY_NS
        return FileStamp(
            size=info.st_size,
            racy=racy,  # the next load reads it again (content hashes still save the parsing)
            mtime_ns=info.st_mtime_ns,
            sha256=digest,
            articles=tuple(articles),
            skipped=tuple(skipped),
            lines=lines,
        )


def _appended(file: Path, old: FileStamp, info: os.stat_result) -> Any:
    """When ``file`` is its stamped content plus whole lines after it: the running sha256 of
    that head (to continue with the tail), else None."""
    if not old.line_count or info.st_size <= old.size or old.size <= 0:
        return None
    h = hashlib.sha256()
    try:
        with file.open("rb") as fh:
            left = old.size
            while left:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    return None
                h.update(block)
                left -= len(block)
                last = block[-1:]
    except OSError:
        return None
    if h.hexdigest() != old.sha256 or last != b"\n":
        return None
    return h


def file_sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@dataclass(slots=True)
class _Line:
    """A .jsonl line parsed into an article: its digest, number and whether the id was its own.

    Not frozen: a frozen dataclass's __init__ costs ~1 us more per line."""

    digest: bytes
    lineno: int
    own_id: bool
    loaded: Article


@dataclass(slots=True)
class _Run:
    """Consecutive .jsonl lines found unchanged in the stamp: their articles and lines."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    lines: Lines = field(default_factory=Lines)


@dataclass(slots=True)
class _Reused:
    """(id, text sha256) of stamped articles that were not read again, passed on at once."""

    pairs: Sequence[tuple[str, str]]


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


def _load_file(
    file: Path,
    rel: str,
    max_file_mb: float,
    known: FileStamp | None = None,
    counted: list[int] | None = None,
    running: Any = None,
) -> Iterator[Article | Skipped | _Line | _Run | str]:
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
            yield from _load_jsonl(file, rel, max_file_mb, known, counted=counted, running=running)
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


def _load_jsonl(
    file: Path,
    rel: str,
    max_file_mb: float,
    known: FileStamp | None = None,
    *,
    offset: int = 0,
    first_line: int = 1,
    counted: list[int] | None = None,
    running: Any = None,
) -> Iterator[Article | Skipped | _Line | _Run | str]:
    """Articles of a JSON Lines file, each as a ``_Line``; with ``known`` (the last stamp, its
    ``lines`` loaded), runs of lines found there come back as ``_Run`` entries without being
    parsed (a line is found by its digest, and by its number when its id is not its own).

    ``offset``/``first_line`` read only a tail (lines appended after byte ``offset``);
    ``counted`` receives the number of the last line read, ``running`` (a hash) every byte.
    """
    lines = known.lines if known is not None else None
    where: dict[bytes, int] = {}
    if lines is not None and len(lines) == len(known.articles):
        where = {d: i for i, d in enumerate(lines.digests)}
    pairs = known.articles if known is not None else ()
    numbers, owns = (lines.numbers, lines.own) if where else ((), ())
    update = running.update if running is not None else None
    blake = hashlib.blake2b
    run = _Run()
    records = 0
    noted = False
    lineno = first_line - 1
    with file.open("rb") as fh:
        fh.seek(offset)
        while block := fh.readlines(_BLOCK_BYTES):  # whole lines, a few MB at a time
            if update is not None:
                update(b"".join(block))
            digests = [blake(raw.rstrip(b"\r\n"), digest_size=16).digest() for raw in block]
            for raw, digest, i in zip(block, digests, map(where.get, digests)):
                lineno += 1
                if i is not None and (owns[i] or numbers[i] == lineno):
                    records += 1
                    run.pairs.append(pairs[i])
                    run.lines.digests.append(digest)
                    run.lines.numbers.append(lineno)
                    run.lines.own.append(owns[i])
                    continue
                if raw.isspace():
                    continue
                records += 1
                if run.pairs:
                    yield run
                    run = _Run()
                try:
                    if len(raw) > max_file_mb * 1_000_000:
                        raise _Bad(f"line is over the {max_file_mb:g} MB limit for one article")
                    text, encoding = _decode(raw)
                    if encoding and not noted:
                        noted = True
                        yield f"decoded as {encoding} (line {lineno} first)"
                    record = json.loads(text)
                    default_id = f"{_article_id(rel)}#{lineno}"
                    article = _from_record(record, rel, default_id, max_file_mb)
                    own = isinstance(record, dict) and record.get("id") not in (None, "")
                    yield _Line(digest, lineno, own, article)
                except json.JSONDecodeError as exc:
                    yield Skipped(rel, f"malformed JSON: {exc.msg} (column {exc.colno})", lineno)
                except (ValueError, RecursionError) as exc:  # nesting too deep, a long number
                    yield Skipped(rel, f"unreadable JSON: {str(exc)[:120]}", lineno)
                except _Bad as exc:
                    yield Skipped(rel, str(exc), lineno)
    if run.pairs:
        yield run
    if counted is not None:
        counted.append(lineno)
    if not records and not offset:
        yield Skipped(rel, "no articles: the JSON Lines file is empty or blank")
