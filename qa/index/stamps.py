"""What the last build saw of each corpus file (size, mtime, hashes, articles), kept beside the
embedding cache so that the next build does not read unchanged files at all.

The stamps are a hint, never the truth: the build checks every article they vouch for against
the live index (same id, same text hash) and reads the whole corpus when one disagrees. They are
keyed by the corpus folder's absolute path, the file size limit and the package version.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from qa import __version__
from qa.ingest.corpus import FileStamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stamps_v3 (
    corpus TEXT NOT NULL, rel TEXT NOT NULL, stamp TEXT NOT NULL, PRIMARY KEY (corpus, rel)
);
CREATE TABLE IF NOT EXISTS lines_v3 (
    corpus TEXT NOT NULL, rel TEXT NOT NULL, digest TEXT NOT NULL, article_id TEXT NOT NULL,
    sha256 TEXT NOT NULL, line INTEGER NOT NULL, own_id INTEGER NOT NULL,
    PRIMARY KEY (corpus, rel, digest)
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

    def load(self, root: str | Path) -> dict[str, FileStamp]:
        """The saved stamps ({} when none or unreadable: the build then reads every file).

        The per-line digests of a .jsonl file are decoded only when its stat changed (the only
        time a load uses them): for a large unchanged file they are most of the stamps' bytes.
        """
        base = Path(root)
        base = base.parent if base.is_file() else base
        self._loaded: dict[str, FileStamp] = {}
        try:
            db = self._connect()
            try:
                rows = db.execute(
                    "SELECT rel, stamp FROM stamps_v3 WHERE corpus=?", (self.key,)
                ).fetchall()
                for rel, text in rows:
                    stamp = _stamp(json.loads(text))
                    try:
                        info = (base / rel).stat()
                        same = not stamp.racy and (info.st_size, info.st_mtime_ns) == (
                            stamp.size,
                            stamp.mtime_ns,
                        )
                    except OSError:
                        same = False
                    if not same and rel.lower().endswith(".jsonl"):
                        stamp = dataclasses.replace(stamp, lines=self._lines(db, rel))
                    self._loaded[rel] = stamp
            finally:
                db.close()
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            self._loaded = {}
        return dict(self._loaded)

    def _lines(self, db: sqlite3.Connection, rel: str) -> dict[str, tuple[str, str, int, bool]]:
        rows = db.execute(
            "SELECT digest, article_id, sha256, line, own_id FROM lines_v3 "
            "WHERE corpus=? AND rel=?",
            (self.key, rel),
        ).fetchall()
        return {d: (a, s, int(n), bool(o)) for d, a, s, n, o in rows}

    def _save_lines(
        self, db: sqlite3.Connection, rel: str, stamp: FileStamp, old: FileStamp | None
    ) -> None:
        """Write a file's line digests: the appended ones, or the difference to the old ones
        (a changed 200,000-line file writes only its changed lines)."""
        before = {} if stamp.appended or old is None else old.lines
        if not stamp.appended and (old is None or not old.lines):
            db.execute("DELETE FROM lines_v3 WHERE corpus=? AND rel=?", (self.key, rel))
        gone = [(self.key, rel, d) for d in before if d not in stamp.lines]
        db.executemany("DELETE FROM lines_v3 WHERE corpus=? AND rel=? AND digest=?", gone)
        db.executemany(
            "INSERT OR REPLACE INTO lines_v3 VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self.key, rel, d, *v) for d, v in stamp.lines.items() if _moved(before.get(d), v)],
        )

    def save(self, stamps: dict[str, FileStamp]) -> None:
        """Save the stamps: rows of files whose stamp is the one loaded stay as they are (a
        failure only costs the next build a full read)."""
        loaded = getattr(self, "_loaded", {})
        changed = {rel: s for rel, s in stamps.items() if loaded.get(rel) is not s}
        gone = [rel for rel in loaded if rel not in stamps]
        try:
            db = self._connect()
            try:
                with db:
                    dropped = [(self.key, rel) for rel in [*gone, *changed]]
                    db.executemany("DELETE FROM stamps_v3 WHERE corpus=? AND rel=?", dropped)
                    db.executemany(
                        "DELETE FROM lines_v3 WHERE corpus=? AND rel=?",
                        [(self.key, r) for r in gone],
                    )
                    db.executemany(
                        "INSERT INTO stamps_v3 VALUES (?, ?, ?)",
                        [(self.key, rel, json.dumps(_row(s))) for rel, s in changed.items()],
                    )
                    for rel, stamp in changed.items():
                        self._save_lines(db, rel, stamp, loaded.get(rel))
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return


def _moved(old: tuple | None, new: tuple) -> bool:
    """Whether a line's saved row must be written again: it is new or its article changed. A
    line whose record holds its own id is reused whatever its line number (see _load_jsonl), so
    a line that only moved (lines removed above it) keeps its row: removing 10 lines near the
    top of a 200,000-line file rewrites 0 rows, not the ~100,000 below them."""
    if old is None:
        return True
    if new[3] and old[3]:
        return old[:2] != new[:2]
    return old != new


def _row(s: FileStamp) -> dict:
    return {
        "size": s.size,
        "mtime_ns": s.mtime_ns,
        "sha256": s.sha256,
        "articles": s.articles,
        "skipped": s.skipped,
        "line_count": s.line_count,
        "racy": s.racy,
    }


def _stamp(d: dict) -> FileStamp:
    return FileStamp(
        size=int(d["size"]),
        mtime_ns=int(d["mtime_ns"]),
        sha256=str(d["sha256"]),
        articles=tuple((str(a), str(b)) for a, b in d["articles"]),
        skipped=tuple((str(r), None if n is None else int(n)) for r, n in d["skipped"]),
        line_count=int(d.get("line_count", 0)),
        racy=bool(d.get("racy", False)),
    )
