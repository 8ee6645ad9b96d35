"""qa: offline question answering over news archives, with exact cited passages.

The public API is small and imported lazily, so `import qa` (and `qa --help`) stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Assistant": "qa.assistant",
    "Response": "qa.assistant",
    "evaluate": "qa.evaluation",
    "EvalResult": "qa.evaluation",
    "build_index": "qa.index.build",
    "BACKENDS": "qa.config",
    "DEFAULT_BACKEND": "qa.config",
    "DEFAULT_ANSWER_K": "qa.config",
    "DEFAULT_RETRIEVE_K": "qa.config",
    "MAX_K": "qa.config",
    "Encoder": "qa.embed.encoder",
    "load_corpus": "qa.ingest.corpus",
    "SUPPORTED_SUFFIXES": "qa.ingest.files",
    "DEFAULT_MAX_FILE_MB": "qa.ingest.files",
    "IndexReader": "qa.index.base",
    "IndexWriter": "qa.index.base",
    "Filters": "qa.index.base",
    "iso_day": "qa.text.dates",
    "lead_sentence": "qa.text.sentences",
    "Reranker": "qa.search.rerank",
    "Reader": "qa.answer.base",
    "READERS": "qa.answer.factory",
    "make_reader": "qa.answer.factory",
    "RERANKERS": "qa.answer.factory",
    "make_reranker": "qa.answer.factory",
    "Article": "qa.records",
    "Chunk": "qa.records",
    "BuildReport": "qa.records",
    "Passage": "qa.records",
    "Citation": "qa.records",
    "Answer": "qa.records",
    "ArticleSummary": "qa.records",
    "ArticlePage": "qa.records",
    "display_title": "qa.records",
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
    from qa.answer.base import Reader
    from qa.answer.factory import READERS, RERANKERS, make_reader, make_reranker
    from qa.assistant import Assistant, Response
    from qa.config import BACKENDS, DEFAULT_ANSWER_K, DEFAULT_BACKEND, DEFAULT_RETRIEVE_K, MAX_K
    from qa.embed.encoder import Encoder
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
    from qa.index.base import Filters, IndexReader, IndexWriter
    from qa.index.build import build_index
    from qa.ingest.corpus import load_corpus
    from qa.ingest.files import DEFAULT_MAX_FILE_MB, SUPPORTED_SUFFIXES
    from qa.records import (
        Answer,
        Article,
        ArticlePage,
        ArticleSummary,
        BuildReport,
        Chunk,
        Citation,
        Passage,
        Skipped,
        display_title,
    )
    from qa.search.rerank import Reranker
    from qa.text.dates import iso_day
    from qa.text.sentences import lead_sentence


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
