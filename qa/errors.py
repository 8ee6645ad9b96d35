"""Typed library errors; each message names the fix. The CLI and UI turn them into one line."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the qa library raises on purpose."""


class CorpusNotFoundError(QAError):
    """The corpus path given to a build does not exist."""


class IndexNotFoundError(QAError):
    """No built index at the given folder."""


class IndexCorruptError(QAError):
    """The index folder exists but cannot be read."""


class IndexMismatchError(QAError):
    """The index was built with another model, backend or chunker than the one configured."""


class IndexBusyError(QAError):
    """Another build holds the index lock."""


class ModelError(QAError):
    """The embedding model cannot be loaded or failed verification."""


class QuestionError(QAError):
    """The question is empty or otherwise unusable."""


class SettingsError(QAError):
    """An option has a value outside its valid range or choices."""


class IndexWriteError(QAError):
    """The index could not be written (full disk, permissions); the previous one is intact."""
