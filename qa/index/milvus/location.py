"""Where a Milvus index lives: ``milvus-lite:PATH.db`` (a local file) or ``milvus://host:port/name``.

Parsing only, no pymilvus: the lock file, the embedding cache folder and the collection names
follow from the location, and the server token comes from the environment, never the command line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import SettingsError

TOKEN_ENV = "QA_MILVUS_TOKEN"  # "user:password" or an API key, read only from the environment
LITE_NAME = "newsqa"  # collection prefix inside a milvus-lite file (one index per file)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")  # Milvus collection names
_SERVER = re.compile(r"^(?P<host>[^/:]+):(?P<port>\d+)/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class MilvusLocation:
    """A parsed Milvus location: how to connect and what to call the collections."""

    location: str  # as the user wrote it, for messages
    uri: str
    token: str
    name: str  # collection prefix: NAME_chunks, NAME_articles, NAME_texts, NAME_terms, NAME_meta
    lite_path: Path | None  # the milvus-lite file (a folder on disk), None for a server

    @property
    def cache_dir(self) -> Path:
        """A local folder for the embedding cache: beside a lite file, else in the user cache."""
        if self.lite_path is not None:
            return self.lite_path.with_name(self.lite_path.name + ".cache")
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", self.uri.split("://", 1)[-1])
        return Path.home() / ".cache" / "newsqa" / "milvus" / f"{host}_{self.name}"

    def collection(self, part: str) -> str:
        return f"{self.name}_{part}"


def lite_location(target: str) -> MilvusLocation:
    """``milvus-lite:PATH``; PATH must end in ``.db`` (how pymilvus tells a lite file).

    Raises:
        SettingsError: no path, or a path not ending in ``.db``.
    """
    if not target.endswith(".db"):
        raise SettingsError(
            f"milvus-lite:{target} is not a .db path; name a file ending in .db, "
            "e.g. milvus-lite:index/news.db"
        )
    path = Path(target).expanduser().absolute()
    return MilvusLocation(f"milvus-lite:{target}", str(path), "", LITE_NAME, path)


def server_location(target: str) -> MilvusLocation:
    """``milvus://host:port/collection``; the token, if any, from ``$QA_MILVUS_TOKEN``.

    Raises:
        SettingsError: not host:port/collection, or a collection name Milvus refuses.
    """
    m = _SERVER.match(target)
    if m is None or not _NAME.match(m["name"]):
        raise SettingsError(
            f"milvus://{target} is not milvus://HOST:PORT/COLLECTION (a collection name of "
            "letters, digits and _ starting with a letter), e.g. milvus://127.0.0.1:19530/news; "
            f"put a token in ${TOKEN_ENV}, not in the location"
        )
    uri = f"http://{m['host']}:{m['port']}"
    return MilvusLocation(f"milvus://{target}", uri, os.environ.get(TOKEN_ENV, ""), m["name"], None)
