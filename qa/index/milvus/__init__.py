"""The Milvus engine: an index in an embedded milvus-lite file or on a Milvus server.

``milvus-lite:PATH.db`` and ``milvus://HOST:PORT/COLLECTION`` (token in ``$QA_MILVUS_TOKEN``).
pymilvus is imported only when such a location is opened (by ``schema``), never by ``qa --help``
or the local engine.
"""

from __future__ import annotations

from qa.index.factory import Engine
from qa.index.milvus.location import lite_location, server_location
from qa.index.milvus.reader import MilvusIndex
from qa.index.milvus.writer import MilvusWriter

ENGINES = {
    "milvus-lite": Engine(
        reader=lambda target: MilvusIndex(lite_location(target)),
        writer=lambda target: MilvusWriter(lite_location(target)),
    ),
    "milvus": Engine(
        reader=lambda target: MilvusIndex(server_location(target)),
        writer=lambda target: MilvusWriter(server_location(target)),
    ),
}

__all__ = ["ENGINES", "MilvusIndex", "MilvusWriter"]
