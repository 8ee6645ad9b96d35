"""The trained reader: lead with the sentence that answers, or say which part nothing supports.

The article-level gates (qa/answer/abstain.py) run first. Then every quotable sentence of the
passages is scored by the trained sentence scorer (qa/answer/scorer.py) over word-piece MaxSim,
lexical, answer-kind and contrast features of the sentence and its neighbours; hard rules bar
sentences that cannot answer (no new figure for "how many", no date for "when", no X with a
speech cue for "what did X say"). The answerability head decides whether the best allowed
sentence answers at all; below ``ReaderSettings.min_logit`` the reader abstains and names what
is missing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from qa.answer.abstain import passage_gates
from qa.answer.analysis import KINDS, QuestionText, SentenceText
from qa.answer.evidence import ArticleTerms
from qa.answer.extractive import _is_statement, abstention
from qa.answer.features import Candidate, candidate_features
from qa.answer.joint import JointModel
from qa.answer.quotes import refers_back
from qa.answer.rules import AnswerRules, unsupported
from qa.answer.scorer import NO_ANSWER, WEIGHTS_DIR, SentenceScorer, question_row
from qa.answer.sentence_tokens import shared_cache
from qa.answer.slots import slot_test
from qa.config import AnswerSettings, ReaderSettings
from qa.embed.encoder import Encoder
from qa.errors import SettingsError
from qa.index.base import IndexReader
from qa.memo import Memo
from qa.records import Answer, Citation
from qa.search.hits import Hit, Retrieval
from qa.text.dates import MONTH_NAMES

_ARTICLES_KEPT = 512  # analysed whole articles (a question reads up to 8)


@dataclass(frozen=True)
class _Sentence:
    hit: int  # index into the hits
    start: int  # offsets in the article text
    end: int
    text: str


class TrainedReader:
    """Scores every quotable sentence of the passages with the trained scorer; quotes the best
    first, then the best sentences of other articles close behind, oldest first."""

    def __init__(
        self,
        encoder: Encoder,
        settings: ReaderSettings = ReaderSettings(),
        answer_settings: AnswerSettings = AnswerSettings(),
        *,
        joint: bool = False,
    ) -> None:
        unknown = sorted(set(dict(settings.slot_weights)) - set(KINDS))
        if unknown:
            raise SettingsError(
                f"slot_weights names {', '.join(unknown)}: the kinds are {', '.join(KINDS)}"
            )
        self.settings = settings
        self.gates = answer_settings
        self.scorer = SentenceScorer.load(WEIGHTS_DIR / settings.weights, settings.weights_sha256)
        # The joint model (qa/answer/joint.py) rescores the ranker's best few sentences.
        self.joint = (
            JointModel.load(WEIGHTS_DIR / settings.joint_weights, settings.joint_sha256)
            if joint
            else None
        )
        self.min_logit = settings.joint_min_logit if joint else settings.min_logit
        self._encoder = encoder
        self._terms = ArticleTerms()
        self.sentences = shared_cache(
            encoder,
            settings.weights_sha256,
            self.scorer.sentence,
            settings.token_vector_bytes,
            answer_settings.min_quote_words,
        )
        self.rules = AnswerRules(settings, self.scorer)
        self._articles: Memo[SentenceText | None] = Memo(_ARTICLES_KEPT)

    def answer(
        self,
        question: str,
        retrieval: Retrieval,
        index: IndexReader,
        *,
        notices: tuple[str, ...] = (),
    ) -> Answer:
        hits = list(retrieval.hits)
        passages = tuple(h.passage() for h in hits)
        reason = passage_gates(question, retrieval.plan, hits, index, self._terms, self.gates)
        if reason:
            return abstention(question, reason, passages, notices)
        q = self.scorer.question(question, _idf(index, retrieval))
        sentences, cands, tokens = self._candidates(q, hits, index)
        if not sentences:
            reason = "the closest passages hold no sentence to quote"
            return abstention(question, reason, passages, notices)
        qv = self._encoder.encode_tokens([question])[0]
        x = candidate_features(q, qv.pooled, qv.tokens, qv.offsets, cands, tokens)
        logits = self.scorer.ranker.logit(x)
        allowed, reason = self.rules.allowed(q, x, logits, [t.text for t in sentences], cands)
        if reason:
            answer = abstention(question, reason, passages, notices)
            return dataclasses.replace(answer, confidence=_probability(NO_ANSWER))
        rows = np.flatnonzero(allowed)
        # the answerability head reads the ranker's logits as trained; the lead is chosen
        # with the slot bonus (qa/answer/slots.py)
        logit = float(self.scorer.answer.logit(question_row(x[rows], logits[rows])[None])[0])
        bonus = self._slot_bonus(q, question, sentences, cands, rows, logits)
        logits = logits + bonus
        top = int(rows[np.argmax(logits[rows])])
        if self.joint is not None:
            top, logit, logits = self._joint_read(qv.tokens, cands, rows, logits, logit)
        confidence = _probability(logit)
        if logit < self.min_logit and len(q.stems) <= self.settings.max_question_words:
            reason = unsupported(q, x[top], cands)
            answer = abstention(question, reason, passages, notices)
            return dataclasses.replace(answer, confidence=confidence)
        # the statements that join the lead are those close behind it on the ranker's own
        # logits: the form bonus picks the lead, it does not push the others out of the answer
        ranked = np.where(allowed, logits - bonus, -np.inf)
        chosen = self._choose(top, ranked, sentences, hits)
        spans = self._spans(chosen, logits - bonus, sentences, cands, hits)
        quoted = [_joined(sentences, span, i, hits) for i, span in spans]
        citations = tuple(_cite(n, s, hits[s.hit]) for n, s in enumerate(quoted, start=1))
        return Answer(
            question=question,
            text=" ".join(f"{c.quote} [{c.n}]" for c in citations),
            abstained=False,
            citations=citations,
            related=passages,
            notices=notices,
            confidence=confidence,
        )

    def _slot_bonus(
        self,
        q: QuestionText,
        question: str,
        sentences: list[_Sentence],
        cands: list[Candidate],
        rows: np.ndarray,
        logits: np.ndarray,
    ) -> np.ndarray:
        """The kind's slot weight (``slot_weights``, else ``slot_weight``) where a sentence
        holds the answer's form, else 0, within
        ``slot_scope`` of the ranker's lead (the best of the allowed ``rows``): "all"
        sentences; its "article"; or "article-first": its article's when the bonus lifts one of
        them over the lead, else all ("Which Iraqi officials denied ...": the Security Media
        Cell's statement next to the lead, not "The United States has denied ..." of another
        article; "How large was the American contingent ...": another article's "more than
        5,000 US troops" when the lead's article holds no figure near the top)."""
        scope = self.settings.slot_scope
        weight = dict(self.settings.slot_weights).get(q.kind, self.settings.slot_weight)
        if not weight:
            return np.zeros(len(logits))
        holds = slot_test(q.kind, question)
        slot = np.array([holds(s.text) for s in sentences], dtype=bool)
        best = int(rows[np.argmax(logits[rows])])
        same = np.array([c.doc == cands[best].doc for c in cands], dtype=bool)
        if scope == "article-first":
            near = np.zeros(len(logits), dtype=bool)
            near[rows] = logits[rows] + weight > logits[best]
            if (slot & same & near).any():
                slot &= same
        elif scope == "article":
            slot &= same
        return weight * slot

    def _joint_read(
        self,
        q_tokens: np.ndarray,
        cands: list[Candidate],
        rows: np.ndarray,
        logits: np.ndarray,
        logit: float,
    ) -> tuple[int, float, np.ndarray]:
        """(lead, answerability logit, ranking logits) once the joint model has read the
        ranker's ``top_n`` best allowed sentences: their ranking logits gain ``rank_weight`` x
        the joint logit, and the answerability logit joins the lead's joint logit (the weights
        fitted with the model, in its manifest under "combine")."""
        assert self.joint is not None
        c = self.joint.manifest["combine"]
        head = rows[np.argsort(-logits[rows], kind="stable")[: int(c["top_n"])]]
        joint = self.joint.logits(q_tokens, [cands[i].tokens for i in head.tolist()])
        logits = logits.astype(np.float64, copy=True)
        logits[head] += float(c["rank_weight"]) * joint
        best = int(np.argmax(logits[head]))
        answer = float(c["v1"]) * logit + float(c["joint"]) * float(joint[best]) + float(c["bias"])
        return int(head[best]), answer, logits

    def _candidates(
        self, q: QuestionText, hits: list[Hit], index: IndexReader
    ) -> tuple[list[_Sentence], list[Candidate], np.ndarray | None]:
        """The passages' quotable sentences (one copy of each: chunks overlap), as candidates.

        Sentences of one article are numbered in reading order; a gap (a sentence not in the
        passages) skips a number, so only sentences that follow each other are neighbours.
        A news sentence is dated and sourced by its article: the question's words that name
        the article's outlet, year or month count as said by each of its sentences ("the 2018
        bombing" is answered by a 2018 article that never writes the year).
        """
        by_chunk = self.sentences.of([h.chunk for h in hits])
        seen: dict[tuple[str, int], tuple[int, int, np.ndarray, np.ndarray, SentenceText]] = {}
        for i, h in enumerate(hits):
            packed = by_chunk[h.chunk.id]
            for (a, b), pooled, rows, text in zip(
                packed.spans.tolist(), packed.pooled, packed.token_rows(), packed.texts
            ):
                key = (h.chunk.article_id, h.chunk.start + a)
                seen.setdefault(key, (i, h.chunk.start + b, pooled, rows, text))
        docs = {aid: n for n, aid in enumerate(dict.fromkeys(k[0] for k in seen))}
        meta = {h.chunk.article_id: self._meta_stems(q, h) for h in hits}
        sentences, cands, tokens = [], [], []
        last: dict[str, tuple[int, int]] = {}  # article -> (position, end) of its last sentence
        for (aid, start), (i, end, pooled, rows, text) in sorted(seen.items()):
            position, previous_end = last.get(aid, (-2, -10))
            position += 1 if start - previous_end <= 3 else 2
            last[aid] = (position, end)
            chunk = hits[i].chunk
            quote = chunk.text[start - chunk.start : end - chunk.start]
            sentences.append(_Sentence(i, start, end, quote))
            doc_text = self._article(index, aid)
            if meta[aid]:
                text, doc_text = _with_stems(text, meta[aid]), _with_stems(doc_text, meta[aid])
            cands.append(Candidate(pooled, rows, text, docs[aid], position, doc_text))
            tokens.append(rows)
        all_tokens = np.concatenate(tokens).astype(np.float32) if tokens else None
        return sentences, cands, all_tokens

    def _meta_stems(self, q: QuestionText, hit: Hit) -> frozenset[str]:
        """The question's stems that the hit's outlet or publication year and month give."""
        chunk = hit.chunk
        day = chunk.published or ""
        words = [chunk.source or "", day[:4]]
        if len(day) >= 7 and day[5:7].isdigit() and 1 <= int(day[5:7]) <= 12:
            words.append(MONTH_NAMES[int(day[5:7]) - 1])
        meta = self.scorer.sentence(" ".join(words)).stems
        return frozenset(meta & set(q.stems))

    def _article(self, index: IndexReader, article_id: str) -> SentenceText | None:
        """The whole article analysed (title and text), kept for the next questions."""

        def make() -> SentenceText | None:
            article = index.article(article_id)
            return (
                self.scorer.sentence(f"{article.title or ''}\n{article.text}") if article else None
            )

        # an Assistant answers from several threads at a time: Memo is thread-safe
        return self._articles.get((index.catalog().name, article_id), make)

    def _spans(
        self,
        chosen: list[int],
        scores: np.ndarray,
        sentences: list[_Sentence],
        cands: list[Candidate],
        hits: list[Hit],
    ) -> list[tuple[int, list[int]]]:
        """(quoted sentence, the sentences its quote spans in reading order) for the lead
        (``chosen[0]``) and each chosen statement not inside the lead's quote
        (qa/answer/quotes.py): a quote takes in the previous sentence when it points back to it
        (``antecedent``); the lead also the next sentence when that one points back to it and
        its ranking ``scores`` are within ``continuation_margin`` of the lead's. Only sentences
        next to it in the article, inside its passage, and quoted nowhere else."""
        where = {(c.doc, c.position): j for j, c in enumerate(cands)}

        def neighbour(i: int, step: int) -> int | None:
            j = where.get((cands[i].doc, cands[i].position + step))
            chunk = hits[sentences[i].hit].chunk
            inside = range(chunk.start, chunk.start + len(chunk.text) + 1)
            if j is None or sentences[j].start not in inside or sentences[j].end not in inside:
                return None
            return j

        def span(i: int, taken: set[int], lead: bool) -> list[int]:
            out = [i]
            before = neighbour(i, -1) if self.settings.antecedent else None
            if before is not None and before not in taken and refers_back(sentences[i].text):
                out.insert(0, before)
            after = neighbour(i, 1) if lead else None
            margin = self.settings.continuation_margin
            near = after is not None and scores[after] >= scores[i] - margin
            if near and refers_back(sentences[after].text):
                out.append(after)
            return out

        top = chosen[0]
        lead = span(top, {top}, lead=True)
        rest = [i for i in chosen[1:] if i not in lead]
        taken = {*lead, *rest}
        spans = [(top, lead)]
        for i in rest:
            spans.append((i, span(i, taken, lead=False)))
            taken.update(spans[-1][1])
        return spans

    def _choose(
        self, top: int, logits: np.ndarray, sentences: list[_Sentence], hits: list[Hit]
    ) -> list[int]:
        """The lead, then other articles' best sentences close behind it, oldest first; with
        no other article close behind, the lead's article's next best sentences (an answer
        often spans two), in reading order."""
        lead_article = hits[sentences[top].hit].chunk.article_id
        best: dict[str, int] = {}
        same: list[int] = []
        floor = logits[top] - self.settings.support_margin
        for i in np.argsort(-logits, kind="stable").tolist():
            if i == top:
                continue
            if not np.isfinite(logits[i]) or logits[i] < floor:
                break
            aid = hits[sentences[i].hit].chunk.article_id
            if aid != lead_article:
                best.setdefault(aid, i)
            elif _is_statement(sentences[i].text):
                same.append(i)
        others = list(best.values())[: self.gates.max_statements - 1]
        if others:
            others.sort(key=lambda i: (hits[sentences[i].hit].chunk.published or "9", -logits[i]))
            return [top, *others]
        return [top, *sorted(same[: self.settings.runners_up], key=lambda i: sentences[i].start)]


def _joined(sentences: list[_Sentence], span: list[int], top: int, hits: list[Hit]) -> _Sentence:
    """One quote of the adjacent sentences ``span`` (reading order), cut from the passage of
    the lead (``top``), which holds them all."""
    if len(span) == 1:
        return sentences[top]
    first, last = sentences[span[0]], sentences[span[-1]]
    chunk = hits[sentences[top].hit].chunk
    text = chunk.text[first.start - chunk.start : last.end - chunk.start]
    return _Sentence(sentences[top].hit, first.start, last.end, text)


def _with_stems(text: SentenceText | None, stems: frozenset[str]) -> SentenceText | None:
    if text is None:
        return None
    prefixes = frozenset(s[:5] for s in stems if len(s) >= 5)
    return dataclasses.replace(
        text, stems=text.stems | stems, prefixes=text.prefixes | prefixes, names=text.names | stems
    )


def _idf(index: IndexReader, retrieval: Retrieval):  # noqa: ANN202
    """BM25 IDF of a stem in this index; a stem the index never saw gets the rarest IDF."""
    known = dict(retrieval.term_weights)
    chunks = max(index.catalog().chunks, 1)
    unseen = math.log(1.0 + (chunks + 0.5) / 0.5)

    def idf(stem: str) -> float:
        if stem not in known:
            known.update(index.term_weights([stem]))
        return known.get(stem, unseen)

    return idf


def _probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))


def _cite(n: int, sentence: _Sentence, hit: Hit) -> Citation:
    return Citation(
        **hit.passage().to_dict(),
        n=n,
        quote=sentence.text,
        quote_start=sentence.start,
        quote_end=sentence.end,
    )
