"""The extractive reader: pick the sentences that answer, cite them exactly, or abstain."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.abstain import passage_gates
from qa.answer.evidence import ArticleTerms, SentenceVectorCache, Terms
from qa.answer.kinds import expected_type, holds, is_strict, type_fit
from qa.config import AnswerSettings
from qa.embed.encoder import Encoder
from qa.index.base import IndexReader
from qa.records import Answer, Citation, Passage
from qa.search.hits import Hit, Retrieval
from qa.text.tokens import tokenize

ABSTAINED_TEXT = "The corpus does not contain an answer to this question."


@dataclass(frozen=True)
class _Sentence:
    hit: int  # index into the hits
    start: int  # offsets in the article text
    end: int
    text: str
    score: float
    cosine: float
    names_ok: bool = True  # its article mentions every name in the question


class ExtractiveReader:
    """Scores the sentences of the passages by meaning, key terms and answer kind; quotes the
    best, one statement per agreeing article, oldest first."""

    def __init__(self, encoder: Encoder, settings: AnswerSettings = AnswerSettings()) -> None:
        self.settings = settings
        self._terms = ArticleTerms()
        self.sentence_vectors = SentenceVectorCache(
            encoder, settings.sentence_vector_bytes, settings.min_quote_words
        )

    def answer(
        self,
        question: str,
        retrieval: Retrieval,
        index: IndexReader,
        *,
        notices: tuple[str, ...] = (),
    ) -> Answer:
        hits, plan = list(retrieval.hits), retrieval.plan
        passages = tuple(h.passage() for h in hits)
        reason = passage_gates(question, plan, hits, index, self._terms, self.settings)
        if reason:
            return abstention(question, reason, passages, notices)
        kind = expected_type(question)
        sentences = self._score(retrieval, kind, hits, index)
        if is_strict(kind):
            # A figure or date only answers from an article about what the question names: "how
            # many were injured in the Palestine Street attack" is not answered by a count of
            # injured in another attack.
            sentences = [s for s in sentences if s.names_ok]
        chosen = self._choose(sentences, hits, kind)
        if not chosen or (is_strict(kind) and not any(holds(kind, s.text) for s in chosen)):
            what = {"number": "figure", "date": "date"}.get(kind or "", "sentence")
            reason = f"the closest passages give no {what} that answers the question"
            return abstention(question, reason, passages, notices)
        citations = tuple(_cite(n, s, passages[s.hit]) for n, s in enumerate(chosen, start=1))
        return Answer(
            question=question,
            text=" ".join(f"{c.quote} [{c.n}]" for c in citations),
            abstained=False,
            citations=citations,
            related=passages,
            notices=notices,
        )

    def _score(
        self, retrieval: Retrieval, kind: str | None, hits: list[Hit], index: IndexReader
    ) -> list[_Sentence]:
        s = self.settings
        plan, weights = retrieval.plan, retrieval.term_weights
        spans, vectors = [], []
        by_chunk = self.sentence_vectors.of([h.chunk for h in hits])
        for i, h in enumerate(hits):
            for a, b, vector in by_chunk[h.chunk.id]:
                spans.append((i, h.chunk.start + a, h.chunk.start + b, h.chunk.text[a:b]))
                vectors.append(vector)
        if not spans:
            return []
        cosines = np.stack(vectors) @ retrieval.query_vector
        total = sum(weights.values()) or 1.0
        question_words = {w.lower().strip("'’") for w in re.findall(r"[\w'’\-]+", plan.question)}
        top = max(h.score for h in hits) or 1.0
        off_topic = self._off_topic(plan.names, hits, index)
        w_type = s.w_type.get(kind or "", s.w_type_other)
        out = []
        for (i, a, b, text), cos, terms in zip(
            spans, cosines.tolist(), tokenize([span[3] for span in spans])
        ):
            overlap = sum(w for t, w in weights.items() if t in set(terms)) / total
            missing = off_topic[hits[i].chunk.article_id]
            score = (
                cos
                + s.w_overlap * overlap
                + w_type * type_fit(kind, text, question_words)
                + s.w_rank * max(hits[i].score, 0.0) / top
                - s.name_penalty * missing
                - (0.0 if _is_statement(text) else s.headline_penalty)
            )
            out.append(_Sentence(i, a, b, text, float(score), float(cos), missing == 0.0))
        return out

    def _off_topic(
        self, names: Sequence[str], hits: list[Hit], index: IndexReader
    ) -> dict[str, float]:
        """Per article of the hits: the share of the question's names it never mentions."""
        stems = [t for name in names for t in tokenize([name])[0]]
        out: dict[str, float] = {}
        for h in hits:
            aid = h.chunk.article_id
            if aid not in out:
                terms = Terms(set(self._terms.of(index, aid)))
                out[aid] = sum(n not in terms for n in stems) / len(stems) if stems else 0.0
        return out

    def _choose(
        self, sentences: list[_Sentence], hits: list[Hit], kind: str | None
    ) -> list[_Sentence]:
        """The best sentence, the best of other articles that score nearly as well, runners-up.

        Several articles: one statement each, oldest first, so the reader sees who said what,
        when. One article: its next-best sentences join when close behind, in reading order,
        since an answer often spans two sentences. Either way, a question after one figure or
        date ("how many", "when") gets its best sentence that holds one first.
        """
        s = self.settings
        best_of: dict[str, list[_Sentence]] = {}
        for sentence in sorted(sentences, key=lambda x: -x.score):
            best_of.setdefault(hits[sentence.hit].chunk.article_id, []).append(sentence)
        ranked = sorted((group[0] for group in best_of.values()), key=lambda x: -x.score)
        if not ranked:
            return []
        floor = s.statement_margin * ranked[0].score
        chosen = [x for x in ranked if x.score >= floor][: s.max_statements]
        if len(chosen) > 1:
            chosen.sort(key=lambda x: (hits[x.hit].chunk.published or "9999", -x.score))
            return _lead(chosen, kind)
        floor = s.runner_up_margin * chosen[0].score
        runners = [
            x
            for x in sorted(sentences, key=lambda x: -x.score)[1:3]
            if x.score >= floor and _is_statement(x.text)
        ]
        picked = chosen + runners
        if len({hits[x.hit].chunk.article_id for x in picked}) == 1:
            picked.sort(key=lambda x: x.start)
        return _lead(picked, kind)


def _is_statement(text: str) -> bool:
    """A sentence that ends like one; headlines, captions and bylines do not."""
    return text[-1:] in ".!?\"'”’)"


def _lead(picked: list[_Sentence], kind: str | None) -> list[_Sentence]:
    """``picked`` with, for a figure or date question, its best sentence holding one first."""
    if not is_strict(kind):
        return picked
    best = max((s for s in picked if holds(kind, s.text)), key=lambda s: s.score, default=None)
    if best is None:
        return picked
    return [best, *(s for s in picked if s is not best)]


def _cite(n: int, sentence: _Sentence, passage: Passage) -> Citation:
    return Citation(
        **passage.to_dict(),
        n=n,
        quote=sentence.text,
        quote_start=sentence.start,
        quote_end=sentence.end,
    )


def abstention(
    question: str, reason: str, passages: tuple[Passage, ...], notices: tuple[str, ...]
) -> Answer:
    """The honest "not in the archive" answer, with the three closest passages."""
    return Answer(
        question=question,
        text=ABSTAINED_TEXT,
        abstained=True,
        reason=reason,
        related=passages[:3],
        notices=notices,
    )
