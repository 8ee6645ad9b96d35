"""The ``meta`` collection: the manifest with its version number, and the build state.

A publish marks the state "writing" before it touches a row and "live" (with the new version)
after the manifest is written; a build that finds "writing" left by an interrupted one
rewrites everything (the diff it needs is exact only for a finished publish).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from qa.config import Manifest, ManifestError
from qa.errors import IndexCorruptError
from qa.index.milvus.location import MilvusLocation
from qa.index.milvus.schema import CHANGES, PLACEHOLDER, VERSION

MANIFEST = "manifest"
STATE = "state"
WRITING, LIVE = "writing", "live"


@dataclass(frozen=True)
class Published:
    """The live manifest, its version and whether a publish was interrupted since."""

    manifest: Manifest
    version: int
    interrupted: bool

    @property
    def name(self) -> str:
        return f"v{self.version}"


def read(client: Any, where: MilvusLocation) -> Published | None:
    """The published manifest, or None when nothing was published yet.

    Raises:
        IndexCorruptError: the manifest row is not a valid manifest.
    """
    rows = client.query(
        where.collection("meta"), ids=[MANIFEST, STATE], output_fields=["id", "value", "version"]
    )
    found = {r["id"]: r for r in rows}
    if MANIFEST not in found:
        return None
    try:
        manifest = Manifest.from_json(found[MANIFEST]["value"])
    except ManifestError as exc:
        raise IndexCorruptError(
            f"the manifest in {where.location} is damaged ({exc}); rebuild it with "
            f"`qa index CORPUS --index {where.location}`"
        ) from None
    state = found.get(STATE, {}).get("value", LIVE)
    return Published(manifest, int(found[MANIFEST]["version"]), state == WRITING)


def outdated(manifest: Manifest) -> str | None:
    """Why an index written with another collection layout must be rewritten, or None."""
    if manifest.schema_version == VERSION:
        return None
    change = CHANGES.get(VERSION, "")
    return f"the Milvus schema changed (version {manifest.schema_version} -> {VERSION}: {change})"


def version(client: Any, where: MilvusLocation) -> int | None:
    rows = client.query(where.collection("meta"), ids=[MANIFEST], output_fields=["version"])
    return int(rows[0]["version"]) if rows else None


def mark(client: Any, where: MilvusLocation, state: str, number: int) -> None:
    client.upsert(where.collection("meta"), [_row(STATE, state, number)])


def write(client: Any, where: MilvusLocation, manifest: Manifest, number: int) -> None:
    client.upsert(where.collection("meta"), [_row(MANIFEST, manifest.to_json(), number)])


def _row(key: str, value: str, number: int) -> dict[str, Any]:
    return {"id": key, "value": value, "version": number, "placeholder": PLACEHOLDER}


def article_meta(row: dict[str, Any]) -> dict[str, Any]:
    """The Article fields (except text) stored in an ``articles`` row."""
    return json.loads(row["meta"])
