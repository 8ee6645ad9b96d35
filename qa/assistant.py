"""The public answering API: an Assistant over one index location, safe for concurrent calls.

It wires the stages, one way: read the question, retrieve (through the index's engine), rerank,
diversify, then read and answer. Each stage is replaceable: ``Assistant.open(location,
reranker=..., reader=...)``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.answer.base import Reader
from qa.answer.factory import DEFAULT_READER, make_reader, make_reranker
from qa.config import DEFAULT_ANSWER_K, DEFAULT_RETRIEVE_K, RetrievalSettings
from qa.embed.encoder import Encoder, open_encoder
from qa.errors import IndexMismatchError, SettingsError
from qa.index.base import ArticleQuery, Filters, IndexReader
from qa.index.factory import open_reader
from qa.questions import check_k, clean_question, follow_up_context
from qa.records import Answer, Article, ArticlePage, BuildReport, Passage
from qa.search.rerank import Reranker
from qa.search.retriever import Retriever
from qa.text.sentences import lead_sentence


@dataclass(frozen=True)
class Response:
    """An answer and the ranked passages of the one search it was drawn from."""

    answer: Answer
    passages: tuple[Passage, ...]


class Assistant:
    """Answers questions from an index; picks up newer versions without a restart.

    Open it once per process: the model and the index load once, and every method may be
    called from several threads at a time.
    """

    def __init__(
        self,
        location: str | Path,
        encoder: Encoder,
        *,
        reader: Reader | str | None = None,
        reranker: Reranker | str | None = None,
        retrieval: RetrievalSettings | None = None,
    ) -> None:
        self.location = str(location)
        self.encoder = encoder
        if reader is None or isinstance(reader, str):
            reader = make_reader(reader or DEFAULT_READER, encoder)
        self.reader = reader
        if isinstance(reranker, str):
            reranker = make_reranker(reranker, encoder)
        self.reranker = reranker
        self.retrieval = retrieval or RetrievalSettings()
        self._lock = threading.Lock()
        self._retriever = self._open()

    @classmethod
    def open(
        cls,
        location: str | Path = "index",
        *,
        model: str | None = None,
        reader: Reader | str | None = None,
        reranker: Reranker | str | None = None,
    ) -> Assistant:
        """Load the index at ``location`` (a folder or engine URI) and the model it was built with.

        ``reader``: a ``Reader``, or the name of one (``qa.READERS``: "none", "trained", "joint").
        ``reranker``: a ``Reranker``, or the name of one (``qa.RERANKERS``: "none", "sentence").

        Raises:
            IndexNotFoundError: nothing was built there.
            IndexMismatchError: the index was built with another model than ``model``.
        """
        index = open_reader(location)  # fail fast before loading the model
        backend = index.manifest.model.get("backend", "torch")
        index.close()
        return cls(location, open_encoder(model, backend=backend), reader=reader, reranker=reranker)

    def _open(self) -> Retriever:
        index = open_reader(self.location)
        _check_model(index, self.encoder, self.location)
        return Retriever(index, self.encoder, reranker=self.reranker, settings=self.retrieval)

    def refresh(self) -> bool:
        """Switch to the live version if a build replaced it; True when it did."""
        with self._lock:
            if not self._retriever.index.stale():
                return False
            self._retriever = self._open()  # the old one stays usable by calls already running
            return True

    @property
    def retriever(self) -> Retriever:
        self.refresh()
        with self._lock:
            return self._retriever

    @property
    def index(self) -> IndexReader:
        """The index version being read."""
        return self.retriever.index

    def retrieve(
        self,
        question: str,
        k: int = DEFAULT_RETRIEVE_K,
        *,
        sources: Sequence[str] | str | None = None,
        since: str | None = None,
        until: str | None = None,
        mode: str = "hybrid",
    ) -> list[Passage]:
        """The ``k`` passages that best match ``question``, best first.

        Args:
            question: Any text; empty text raises QuestionError.
            k: Number of passages (1 to 50).
            sources: Only articles from these outlets (one outlet may be given as a string).
            since: Only articles published on or after this ISO date.
            until: Only articles published on or before this ISO date.
            mode: "hybrid" (default), "bm25" or "dense", to compare the legs.
        """
        question, _ = clean_question(question)
        k = check_k(k)
        filters = Filters.of(sources, since, until)
        result = self.retriever.search(question, k, filters=filters, mode=mode)
        return [h.passage() for h in result.hits]

    def ask(
        self,
        question: str,
        k: int = DEFAULT_ANSWER_K,
        *,
        sources: Sequence[str] | str | None = None,
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
        return self.respond(
            question, k=k, answer_k=k, sources=sources, since=since, until=until, history=history
        ).answer

    def respond(
        self,
        question: str,
        *,
        k: int = DEFAULT_RETRIEVE_K,
        answer_k: int = DEFAULT_ANSWER_K,
        sources: Sequence[str] | str | None = None,
        since: str | None = None,
        until: str | None = None,
        history: Sequence[str] = (),
        mode: str = "hybrid",
        reader: Reader | None = None,
    ) -> Response:
        """One search for ``max(k, answer_k)`` passages; the answer drawn from the first
        ``answer_k``, and the first ``k`` passages (what ``qa eval`` scores).

        ``reader``: answer with this reader instead of the assistant's (to compare readers).
        """
        question, notices = clean_question(question)
        depth = max(check_k(k), check_k(answer_k))
        context = follow_up_context(question, history)
        if context:
            notices += (f"read as a follow-up to: {context}",)
        filters = Filters.of(sources, since, until)
        retriever = self.retriever
        result = retriever.search(question, depth, filters=filters, mode=mode, context=context)
        top = dataclasses.replace(result, hits=result.hits[:answer_k])
        reader = reader or self.reader
        answer = reader.answer(question, top, retriever.index, notices=notices)
        return Response(answer, tuple(h.passage() for h in result.hits[:k]))

    def article(self, article_id: str) -> Article | None:
        """The stored, cleaned article (text and metadata), or None if the index lacks it."""
        return self.index.article(article_id)

    def leads(self, answer: Answer) -> dict[str, str]:
        """The lead sentence of each untitled article an answer cites or lists, by id: what
        ``Answer.to_markdown(leads=...)`` and a display show in place of the missing title."""
        untitled = {p.article_id for p in (*answer.citations, *answer.related) if not p.title}
        found = {i: self.article(i) for i in sorted(untitled)}
        return {i: lead_sentence(a.text) for i, a in found.items() if a is not None}

    def articles(
        self,
        *,
        text: str = "",
        sources: Sequence[str] | str | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str = "published",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> ArticlePage:
        """A page of the indexed articles, with the number matching and their counts by month
        and outlet (over all matching articles, not only the page).

        Args:
            text: Only articles whose title or file path contains it (ASCII case ignored).
            sources, since, until: Filters, as in ``retrieve``.
            sort: "published", "title", "source", "passages" or "id"; missing values last.
            descending: Largest (newest) first.
            offset, limit: The slice of the sorted articles (limit 0 to 500).

        Raises:
            SettingsError: a bad date, sort, offset or limit.
        """
        try:
            offset, limit = int(offset), int(limit)
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(
                f"offset and limit must be whole numbers (got {offset!r}, {limit!r})"
            ) from None
        query = ArticleQuery(
            text=text or "",
            filters=Filters.of(sources, since, until),
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
        )
        return self.index.articles(query)

    def sources(self) -> list[str]:
        """The outlets of the indexed articles, sorted."""
        return list(self.index.catalog().sources)

    def stats(self) -> dict[str, Any]:
        """Articles, chunks, model and backend, version, build time and the date range."""
        index = self.index
        catalog, model = index.catalog(), index.manifest.model
        return {
            "articles": catalog.articles,
            "chunks": catalog.chunks,
            "model": model.get("name"),
            "backend": model.get("backend"),
            "generation": catalog.name,
            "built_at": catalog.built_at,
            "published_min": catalog.published_min,
            "published_max": catalog.published_max,
        }

    def prepare_updates(self) -> None:
        """Import what an index update needs (the build and langchain's splitter, 0.5-1.5 s
        here) before the first update asks: a server that takes uploads calls it at start, in
        the background, so its first upload does not wait for them."""
        import qa.index.build  # noqa: F401
        from qa.ingest.chunking import load_splitter

        load_splitter()

    def update_index(
        self, corpus: str | Path, *, progress: Callable[[str, int, int], None] | None = None
    ) -> BuildReport:
        """Incrementally re-index ``corpus`` into this index with the loaded model, then switch."""
        from qa.index.build import build_index

        report = build_index(corpus, self.location, encoder=self.encoder, progress=progress)
        self.refresh()
        return report


def _check_model(index: IndexReader, encoder: Encoder, location: str) -> None:
    """Raise IndexMismatchError unless ``index`` was built with this model and backend."""
    info = encoder.info
    built = index.manifest
    now = dataclasses.replace(built, model=info.manifest_section())
    reason = built.difference(now, sections=("model",))
    if reason is None:
        return
    before = built.model
    if reason.startswith("model export_sha256"):
        raise IndexMismatchError(
            f"index {location} was built with another {info.backend} export of the model "
            f"({str(before.get('export_sha256'))[:12]}, now {info.export_sha256[:12]}: OpenVINO "
            f"or NNCF changed?); re-embed it with `qa index CORPUS --index {location}`"
        )
    raise IndexMismatchError(
        f"index {location} was built with model {before.get('name')!r} "
        f"(weights {str(before.get('weights_sha256'))[:12]}, backend {before.get('backend')}), "
        f"but {info.name!r} (weights {info.weights_sha256[:12]}, backend {info.backend}) is "
        f"configured; rebuild with `qa index CORPUS --index {location} --model {info.name}` "
        "or open it with the model it was built with"
    )
