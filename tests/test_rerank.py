"""The sentence reranker (qa/answer/rerank.py) with the real model on the seed index."""

from __future__ import annotations

import pytest

import qa
from qa.answer.rerank import SentenceReranker
from qa.config import RerankSettings


class _Keep:
    """The default order, remembering the pool the retriever handed over."""

    def rerank(self, plan, hits, k):
        self.plan, self.pool = plan, list(hits)
        return list(hits)


@pytest.fixture(scope="module")
def pool(seed_index, encoder):
    keep = _Keep()
    assistant = qa.Assistant(seed_index, encoder, reranker=keep)
    assistant.retrieve("who denied cooperation in the Palestine Street strike?", k=5)
    return keep.plan, keep.pool


def test_it_reorders_the_head_and_keeps_every_hit(pool, encoder):
    plan, hits = pool
    reranker = SentenceReranker(encoder, RerankSettings(top_n=8, weight=100.0))
    out = reranker.rerank(plan, hits, 5)
    assert sorted(h.chunk.id for h in out) == sorted(h.chunk.id for h in hits)
    head = [h.chunk.id for h in out[:8]]
    assert head != [h.chunk.id for h in hits[:8]]  # a large weight reorders by sentence logits
    assert [h.chunk.id for h in out[8:]] == [h.chunk.id for h in hits[8:]]
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    logits = reranker.passage_logits(plan, hits[:8])
    assert out[0].chunk.id == hits[:8][int(logits.argmax())].chunk.id


def test_an_assistant_with_it_returns_k_passages(seed_index, encoder):
    reranker = SentenceReranker(encoder, RerankSettings(top_n=8, weight=1.0))
    assistant = qa.Assistant(seed_index, encoder, reranker=reranker)
    passages = assistant.retrieve("who denied cooperation in the Palestine Street strike?", k=3)
    assert len(passages) == 3
    assert "Security Media Cell" in " ".join(p.text for p in passages)


def test_the_reader_reads_what_the_reranker_encoded(seed_index, encoder):
    reranker = SentenceReranker(encoder, RerankSettings(top_n=8, weight=1.0))
    assistant = qa.Assistant(seed_index, encoder, reader="trained", reranker=reranker)
    assert assistant.reader.sentences is reranker.sentences  # one cache per encoder and weights
    question = "who denied cooperation in the Palestine Street strike?"
    assistant.retrieve(question, k=5)
    held = len(reranker.sentences)
    assert held >= 5  # the reranker encoded the head passages' sentences
    answer = assistant.ask(question, k=5)
    assert not answer.abstained and "Security Media Cell" in answer.citations[0].quote
    assert len(reranker.sentences) == held  # the reader encoded nothing new
