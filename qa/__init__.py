"""qa: offline question answering over news archives, with exact cited passages.

The public API is small and imported lazily, so `import qa` (and `qa --help`) stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Assistant": "qa.assistant",
    "evaluate": "qa.evaluation",
    "EvalResult": "qa.evaluation",
    "build_index": "qa.indexer",
    "BACKENDS": "qa.embedding",
    "DEFAULT_BACKEND": "qa.embedding",
    "load_corpus": "qa.corpus",
    "Article": "qa.records",
    "Chunk": "qa.records",
    "BuildReport": "qa.records",
    "Passage": "qa.records",
    "Citation": "qa.records",
    "Answer": "qa.records",
    "Skipped": "qa.records",
    "QAError": "qa.errors",
    "IndexNotFoundError": "qa.errors",
    "IndexMismatchError": "qa.errors",
    "IndexCorruptError": "qa.errors",
    "IndexBusyError": "qa.errors",
    "IndexWriteError": "qa.errors",
    "CorpusNotFoundError": "qa.errors",
    "ModelError": "qa.errors",
    "QuestionError": "qa.errors",
    "SettingsError": "qa.errors",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.corpus import load_corpus
    from qa.embedding import BACKENDS, DEFAULT_BACKEND
    from qa.errors import (
        CorpusNotFoundError,
        IndexBusyError,
        IndexCorruptError,
        IndexMismatchError,
        IndexNotFoundError,
        IndexWriteError,
        ModelError,
        QAError,
        QuestionError,
        SettingsError,
    )
    from qa.evaluation import EvalResult, evaluate
    from qa.indexer import build_index
    from qa.records import Answer, Article, BuildReport, Chunk, Citation, Passage, Skipped


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
