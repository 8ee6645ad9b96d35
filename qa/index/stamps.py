"""What the last build saw of each corpus file (size, mtime, hashes, articles), kept beside the
embedding cache so that the next build does not read unchanged files at all.

The stamps are a hint, never the truth: the build checks every article they vouch for against
the live index (same id, same text hash) and reads the whole corpus when one disagrees. They are
keyed by the corpus folder's absolute path, the file size limit and the package version.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from qa import __version__
from qa.ingest.corpus import FileStamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stamps (
    corpus TEXT NOT NULL, rel TEXT NOT NULL, stamp TEXT NOT NULL, PRIMARY KEY (corpus, rel)
);
"""


class FileStamps:
    """The stamps of one corpus (a folder or file) as loaded by one version with one limit."""

    def __init__(self, path: Path, corpus: str | Path, max_file_mb: float) -> None:
        self.path = Path(path)
        self.key = f"{Path(corpus).resolve()}|{max_file_mb:g}|{__version__}"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        db.executescript(_SCHEMA)
        return db

    def load(self) -> dict[str, FileStamp]:
        """The saved stamps ({} when none or unreadable: the build then reads every file)."""
        try:
            db = self._connect()
            try:
                rows = db.execute("SELECT rel, stamp FROM stamps WHERE corpus=?", (self.key,))
                return {rel: _stamp(json.loads(text)) for rel, text in rows.fetchall()}
            finally:
                db.close()
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            return {}

    def save(self, stamps: dict[str, FileStamp]) -> None:
        """Replace the saved stamps (a failure only costs the next build a full read)."""
        try:
            db = self._connect()
            try:
                with db:
                    db.execute("DELETE FROM stamps WHERE corpus=?", (self.key,))
                    db.executemany(
                        "INSERT INTO stamps VALUES (?, ?, ?)",
                        [(self.key, rel, json.dumps(_row(s))) for rel, s in stamps.items()],
                    )
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return


def _row(s: FileStamp) -> dict:
    return {
        "size": s.size,
        "mtime_ns": s.mtime_ns,
        "sha256": s.sha256,
        "articles": s.articles,
        "skipped": s.skipped,
        "lines": s.lines,
    }


def _stamp(d: dict) -> FileStamp:
    return FileStamp(
        size=int(d["size"]),
        mtime_ns=int(d["mtime_ns"]),
        sha256=str(d["sha256"]),
        articles=tuple((str(a), str(b)) for a, b in d["articles"]),
        skipped=tuple((str(r), None if n is None else int(n)) for r, n in d["skipped"]),
        lines={k: (str(v[0]), str(v[1]), int(v[2]), bool(v[3])) for k, v in d["lines"].items()},
    )
