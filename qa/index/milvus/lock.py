"""The build lock of a Milvus index: a lock file beside a milvus-lite file, a row on a server.

A server lock row is advisory: two builds started within the same second may both take it,
so a server index is documented as single-writer (one `qa index` at a time).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from qa.errors import IndexBusyError
from qa.index.milvus.location import MilvusLocation
from qa.index.milvus.schema import PLACEHOLDER

LOCK_ROW = "lock"
STALE_SECONDS = 6 * 3600  # a lock row older than this is a build that died: taken over


class BuildLock:
    """Hold while building; a second build fails fast with IndexBusyError."""

    def __init__(self, where: MilvusLocation) -> None:
        self._where = where
        self._file: IO[str] | None = None
        self._client: Any = None

    def take_file(self) -> None:
        """Lock the file beside a milvus-lite index (before opening it)."""
        assert self._where.lite_path is not None
        path = Path(str(self._where.lite_path) + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            raise IndexBusyError(
                f"another `qa index` is building {self._where.location}; wait for it to finish"
            ) from None

    def take_row(self, client: Any) -> None:
        """Write the lock row of a server index (its meta collection exists)."""
        name = self._where.collection("meta")
        held = client.query(name, ids=[LOCK_ROW], output_fields=["value", "version"])
        if held and time.time() - held[0]["version"] < STALE_SECONDS:
            raise IndexBusyError(
                f"{self._where.location} is locked by a build ({held[0]['value']}); wait for "
                f"it to finish, or if it died, delete the row id={LOCK_ROW!r} of {name}"
            )
        owner = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        row = {"id": LOCK_ROW, "value": owner, "version": int(time.time())}
        client.upsert(name, [{**row, "placeholder": PLACEHOLDER}])
        self._client = client

    def release(self) -> None:
        if self._client is not None:
            self._client.delete(self._where.collection("meta"), ids=[LOCK_ROW])
            self._client = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
