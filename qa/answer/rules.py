"""Which sentences may answer a question, and, when none may, what is missing.

The trained reader's hard rules, on top of its features (qa/answer/features.py): the trained
ones (a figure for "how many", a date for "when", X and a speech cue for "what did X say"), read
for news questions ("according to X" loosely), and the answerability checks of issue 11: the role
asked for ("who is the mayor of ...") and the topic of a statement ("what did X say about Y")
named near the answer. Each setting and its measurement is in ``qa.config.ReaderSettings``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from qa.answer.analysis import STOP, QuestionText, SentenceText, focus_words, speaker_phrase
from qa.answer.features import FEATURES, Candidate, neighbourhood_max, rule_mask
from qa.answer.scorer import SentenceScorer
from qa.answer.slots import CODE, names_someone, said_prefixes
from qa.config import ReaderSettings
from qa.text.dates import MONTH_NAMES, WEEKDAY_NAMES

# "according to X": this share of X's capitalised words must be in the sentence or its
# neighbours (set on the seed set: the three answerable "according to" questions pass at 0.5).
SPEAKER_NAME_SHARE = 0.5
# A statement an article reproduces speaks in the first person plural ("The statement reads:
# ... We affirm that ..."): such a sentence counts as said by X when its article names X as
# above (seed q05, "according to the Cell refuting the Pentagon": the Cell's "We affirm that the
# Iraqi Armed Forces ... the Commander-in-Chief" names no Cell).
_FIRST_PLURAL = re.compile(r"\b(?:[Ww]e|[Oo]ur|us)\b")


class AnswerRules:
    """``allowed(q, x, texts, cands)``: the sentences that may answer, or why none may."""

    def __init__(self, settings: ReaderSettings, scorer: SentenceScorer) -> None:
        self.settings = settings
        self.scorer = scorer

    def allowed(
        self,
        q: QuestionText,
        x: np.ndarray,
        logits: np.ndarray,
        texts: Sequence[str],
        cands: Sequence[Candidate],
    ) -> tuple[np.ndarray, str | None]:
        """(mask of the candidates that may answer, the reason when none may); ``logits`` are
        the ranker's, ``texts`` the candidates' sentences."""
        trained = _allowed(q, x, texts, cands, self.scorer)
        role, role_word = self._role_rule(q, cands)
        asked = named_thing(q.text) if self.settings.named_rule else None
        role &= self._named_rule(q, asked, texts, cands)
        topic, topic_words = self._topic_rule(q, cands)
        focus = self._focus_rule(q, x) & self._person_rule(q, texts, cands)
        consistent = self._contradiction_rule(q, x)
        allowed = trained & role & topic & focus & consistent
        if allowed.any():
            return allowed, None
        if not trained.any():
            return allowed, _barred(q)
        if not (trained & role).any():
            if asked:
                return allowed, f"no sentence of the closest passages names the {asked.phrase}"
            return allowed, f"no sentence of the closest passages mentions a {role_word}"
        if not (trained & role & topic).any():
            who, about = speaker_phrase(q.text) or "the speaker", " and ".join(topic_words)
            said = f"says what {who} said about {about}"
            return allowed, f"no sentence of the closest passages {said}"
        if not (trained & role & topic & focus).any():
            best = int(np.argmax(np.where(trained, logits, -np.inf)))
            return allowed, _focus_missing(q, best, cands)
        return allowed, "the closest passages give another figure or date than the question"

    def _focus_rule(self, q: QuestionText, x: np.ndarray) -> np.ndarray:
        """The question's names, figures and dates in the sentence or a neighbour, all but
        ``ReaderSettings.max_focus_missing`` of them (the article saying them elsewhere is not
        enough); -1 turns the rule off."""
        limit = self.settings.max_focus_missing
        if limit < 0 or not q.focus.any():
            return np.ones(len(x), dtype=bool)
        return x[:, FEATURES.index("focus_miss_win")] <= limit

    def _role_rule(self, q: QuestionText, cands: Sequence[Candidate]) -> tuple[np.ndarray, str]:
        """With ``ReaderSettings.role_rule``: "who is the mayor of ...", "the name of the
        commander": the role asked for must be named in the sentence or a neighbour."""
        asked = asked_role(q.text)
        if not self.settings.role_rule or not asked:
            return np.ones(len(cands), dtype=bool), ""
        role = asked[0]
        stems = self.scorer.sentence(role).stems
        has = np.array([all(_holds(c.text, s) for s in stems) for c in cands], dtype=float)
        return neighbourhood_max(has, cands) > 0, role

    def _named_rule(
        self,
        q: QuestionText,
        asked: NamedThing | None,
        texts: Sequence[str],
        cands: Sequence[Candidate],
    ) -> np.ndarray:
        """With ``ReaderSettings.named_rule`` (``asked`` is then ``named_thing(q.text)``): "the
        name of the commander of the coalition", "who is the leader of ...", "what model of
        drone ...": a sentence answers only when it names one next to the word asked for (see
        ``_names_near``). "The Iraqi government denied ... after the assassination of top
        Iranian and Iraqi commanders" names none."""
        if not asked:
            return np.ones(len(cands), dtype=bool)
        stems = self.scorer.sentence(asked.noun).stems
        prefix = (min(stems, key=len) if stems else asked.noun.lower())[:5]
        said = said_prefixes(q.text)
        return np.array([_names_near(t, prefix, said, asked) for t in texts], dtype=bool)

    def _topic_rule(
        self, q: QuestionText, cands: Sequence[Candidate]
    ) -> tuple[np.ndarray, list[str]]:
        """With ``ReaderSettings.speaker_topic``: "what did X say about Y" is answered only by
        X's statement in an article that names Y's names and dates (X's statement on another
        strike is no answer). The article, not the window: a report on the Babil strike quotes
        "Kataib Hezbollah said ... a US strike targeted" without repeating "Babil"."""
        if not self.settings.speaker_topic or not q.speaker_cue:
            return np.ones(len(cands), dtype=bool), []
        speaker = set(q.speaker)
        topic = [
            (w, s)
            for w, s in zip(focus_words(q), [s for s, f in zip(q.stems, q.focus.tolist()) if f])
            if s not in speaker
        ]
        ok = np.ones(len(cands), dtype=bool)
        for _, stem in topic:
            has = np.array([_holds(c.doc_text or c.text, stem) for c in cands], dtype=float)
            ok &= neighbourhood_max(has, cands) > 0
        return ok, [w for w, _ in topic]

    def _person_rule(
        self, q: QuestionText, texts: Sequence[str], cands: Sequence[Candidate]
    ) -> np.ndarray:
        """With ``ReaderSettings.person_rule``: "who ..." and "the name of the <role>" are only
        answered by a sentence (or neighbour) naming someone the question does not: a run of two
        capitalised words ("John F. Kirby", "Security Media Cell")."""
        asks = q.kind == "person" or (q.kind == "entity" and _ROLE.search(q.text))
        if not self.settings.person_rule or not asks:
            return np.ones(len(cands), dtype=bool)
        said = said_prefixes(q.text)
        named = np.array([names_someone(t, said) for t in texts], dtype=float)
        return neighbourhood_max(named, cands) > 0

    def _contradiction_rule(self, q: QuestionText, x: np.ndarray) -> np.ndarray:
        """With ``ReaderSettings.contradiction``: a question giving a figure or date is not
        answered by a sentence that gives another one instead."""
        if not self.settings.contradiction or not (q.numbers or q.dates):
            return np.ones(len(x), dtype=bool)
        return x[:, FEATURES.index("num_conflict")] == 0


def _allowed(
    q: QuestionText,
    x: np.ndarray,
    texts: Sequence[str],
    cands: Sequence[Candidate],
    scorer: SentenceScorer,
) -> np.ndarray:
    """The sentences that may answer: the trained rules, with "according to X" read loosely.

    The trained rules want all of X's content words next to a speech cue for "what did X say"
    (kept: the seed's "what did Iran's supreme leader say" has a near-miss "Iraq's leader"), and
    all of them in the window for "according to X, ...". Questions paraphrase X there ("the Cell
    refuting the Pentagon" for the Security Media Cell), so half of X's names are enough; a
    first-person-plural sentence of an article that names X that way is X's statement.
    """
    if not q.speaker or q.speaker_cue:
        return rule_mask(q, x)
    loose = dataclasses.replace(q, speaker=[])
    allowed = rule_mask(loose, x)
    who = speaker_phrase(q.text) or ""
    names = _capitalised(who, scorer) or list(q.speaker)
    share = np.array([np.mean([_holds(c.text, s) for s in names]) for c in cands])
    near = neighbourhood_max(share, cands) >= SPEAKER_NAME_SHARE
    names_x = {  # per article: does it name X
        c.doc: np.mean([_holds(c.doc_text, s) for s in names]) >= SPEAKER_NAME_SHARE
        for c in cands
        if c.doc_text is not None
    }
    voiced = np.array(
        [names_x.get(c.doc, False) and bool(_FIRST_PLURAL.search(t)) for t, c in zip(texts, cands)],
        dtype=bool,
    )
    return allowed & (near | voiced)


def _capitalised(text: str, scorer: SentenceScorer) -> list[str]:
    """Stems of the capitalised words of ``text`` (names, acronyms), function words left out."""
    words = [
        re.sub(r"['’]s$", "", w)
        for w in re.findall(r"[\w'’\-]+", text)
        if (w[:1].isupper() or w[:1].isdigit()) and w.lower() not in STOP
    ]
    return sorted(scorer.sentence(" ".join(words)).stems)


def _barred(q: QuestionText) -> str:
    """Why no sentence may answer: what the rules asked for and nothing held."""
    if q.speaker:
        who = speaker_phrase(q.text) or "the speaker asked about"
        return f"no sentence of the closest passages says what {who} said"
    return _no_figure(q)


def _no_figure(q: QuestionText) -> str:
    """The reason for a "how many" (figure) or "when" (date) question nothing answers."""
    what = "figure" if q.kind == "number" else "date"
    return f"the closest passages give no {what} that answers the question"


_ROLE_ASKED = re.compile(
    r"\bwho (?:is|was|are|were) (?:the|a|an) (?:\w+ )??([a-z][\w\-]+) of\b|"
    r"\bname of the ([a-z][\w\-]+)\b",
    re.I,
)
# After "the name of the", up to three words qualify the noun asked for ("the name of the first
# Huguenot church in the New World" asks for a church, not a "first"); these words end it.
_NOUN_ENDS = frozenset(
    {
        "of", "in", "on", "at", "for", "from", "that", "who", "whom", "which", "whose", "is",
        "was", "were", "are", "to", "by", "with", "through", "during", "did", "does", "do",
        "has", "have", "had", "and", "or",
    }
)  # fmt: skip
_NOUN_WORD = re.compile(r"\s*([\w'’\-]+)")


def asked_role(question: str) -> tuple[str, int, int] | None:
    """(noun, start, end) of the role a question asks who holds or the name of: "mayor" in
    "who is the mayor of ...", "church" in "the name of the first Huguenot church in ..."."""
    m = _ROLE_ASKED.search(question)
    if not m:
        return None
    if m.group(1):
        return m.group(1), m.start(1), m.end(1)
    noun, start, end = m.group(2), m.start(2), m.end(2)
    for _ in range(3):
        nxt = _NOUN_WORD.match(question, end)
        if not nxt or nxt.group(1).lower() in _NOUN_ENDS:
            break
        noun, end = nxt.group(1), nxt.end(1)
    return noun, start, end


_OFFICES = (
    r"commander|leader|head|president|minister|spokes\w+|chief|mayor|governor|director|"
    r"secretary|general|officer|ambassador|envoy"
)
_ROLE = re.compile(rf"\bname of the (?:\w+ )?(?:{_OFFICES})\b", re.I)
# An office's holder is named next to its title in news ("Mayor X", "commander X"); other
# "who is the X of" / "name of the X" answers are not (SQuAD dev: "the name of the Norman
# castle", "the patron saint of the Huguenots" lost 7 answerable questions to the rule).
_OFFICE = re.compile(rf"^(?:{_OFFICES})s?$", re.I)
_MODEL_ASKED = re.compile(
    r"\b(?:what|which) (model|make|brand|version) of (?:the |a |an )?([a-z][\w\-]+)", re.I
)
# A name of the thing asked for stands this many words from its noun at most ("US Ambassador
# to Iraq Alina Romanowski", "two American F-15E Strike Eagles"; seed questions q18, q31, q39).
NAMED_NEAR = 5
# A model's name stands right before its noun ("a Shahed-136 drone", "MQ-9 Reaper drones").
MODEL_BEFORE = 2
_CALENDAR = frozenset(MONTH_NAMES) | frozenset(WEEKDAY_NAMES)


@dataclasses.dataclass(frozen=True)
class NamedThing:
    """What a question asks the name of: ``noun`` ("commander"), said as ``phrase`` ("commander
    of the US-led coalition"); ``person``: a role held by someone; ``of``: the first letters of
    the content words of the role's "of X" (a name must stand near one of them too)."""

    noun: str
    phrase: str
    person: bool
    of: frozenset[str]


def named_thing(question: str) -> NamedThing | None:
    """The noun whose name ``question`` asks for: "commander" in "the name of the commander
    of ...", "leader" in "who is the leader of ...", "drone" in "what model of drone"."""
    role = asked_role(question)
    if role and _OFFICE.match(role[0]):
        noun, begin, end = role
        rest = question[end:]
        words = _complement(rest)
        cut = _CLAUSE_START.search(rest)
        phrase = (question[begin:end] + rest[: cut.start() if cut else len(rest)]).strip()
        return NamedThing(noun, phrase, True, frozenset(w.lower()[:5] for w in words))
    m = _MODEL_ASKED.search(question)
    if m:
        return NamedThing(m.group(2), f"{m.group(1).lower()} of {m.group(2)}", False, frozenset())
    return None


def _complement(rest: str) -> list[str]:
    """The words of "of X" after a role ("the commander of the US-led coalition in Iraq":
    US-led, coalition), up to a preposition or a clause, function words left out."""
    words = []
    for w in re.findall(r"[\w'’\-]+|[?,.;]", re.sub(r"^\s*of\b", "", rest)):
        if w in "?,.;" or w.lower() in _CLAUSE:
            break
        if w.lower() not in STOP:
            words.append(re.sub(r"['’]s$", "", w))
    return words


_CLAUSE = frozenset({"in", "at", "on", "during", "who", "whom", "that", "which", "when", "since"})
_CLAUSE_START = re.compile(rf"\s+(?:{'|'.join(sorted(_CLAUSE))})\b|[?,.;]", re.I)


def _names_near(text: str, prefix: str, said: set[str], asked: NamedThing) -> bool:
    """Whether ``text`` names the thing asked for next to a word starting with ``prefix`` (its
    noun): a code ("MQ-9", "F-15E") within NAMED_NEAR words, or words the question does not
    say: for a person, a run of two capitalised words within NAMED_NEAR words ("Iranian and
    Iraqi commanders" names nobody) and one of the role's "of X" words that near too ("Iranian
    commander Qassem Soleimani" is no commander of the coalition); for a thing, a capitalised
    word (not a day or month) right before the noun ("a Shahed drone")."""
    words = list(re.finditer(r"[\w'’\-]+", text))
    for i, w in enumerate(words):
        if not w.group().lower().startswith(prefix):
            continue
        near = words[max(i - NAMED_NEAR, 0) : i + NAMED_NEAR + 1]
        if asked.of and not any(n.group().lower()[:5] in asked.of for n in near if n is not w):
            continue
        if any(CODE.match(n.group()) for n in near):
            return True
        if asked.person:
            if names_someone(text[near[0].start() : near[-1].end()], said):
                return True
            continue
        for n in words[max(i - MODEL_BEFORE, 0) : i]:
            word = n.group()
            if (
                word[:1].isupper()
                and n.start() > 0
                and word not in _CALENDAR
                and word.lower() not in STOP
                and word.lower()[:5] not in said
            ):
                return True
    return False


def _focus_missing(q: QuestionText, best: int, cands: Sequence[Candidate]) -> str:
    """The focus words the best sentence and its neighbours lack, as the reason."""
    c = cands[best]
    window = [o.text for o in cands if o.doc == c.doc and abs(o.position - c.position) <= 1]
    stems = [s for s, f in zip(q.stems, q.focus.tolist()) if f]
    missing = [w for w, s in zip(focus_words(q), stems) if not any(_holds(t, s) for t in window)]
    return f"no sentence of the closest passages mentions {' and '.join(missing[:3])} together"


def unsupported(q: QuestionText, row: np.ndarray, cands: Sequence[Candidate]) -> str:
    """Why the best sentence does not answer: the focus words no sentence holds, if any."""
    missing = [
        w
        for w, stem in zip(focus_words(q), [s for s, f in zip(q.stems, q.focus.tolist()) if f])
        if not any(_holds(c.text, stem) for c in cands)
    ]
    if missing:
        return f"no sentence of the closest passages mentions {', '.join(missing[:4])}"
    if row[FEATURES.index("num_conflict")] > 0:
        return "the closest sentence gives another figure or date than the question"
    if q.kind in ("number", "date"):
        return _no_figure(q)
    return "no sentence of the closest passages answers the question"


def _holds(text: SentenceText, stem: str) -> bool:
    return stem in text.stems or (len(stem) >= 5 and stem[:5] in text.prefixes)
