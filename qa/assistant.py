"""The public answering API: an Assistant over one index folder, safe for concurrent calls."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qa import store
from qa.answering import compose, passage_of
from qa.embedding import Embedder
from qa.errors import QuestionError
from qa.records import Answer, Article, BuildReport, Passage
from qa.retrieval import Retriever

MAX_QUESTION_CHARS = 1000
MAX_K = 50
# Passages an answer is drawn from: 8 found the answer sentence more often than 5 on the
# dev questions (README, Quality), for about 0.2 s more per question.
DEFAULT_ANSWER_K = 8
# A short question that leans on the conversation ("when was that?", "what did he say?").
_FOLLOW_UP = re.compile(
    r"\b(?:it|its|that|this|those|these|they|them|their|he|she|him|her|his|there|then)\b",
    re.IGNORECASE,
)


class Assistant:
    """Answers questions from an index folder; picks up newer generations without a restart.

    Open it once per process: the model and the index load once, and every method may be
    called from several threads at a time.
    """

    def __init__(self, index_dir: str | Path, embedder: Embedder) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self._lock = threading.Lock()
        self._retriever = self._open()

    @classmethod
    def open(cls, index_dir: str | Path = "index", *, model: str | None = None) -> Assistant:
        """Load the index in ``index_dir`` and the model it was built with.

        Raises:
            IndexNotFoundError: nothing was built there.
            IndexMismatchError: the index was built with another model than ``model``.
        """
        generation = store.open_generation(index_dir)  # fail fast before loading the model
        built = generation.manifest.get("model", {})
        generation.close()
        embedder = Embedder(model, backend=built.get("backend", "torch"))
        return cls(index_dir, embedder)

    def _open(self) -> Retriever:
        generation = store.open_generation(self.index_dir)
        info = self.embedder.info
        store.check_model(
            generation,
            name=info.name,
            weights_sha256=info.weights_sha256,
            backend=info.backend,
            export_sha256=info.export_sha256,
        )
        return Retriever(generation, self.embedder)

    def refresh(self) -> bool:
        """Switch to the live generation if a build replaced it; True when it did."""
        live = store.current_generation(self.index_dir)
        with self._lock:
            if live is None or live.name == self._retriever.generation.name:
                return False
            self._retriever = self._open()  # the old one stays usable by calls already running
            return True

    @property
    def retriever(self) -> Retriever:
        self.refresh()
        with self._lock:
            return self._retriever

    def retrieve(
        self,
        question: str,
        k: int = 10,
        *,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        mode: str = "hybrid",
    ) -> list[Passage]:
        """The ``k`` passages that best match ``question``, best first.

        Args:
            question: Any text; empty text raises QuestionError.
            k: Number of passages (1 to 50).
            sources: Only articles from these outlets.
            since: Only articles published on or after this ISO date.
            until: Only articles published on or before this ISO date.
            mode: "hybrid" (default), "bm25" or "dense", to compare the legs.
        """
        question, _ = _clean_question(question)
        result = self.retriever.search(
            question, _check_k(k), sources=sources, since=since, until=until, mode=mode
        )
        return [passage_of(h, result) for h in result.hits]

    def ask(
        self,
        question: str,
        k: int = DEFAULT_ANSWER_K,
        *,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        history: Sequence[str] = (),
    ) -> Answer:
        """Answer ``question`` with cited sentences, or abstain with the closest passages.

        Args:
            question: The question; over 1,000 characters it is trimmed, with a notice.
            k: Passages to draw the answer from (1 to 50).
            sources, since, until: Filters, as in ``retrieve``.
            history: Earlier questions of the conversation, oldest first; a short follow-up
                ("when was that?") is read together with the last of them.
        """
        question, notices = _clean_question(question)
        context = _context(question, history)
        if context:
            notices += (f"read as a follow-up to: {context}",)
        retriever = self.retriever
        result = retriever.search(
            question, _check_k(k), sources=sources, since=since, until=until, context=context
        )
        return compose(
            question, result, self.embedder, indexed_sources=retriever.sources(), notices=notices
        )

    def article(self, article_id: str) -> Article | None:
        """The stored, cleaned article (text and metadata), or None if the index lacks it."""
        return self.retriever.generation.article(article_id)

    def sources(self) -> list[str]:
        """The outlets of the indexed articles, sorted."""
        return self.retriever.sources()

    def stats(self) -> dict[str, Any]:
        """Articles, chunks, model and backend, generation, build time and the date range."""
        retriever = self.retriever
        manifest = retriever.generation.manifest
        dates = sorted(a["published"] for a in retriever.articles.values() if a["published"])
        return {
            "articles": len(retriever.articles),
            "chunks": retriever.generation.chunk_count,
            "model": manifest.get("model", {}).get("name"),
            "backend": manifest.get("model", {}).get("backend"),
            "generation": retriever.generation.name,
            "built_at": manifest.get("built_at"),
            "published_min": dates[0] if dates else None,
            "published_max": dates[-1] if dates else None,
        }

    def update_index(
        self, corpus: str | Path, *, progress: Callable[[str, int, int], None] | None = None
    ) -> BuildReport:
        """Incrementally re-index ``corpus`` into this index with the loaded model, then switch."""
        from qa.indexer import build_index

        report = build_index(corpus, self.index_dir, embedder=self.embedder, progress=progress)
        self.refresh()
        return report


def _clean_question(question: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    # Lone surrogates (bytes a terminal passed that are not UTF-8) become "?".
    cleaned = question.encode("utf-8", "replace").decode("utf-8")
    cleaned = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the articles")
    if len(cleaned) > MAX_QUESTION_CHARS:
        cut = cleaned.rfind(" ", 0, MAX_QUESTION_CHARS)
        cleaned = cleaned[: cut if cut > 0 else MAX_QUESTION_CHARS]
        return cleaned, (f"the question was trimmed to its first {len(cleaned)} characters",)
    return cleaned, ()


def _check_k(k: int) -> int:
    valid = isinstance(k, int | float) and not isinstance(k, bool) and math.isfinite(k)
    if not valid or not 1 <= int(k) <= MAX_K:
        raise QuestionError(f"k={k!r} is out of range; use a number from 1 to {MAX_K}")
    return int(k)


def _context(question: str, history: Sequence[str]) -> str:
    """The last earlier question when ``question`` is a short follow-up that refers back."""
    earlier = [h.strip() for h in history if h and h.strip()]
    if not earlier or len(question.split()) > 12 or not _FOLLOW_UP.search(question):
        return ""
    return earlier[-1][:MAX_QUESTION_CHARS]
