"""The Milvus collections of one index, and the one module that imports pymilvus.

Five collections, each named ``<name>_<part>``:

- ``chunks``: one row per chunk (primary key: our chunk id), its article and span, the BM25
  text as our tokens (see ``lexical_field``), a sparse BM25 vector made from it by a Milvus
  Function, the dense vector, outlet and day for filters, and ``seq``, the storage order;
- ``articles``: one row per article: metadata as JSON, sha256 and how many text parts it has;
- ``texts``: cleaned article text in parts (Milvus VARCHAR holds at most 65,535 bytes), keyed
  by the text's sha256, so a changed article's new text never overwrites the text live readers use;
- ``terms``: document frequency of each BM25 term (Milvus does not expose IDF);
- ``meta``: the manifest with its version number, and the build state.

Milvus requires a vector field in every collection: the last four carry a 2-d constant one.
``chunks`` is partitioned by ``outlet_key``: a search filtered by outlet (every question that
names one, for its outlet lane) reads only the partitions that outlet hashes to.
"""

from __future__ import annotations

import logging
from typing import Any

from qa.config import BM25_PARAMS
from qa.errors import IndexBusyError, IndexNotFoundError
from qa.index.milvus.location import MilvusLocation

ID_BYTES = 1024  # chunk and article ids (paths can be long); Milvus allows up to 65,535
TEXT_BYTES = 65_535  # Milvus's VARCHAR limit, in bytes
TEXT_PART_CHARS = 16_000  # 4 bytes per character at most in UTF-8: a part always fits
PLACEHOLDER = [1.0, 0.0]  # the vector of collections that only need one to exist
# The portable analyzer: our tokens are stemmed and lower-cased already (see lexical_field),
# so splitting on non-word characters is all Milvus must do; milvus-lite 3.2 has no stemmer.
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase"]}
PARTS = ("chunks", "articles", "texts", "terms", "meta")
# The layout of the collections, recorded as the manifest's schema_version of a Milvus index
# (the local engine counts its own, qa.config.SCHEMA_VERSION). A build that finds an index of
# another layout recreates the collections; nothing is embedded again (the embedding cache).
VERSION = 2
CHANGES = {2: "chunks partitioned by outlet_key"}
# Partitions the outlet key hashes into: the server's default (milvus-lite always makes 16).
# bench/milvus_partition.py measured outlet against a month bucket and none (docs/scale-out.md).
NUM_PARTITIONS = 16
CHUNK_FIELDS = ["id", "article_id", "article_sha", "start", "end", "seq", "text_hash"]


def connect(where: MilvusLocation) -> Any:
    """A MilvusClient for ``where``.

    Raises:
        IndexBusyError: another process holds the milvus-lite file.
        IndexNotFoundError: the server cannot be reached.
    """
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    if where.lite_path is not None:
        where.lite_path.parent.mkdir(parents=True, exist_ok=True)
        # milvus-lite returns no iterator session timestamp, so pymilvus warns on every page
        # read and falls back to the client's clock, which is right for one local file
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    try:
        return MilvusClient(uri=where.uri, token=where.token, timeout=30)
    except MilvusException as exc:
        if where.lite_path is not None:
            raise IndexBusyError(
                f"cannot open {where.location}: {exc.message}; milvus-lite serves one process "
                "per file: stop the other `qa` using it, or run `milvus-lite server` and use "
                "milvus://HOST:PORT/NAME"
            ) from None
        raise IndexNotFoundError(
            f"cannot reach Milvus at {where.uri}: {exc.message}; start the server or fix "
            f"the location (a token goes in $QA_MILVUS_TOKEN)"
        ) from None


def database_error() -> type[Exception]:
    """The exception pymilvus raises for a failed call (for callers that translate it)."""
    from pymilvus.exceptions import MilvusException

    return MilvusException


def exists(client: Any, where: MilvusLocation) -> bool:
    """Whether every collection of the index exists."""
    names = set(client.list_collections())
    return all(where.collection(p) in names for p in PARTS)


def create(
    client: Any, where: MilvusLocation, dimension: int, parts: tuple[str, ...] = PARTS
) -> None:
    """Create the collections that are missing (a new index, or one a build left half made)."""
    names = set(client.list_collections())
    for part in parts:
        name = where.collection(part)
        if name in names:
            continue
        schema, index = _chunks(client, dimension) if part == "chunks" else _small(client, part)
        extra = {"num_partitions": NUM_PARTITIONS} if part == "chunks" else {}
        client.create_collection(
            name, schema=schema, index_params=index, consistency_level="Strong", **extra
        )


def load(client: Any, where: MilvusLocation) -> None:
    """Load the collections into memory: a server (or a new milvus-lite process) keeps them
    released until asked, and refuses to search or query them until then."""
    for part in PARTS:
        client.load_collection(where.collection(part))


def drop(client: Any, where: MilvusLocation, parts: tuple[str, ...] = PARTS) -> None:
    """Drop collections of the index (all before a rebuild with another dimension)."""
    names = set(client.list_collections())
    for part in parts:
        if where.collection(part) in names:
            client.drop_collection(where.collection(part))


def dimension(client: Any, where: MilvusLocation) -> int:
    """The dense vector dimension the chunks collection was made with."""
    info = client.describe_collection(where.collection("chunks"))
    field = next(f for f in info["fields"] if f["name"] == "vector")
    return int(field["params"]["dim"])


def _chunks(client: Any, dim: int) -> tuple[Any, Any]:
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_BYTES)
    s.add_field("article_id", DataType.VARCHAR, max_length=ID_BYTES)
    s.add_field("article_sha", DataType.VARCHAR, max_length=64)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("seq", DataType.INT64)
    s.add_field("text_hash", DataType.VARCHAR, max_length=64)
    s.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    s.add_field("outlet", DataType.VARCHAR, max_length=ID_BYTES)
    # casefolded, for filters; the partition key (values hash into NUM_PARTITIONS partitions)
    s.add_field("outlet_key", DataType.VARCHAR, max_length=ID_BYTES, is_partition_key=True)
    s.add_field("day", DataType.INT64)  # YYYYMMDD, 0 when undated
    s.add_field(
        "lexical",
        DataType.VARCHAR,
        max_length=TEXT_BYTES,
        enable_analyzer=True,
        analyzer_params=ANALYZER,
    )
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["lexical"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": BM25_PARAMS["k1"], "bm25_b": BM25_PARAMS["b"]},
    )
    return s, index


def _small(client: Any, part: str) -> tuple[Any, Any]:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    key = "term" if part == "terms" else "id"
    s.add_field(key, DataType.VARCHAR, is_primary=True, max_length=ID_BYTES)
    if part == "articles":
        s.add_field("sha256", DataType.VARCHAR, max_length=64)
        s.add_field("meta", DataType.VARCHAR, max_length=TEXT_BYTES)
        s.add_field("parts", DataType.INT64)
    elif part == "texts":
        s.add_field("sha256", DataType.VARCHAR, max_length=64)
        s.add_field("part", DataType.INT64)
        s.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    elif part == "terms":
        s.add_field("df", DataType.INT64)
    else:
        s.add_field("value", DataType.VARCHAR, max_length=TEXT_BYTES)
        s.add_field("version", DataType.INT64)
    s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
    index = client.prepare_index_params()
    index.add_index("placeholder", index_type="AUTOINDEX", metric_type="IP")
    return s, index
