"""What the last build saw of each corpus file (size, mtime, hashes, articles), kept beside the
embedding cache so that the next build does not read unchanged files at all.

The stamps are a hint, never the truth: they record the generation the build that saved them
left live, and a build whose live generation is another one checks every article they vouch
for against the index (same id, same text hash), reading the whole corpus when one disagrees.
They are keyed by the corpus folder's absolute path, the file size limit and the package
version.

One row per file: its small fields as JSON, its articles as two columns (ids as a JSON list,
text hashes concatenated) and, for a .jsonl file, its lines as three packed arrays aligned with
the articles. A 200,000-line file so loads, compares and saves in a fraction of a second, where
a row per line or a JSON pair per article took seconds.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from array import array
from pathlib import Path

from qa import __version__
from qa.ingest.stamp import FileStamp, Lines

_SCHEMA = """
DROP TABLE IF EXISTS stamps_v3;
DROP TABLE IF EXISTS lines_v3;
CREATE TABLE IF NOT EXISTS files_v4 (
    corpus TEXT NOT NULL, rel TEXT NOT NULL, stamp TEXT NOT NULL, ids TEXT NOT NULL,
    shas TEXT NOT NULL, digests BLOB, numbers BLOB, own BLOB, PRIMARY KEY (corpus, rel)
);
CREATE TABLE IF NOT EXISTS builds_v4 (corpus TEXT PRIMARY KEY, generation TEXT NOT NULL);
"""
_SHA = 64  # hex characters of a text sha256
_DIGEST = 16  # bytes of a line's blake2b digest


class FileStamps:
    """The stamps of one corpus (a folder or file) as loaded by one version with one limit."""

    def __init__(self, path: Path, corpus: str | Path, max_file_mb: float) -> None:
        self.path = Path(path)
        self.key = f"{Path(corpus).resolve()}|{max_file_mb:g}|{__version__}"
        self.generation: str | None = None  # what the saving build left live
        self._loaded: dict[str, FileStamp] = {}

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        db.executescript(_SCHEMA)
        return db

    def load(self, root: str | Path) -> dict[str, FileStamp]:
        """The saved stamps ({} when none or unreadable: the build then reads every file).

        The lines of a .jsonl file are decoded only when its stat changed (the only time a
        load uses them): for a large unchanged file they are most of the stamps' bytes.
        """
        base = Path(root)
        base = base.parent if base.is_file() else base
        self._loaded, self.generation = {}, None
        try:
            db = self._connect()
            try:
                rows = db.execute(
                    "SELECT rel, stamp, ids, shas FROM files_v4 WHERE corpus=?", (self.key,)
                ).fetchall()
                for rel, text, ids, shas in rows:
                    stamp = _stamp(json.loads(text), _articles(json.loads(ids), shas))
                    if rel.lower().endswith(".jsonl") and not _same_stat(base / rel, stamp):
                        lines = self._lines(db, rel, len(stamp.articles))
                        stamp = dataclasses.replace(stamp, lines=lines)
                    self._loaded[rel] = stamp
                found = db.execute(
                    "SELECT generation FROM builds_v4 WHERE corpus=?", (self.key,)
                ).fetchone()
                self.generation = found[0] if found else None
            finally:
                db.close()
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            self._loaded, self.generation = {}, None
        return dict(self._loaded)

    def article_ids(self) -> set[str]:
        """Ids of every article the loaded stamps hold."""
        return {aid for stamp in self._loaded.values() for aid, _ in stamp.articles}

    def _lines(self, db: sqlite3.Connection, rel: str, count: int) -> Lines | None:
        """A .jsonl file's lines, or None when missing or not aligned with its articles."""
        row = db.execute(
            "SELECT digests, numbers, own FROM files_v4 WHERE corpus=? AND rel=?",
            (self.key, rel),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        digests, packed, own = row
        numbers = array("q")
        numbers.frombytes(packed)
        if len(digests) != count * _DIGEST or len(numbers) != count or len(own) != count:
            return None
        return Lines(
            [digests[i : i + _DIGEST] for i in range(0, len(digests), _DIGEST)],
            numbers.tolist(),
            [bool(o) for o in own],
        )

    def save(self, stamps: dict[str, FileStamp], generation: str | None = None) -> None:
        """Save the stamps and the generation the build left live: rows of files whose stamp
        is the one loaded stay as they are (a failure only costs the next build a full read)."""
        loaded = self._loaded
        changed = {rel: s for rel, s in stamps.items() if loaded.get(rel) is not s}
        gone = [rel for rel in loaded if rel not in stamps]
        if not changed and not gone and generation == self.generation:
            return
        try:
            db = self._connect()
            try:
                with db:
                    db.executemany(
                        "DELETE FROM files_v4 WHERE corpus=? AND rel=?",
                        [(self.key, rel) for rel in gone],
                    )
                    for rel, stamp in changed.items():
                        db.execute(
                            "INSERT OR REPLACE INTO files_v4 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (self.key, rel, *_row(stamp)),
                        )
                    if generation is None:
                        db.execute("DELETE FROM builds_v4 WHERE corpus=?", (self.key,))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO builds_v4 VALUES (?, ?)", (self.key, generation)
                        )
            finally:
                db.close()
        except (sqlite3.Error, OSError, ValueError):
            return


def _same_stat(path: Path, stamp: FileStamp) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return not stamp.racy and (info.st_size, info.st_mtime_ns) == (stamp.size, stamp.mtime_ns)


def _articles(ids: list, shas: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(ids, list) or len(shas) != _SHA * len(ids):
        raise ValueError("the stamp's ids and text hashes differ in number")
    return tuple(zip(ids, [shas[i : i + _SHA] for i in range(0, len(shas), _SHA)]))


def _row(s: FileStamp) -> tuple:
    """(stamp, ids, shas, digests, numbers, own) of a file's row."""
    small = {
        "size": s.size,
        "mtime_ns": s.mtime_ns,
        "sha256": s.sha256,
        "skipped": s.skipped,
        "line_count": s.line_count,
        "racy": s.racy,
    }
    shas = "".join(sha for _, sha in s.articles)
    if len(shas) != _SHA * len(s.articles):
        raise ValueError("a text hash that is not a sha256")
    ids = json.dumps([i for i, _ in s.articles])
    lines = s.lines
    if lines is None or len(lines) != len(s.articles):
        return json.dumps(small), ids, shas, None, None, None
    packed = array("q", lines.numbers).tobytes()
    return json.dumps(small), ids, shas, b"".join(lines.digests), packed, bytes(lines.own)


def _stamp(d: dict, articles: tuple[tuple[str, str], ...]) -> FileStamp:
    return FileStamp(
        size=int(d["size"]),
        mtime_ns=int(d["mtime_ns"]),
        sha256=str(d["sha256"]),
        articles=articles,
        skipped=tuple((str(r), None if n is None else int(n)) for r, n in d["skipped"]),
        line_count=int(d.get("line_count", 0)),
        racy=bool(d.get("racy", False)),
    )
