"""When not to answer: checks on the retrieved passages before any sentence is chosen.

Each gate returns the reason shown to the user, or None. They run in order, cheapest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.evidence import ArticleTerms, Terms
from qa.config import AnswerSettings
from qa.index.base import IndexReader
from qa.search.hits import Hit
from qa.search.query import QueryPlan
from qa.text.tokens import tokenize

# Outlets a question may name that are well known; when the index holds none of their articles,
# the question asks about coverage the corpus does not have.
KNOWN_OUTLETS = (
    "Reuters",
    "Associated Press",
    "BBC",
    "CNN",
    "New York Times",
    "Washington Post",
    "Wall Street Journal",
    "Financial Times",
    "Bloomberg",
    "Al Jazeera",
    "Guardian",
    "Fox News",
    "NBC News",
    "CBS News",
    "ABC News",
    "NPR",
    "Politico",
    "Axios",
    "Forbes",
    "Rolling Stone",
    "ESPN",
    "USA Today",
    "Los Angeles Times",
    "Time magazine",
    "Newsweek",
    "The Economist",
    "Le Monde",
    "Der Spiegel",
    "Xinhua",
    "Al Arabiya",
    "Press TV",
    "Rudaw",
    "Arab News",
    "Kurdistan24",
    "Space.com",
    "Nature",
    "The Atlantic",
    "Vox",
    "Vice",
)


def passage_gates(
    question: str,
    plan: QueryPlan,
    hits: Sequence[Hit],
    index: IndexReader,
    terms: ArticleTerms,
    settings: AnswerSettings,
) -> str | None:
    """Why the passages cannot answer ``question``, or None when a sentence may be chosen."""
    if not hits:
        return "no passage in the index matches the question or filters"
    missing_outlet = unknown_outlet(question, hits, index.catalog().sources)
    if missing_outlet:
        return f"the index holds no articles from {missing_outlet}"
    if max(h.dense for h in hits) < settings.min_cosine:
        return "no passage is close enough in meaning to the question"
    support, absent = term_support(plan, hits[: settings.support_passages], index, terms)
    if support < settings.min_term_support or absent:
        missing = ", ".join(absent[:4]) if absent else "most of the question's key terms"
        return f"the corpus does not mention {missing} in this context"
    return None


def term_support(
    plan: QueryPlan, hits: Sequence[Hit], index: IndexReader, terms: ArticleTerms
) -> tuple[float, list[str]]:
    """Share of the question's key terms that the hits' articles mention, and names they don't.

    Whole articles count, not only the passages: a multi-article question names people and
    things that sit in different parts of different articles.
    """
    if not plan.terms:
        return 1.0, []
    articles = dict.fromkeys(h.chunk.article_id for h in hits)
    found = Terms({t for aid in articles for t in terms.of(index, aid)})
    stems = dict(zip(plan.terms, tokenize(list(plan.terms))))
    supported = [t for t in plan.terms if all(s in found for s in stems[t])]
    name_stems = dict(zip(plan.names, tokenize(list(plan.names))))
    names = [n for n, s in name_stems.items() if s and not all(x in found for x in s)]
    return len(supported) / len(plan.terms), names


def unknown_outlet(question: str, hits: Sequence[Hit], indexed: Sequence[str]) -> str | None:
    """A well-known outlet the question names that neither the index nor the passages hold."""
    have = (" ".join(indexed) + " " + " ".join(h.chunk.text for h in hits)).casefold()
    for outlet in KNOWN_OUTLETS:
        named = re.search(rf"(?<!\w){re.escape(outlet)}(?!\w)", question)
        if named and outlet.casefold() not in have:
            return outlet
    return None
