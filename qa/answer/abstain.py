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
from qa.text.tokens import comparable, tokenize

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
    missing_outlet = unknown_outlet(question, hits, index)
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
    things that sit in different parts of different articles. Both sides are read ``comparable``
    ("Mongke" is supported by "Möngke", "US" by "U.S.").
    """
    if not plan.terms:
        return 1.0, []
    articles = dict.fromkeys(h.chunk.article_id for h in hits)
    found = Terms({t for aid in articles for t in terms.of(index, aid)})
    stems = dict(zip(plan.terms, tokenize([comparable(t) for t in plan.terms])))
    supported = [t for t in plan.terms if all(s in found for s in stems[t])]
    name_stems = dict(zip(plan.names, tokenize([comparable(n) for n in plan.names])))
    names = [n for n, s in name_stems.items() if s and not all(x in found for x in s)]
    return len(supported) / len(plan.terms), names


def unknown_outlet(question: str, hits: Sequence[Hit], index: IndexReader) -> str | None:
    """A well-known outlet the question names that no indexed article comes from or credits.

    An article credits an outlet in its title or opening lines, where a republished report
    names it ("Press TV – January 16, 2020" in a seed article from Aletho News, "(Reuters) -").
    An article that cites it further on ("economists surveyed by Bloomberg", in Fortune) is
    not its coverage: counting the whole passage, 8 null MultiHop-RAG dev questions were
    answered that way; no answerable one names an outlet the index lacks (README, "How it
    answers").
    """
    indexed = " ".join(index.catalog().sources).casefold()
    named = [
        o
        for o in KNOWN_OUTLETS
        if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", question) and o.casefold() not in indexed
    ]
    if not named:
        return None
    openings = []
    for article_id in dict.fromkeys(h.chunk.article_id for h in hits):
        article = index.article(article_id)
        if article is not None:
            openings.append(f"{article.title or ''}\n{article.text[:OPENING_CHARS]}")
    credited = " ".join(openings).casefold()
    return next((o for o in named if o.casefold() not in credited), None)


# How much of an article's text counts as its opening (dateline, byline, credit line): the
# seed's "Press TV – January 16, 2020" ends 45 characters in.
OPENING_CHARS = 300
