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
CREATE TABLE IF NOT EXISTS stamps_v2 (
    corpus TEXT NOT NULL, rel TEXT NOT NULL, stamp TEXT NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (corpus, rel)
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
                    "SELECT rel, stamp, lines FROM stamps_v2 WHERE corpus=?", (self.key,)
                ).fetchall()
            finally:
                db.close()
            for rel, text, lines in rows:
                stamp = _stamp(json.loads(text))
                try:
                    info = (base / rel).stat()
                    same = (info.st_size, info.st_mtime_ns) == (stamp.size, stamp.mtime_ns)
                except OSError:
                    same = False
                if not same:
                    stamp = dataclasses.replace(stamp, lines=_lines(json.loads(lines)))
                self._loaded[rel] = stamp
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            self._loaded = {}
        return dict(self._loaded)

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
                    db.executemany(
                        "DELETE FROM stamps_v2 WHERE corpus=? AND rel=?",
                        [(self.key, rel) for rel in [*gone, *changed]],
                    )
                    db.executemany(
                        "INSERT INTO stamps_v2 VALUES (?, ?, ?, ?)",
                        [
                            (self.key, rel, json.dumps(_row(s)), json.dumps(s.lines))
                            for rel, s in changed.items()
                        ],
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
    }


def _stamp(d: dict) -> FileStamp:
    return FileStamp(
        size=int(d["size"]),
        mtime_ns=int(d["mtime_ns"]),
        sha256=str(d["sha256"]),
        articles=tuple((str(a), str(b)) for a, b in d["articles"]),
        skipped=tuple((str(r), None if n is None else int(n)) for r, n in d["skipped"]),
    )


def _lines(d: dict) -> dict[str, tuple[str, str, int, bool]]:
    return {k: (str(v[0]), str(v[1]), int(v[2]), bool(v[3])) for k, v in d.items()}
