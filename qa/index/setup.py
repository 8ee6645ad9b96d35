"""The manifest a build records, and whether a previous index was built the same way."""

from __future__ import annotations

import dataclasses

from qa import __version__
from qa.config import LEXICAL_SETTINGS, ChunkerSettings, Manifest
from qa.embed.encoder import Encoder, exported_sha256
from qa.embed.model import model_identity
from qa.index.base import IndexState


def build_manifest(encoder: Encoder, overlap_tokens: int) -> Manifest:
    """What a build with ``encoder`` would record, before counts and vector settings."""
    chunker = ChunkerSettings(
        max_tokens=encoder.info.max_tokens,
        special_tokens=encoder.special_tokens,
        overlap_tokens=overlap_tokens,
    )
    return Manifest(
        package_version=__version__,
        model=encoder.info.manifest_section(),
        chunker={"splitter": "langchain RecursiveCharacterTextSplitter", **chunker.to_dict()},
        lexical=dict(LEXICAL_SETTINGS),
        vectors={"metric": "cosine"},
    )


def chunker_settings(manifest: Manifest) -> ChunkerSettings:
    fields = {k: v for k, v in manifest.chunker.items() if k != "splitter"}
    return ChunkerSettings(**fields)


def same_setup(
    previous: IndexState,
    encoder: Encoder | None,
    model: str | None,
    backend: str,
    overlap_tokens: int,
) -> bool:
    """Whether the previous version was built as this build would, told without the model.

    What only the loaded model knows (dimension, token limits) is taken from the previous
    manifest: the same weights have the same tokenizer. An int8 export not made yet (a new
    machine, a cleared cache) is not compared: the next load makes it, and opening the index
    then refuses with the fix if the new export differs.
    """
    built = previous.manifest
    if encoder is not None:
        sha, backend, export = (
            encoder.info.weights_sha256,
            encoder.info.backend,
            encoder.info.export_sha256,
        )
    else:
        sha, export = model_identity(model)[2], exported_sha256(model, backend)
    expected = dataclasses.replace(
        built,
        model={**built.model, "weights_sha256": sha, "backend": backend, "export_sha256": export},
        chunker={
            **built.chunker,
            "overlap_tokens": overlap_tokens,
            "max_chars": ChunkerSettings().max_chars,
        },
        lexical=dict(LEXICAL_SETTINGS),
    )
    return built.difference(expected) is None
