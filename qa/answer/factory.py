"""Which reader answers: one line per reader, chosen by name (`qa eval --reader`, the API)."""

from __future__ import annotations

from collections.abc import Callable

from qa.answer.base import Reader
from qa.embed.encoder import Encoder
from qa.errors import SettingsError


def _trained(encoder: Encoder) -> Reader:
    from qa.answer.trained import TrainedReader

    return TrainedReader(encoder)


def _extractive(encoder: Encoder) -> Reader:
    from qa.answer.extractive import ExtractiveReader

    return ExtractiveReader(encoder)


READERS: dict[str, Callable[[Encoder], Reader]] = {
    "trained": _trained,  # the trained sentence scorer (qa/answer/trained.py)
    "none": _extractive,  # no trained reader: cosine, key terms and answer kind (extractive.py)
}
DEFAULT_READER = "none"


def make_reader(name: str, encoder: Encoder) -> Reader:
    """The reader called ``name`` (one of ``READERS``) on ``encoder``.

    Raises:
        SettingsError: an unknown name; the message lists the valid ones.
    """
    if name not in READERS:
        raise SettingsError(f"unknown reader {name!r}; choose one of {', '.join(READERS)}")
    return READERS[name](encoder)
