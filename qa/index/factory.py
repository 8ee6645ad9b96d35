"""Which engine serves an index location: a plain folder is local, ``scheme:...`` names another.

A new engine is one module with a reader and a writer, plus one ``register_engine`` line here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import SettingsError
from qa.index.base import IndexReader, IndexWriter


@dataclass(frozen=True)
class Engine:
    """How to open one kind of index: from the location's target (what follows ``scheme:``)."""

    reader: Callable[[str], IndexReader]
    writer: Callable[[str], IndexWriter]


def _local_reader(target: str) -> IndexReader:
    from qa.index.local import LocalIndex

    return LocalIndex(target)


def _local_writer(target: str) -> IndexWriter:
    from qa.index.local import LocalWriter

    return LocalWriter(target)


def _lazy(module: str, scheme: str) -> Engine:
    """The engine ``module.ENGINES[scheme]``, its module imported only when a location is opened."""

    def reader(target: str) -> IndexReader:
        return importlib.import_module(module).ENGINES[scheme].reader(target)

    def writer(target: str) -> IndexWriter:
        return importlib.import_module(module).ENGINES[scheme].writer(target)

    return Engine(reader, writer)


_ENGINES: dict[str, Engine] = {"local": Engine(_local_reader, _local_writer)}
_ENGINES.update({s: _lazy("qa.index.milvus", s) for s in ("milvus-lite", "milvus")})
# "scheme:" or "scheme://" at the start; one letter is a drive, not a scheme
_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]+):(?://)?(?P<target>.*)$")


def register_engine(scheme: str, engine: Engine) -> None:
    """Serve locations ``scheme:TARGET`` with ``engine``."""
    _ENGINES[scheme] = engine


def _resolve(location: str | Path) -> tuple[Engine, str]:
    text = str(location)
    m = _SCHEME.match(text)
    if m is None or isinstance(location, Path):
        return _ENGINES["local"], text
    scheme = m["scheme"]
    if scheme == "local":
        return _ENGINES["local"], m["target"]
    if scheme not in _ENGINES:
        choices = ", ".join(f"{s}:" for s in _ENGINES if s != "local")
        raise SettingsError(
            f"unknown index location scheme {scheme!r} in {text!r}; use a folder"
            + (f" or one of {choices}" if choices else "")
        )
    return _ENGINES[scheme], m["target"]


def open_reader(location: str | Path) -> IndexReader:
    """A reader of the live version at ``location``.

    Raises:
        IndexNotFoundError: nothing was built there.
        IndexCorruptError: it cannot be read.
        SettingsError: an unknown scheme.
    """
    engine, target = _resolve(location)
    return engine.reader(target)


def open_writer(location: str | Path) -> IndexWriter:
    """A writer for ``location`` (use it as a context manager: it holds the build lock)."""
    engine, target = _resolve(location)
    return engine.writer(target)
