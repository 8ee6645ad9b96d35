"""Whether a sentence holds the thing the question asks for, in the form that kind takes.

The trained ranker's kind features (``features._new_kind``) count any new capitalised word as a
person, place or entity and any figure as a count, so a sentence that restates the question's
topic ("the attackers slaughtered the mother and three sisters of an Iraqi election commission
employee") can outrank its neighbour that holds the answer ("... from the Turkmen minority in
the town of Hamrin"). ``slot_test`` reads the form the answer takes:

* person: a run of two or more capitalised words, one of them not in the question
  ("Abdul Karim Khalaf");
* place: a capitalised word the question does not say, at most PLACE_AFTER words after a
  preposition of place or a place noun ("in the town of Hamrin", "from a base in Kuwait";
  "the mother and three sisters of an Iraqi election commission employee" has none);
* number: a figure that is not a span of time ("more than 5,000"; "two days after" is not a
  size), unless the question asks how long, old or often; for how many were killed (or
  injured), one next to a word for it ("killed 22", not "injured 12");
* organisation ("which militia", "which TV outlet"): a run of two or more capitalised words with
  a new one ("Kataib Hezbollah", "Defense Ministry") or a new "al-" name ("al-Sumaria");
* entity ("which aircraft", "the name of"): a new capitalised word or a code ("F-15E").

A dateline ("ERBIL, Kurdistan Region -", "BAGHDAD, 5 January —") names where the report was
filed, not an answer: it is left out of the sentence first.

The reader adds the kind's weight (``ReaderSettings.slot_weights``, else ``slot_weight``) to
the ranking logit of a sentence that holds one (qa/answer/trained.py); the answerability head
reads the logits as trained.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.answer.analysis import STOP
from qa.answer.kinds import DATE_PARTS

_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’\-]+(?:\s+(?:[A-Z]\.\s+)?[A-Z][\w'’\-]+)+")
# A place name stands a few words after a preposition of place or a place noun ("in Kuwait",
# "from a base in Kuwait", "the Syrian border town of Albu Kamal").
_LOCATIVE = frozenset(
    "in at from near into across outside inside toward towards".split()  # noqa: SIM905
)
PLACE_AFTER = 4
_WORD = re.compile(r"[\w'’\-]+")
# A model or unit code: letters and digits in one word ("MQ-9", "F-15E").
CODE = re.compile(r"^(?=[\w\-]*\d)(?=[\w\-]*[A-Za-z])[\w\-]+$")
_UNITS = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century|nights?"
_NUMBER = re.compile(
    r"(?<![\w\-])(?:\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?)(?![\w\-])"
    rf"(?P<unit>[\s\-]+(?:{_UNITS})\b)?",
    re.I,
)
_WH = re.compile(
    r"\b(?:(?P<person>who|whom|whose)|(?P<place>where)|(?P<number>how\s+(?:many|much|large|big))|"
    r"(?:which|what)\s+(?P<nouns>(?:[\w\-’']+\s+){0,2}[\w\-’']+))",
    re.I,
)
_PERSON_NOUNS = frozenset(
    """officer official minister leader spokesman spokeswoman spokesperson commander general
    president lawmaker politician senator secretary ambassador envoy cleric journalist reporter
    man woman person king queen emperor pope bishop scientist author player candidate chief
    governor mayor head""".split()  # noqa: SIM905
)
_PLACE_NOUNS = frozenset(
    """town city country province region state village district place base capital area
    neighbourhood neighborhood street island county""".split()  # noqa: SIM905
)
# The dead and the injured of a strike are counted apart ("killed 22 of its members", "injured
# 12 other of its operatives"): a figure counts for one within TOLL_NEAR words of its words.
_DEAD = re.compile(
    r"\b(?:kill\w*|dead|died|die|deaths?|fatalit\w*|lost\s+their\s+lives|slain|slaughter\w*|"
    r"massacr\w*|murder\w*|execut\w*|perish\w*|martyr\w*)\b",
    re.I,
)
_HURT = re.compile(r"\b(?:injur\w*|wounded|wounds?|hurt)\b", re.I)
TOLL_NEAR = 6
_ORGANISATION_NOUNS = frozenset(
    """militia group organisation organization movement party faction alliance coalition outlet
    network newspaper paper channel agency broadcaster company firm ministry department
    institution bank court council committee union brigade army""".split()  # noqa: SIM905
)
_AL_NAME = re.compile(r"(?<![\w\-])al-[A-Z][\w'’\-]*")
# "ERBIL, Kurdistan Region - ", "BAGHDAD, 5 January — ", "IRBIL: ": a place in capitals, an
# optional region or date, then a dash or a colon.
_DATELINE = re.compile(
    r"^[A-Z][A-Z'’\-]{2,}(?:\s+[A-Z][A-Z'’\-]+)*(?:,[^—–\-:]{1,40})?\s*[—–\-:]\s+"
)
_SPAN_ASKED = re.compile(r"\bhow\s+(?:long|old|often)\b", re.I)


def asked_form(question: str, kind: str) -> str:
    """The form of the answer: the question's first wh-phrase decides ("In which town did the
    employee whose family ..." asks for a place, "which officer" for a person); else ``kind``,
    the trained features' answer kind (``analysis.answer_kind``)."""
    m = _WH.search(question)
    if not m:
        return kind
    if m.group("person"):
        return "person"
    if m.group("place"):
        return "place"
    if m.group("number"):
        return "number"
    for word in m.group("nouns").casefold().split():  # "which two-star officer"
        owner = re.search(r"['’]s?$", word)  # "which US department's spokesperson": a department
        word = re.sub(r"(?:['’]s?|s)$", "", word)
        if word in _PERSON_NOUNS:
            return "person"
        if word in _PLACE_NOUNS:
            return "place"
        if word in _ORGANISATION_NOUNS:
            return "organisation"
        if owner:
            break
    return kind


def holds_slot(kind: str, question: str, sentence: str) -> bool:
    """Whether ``sentence`` holds an answer of the form ``question`` asks for; see
    ``slot_test``."""
    return slot_test(kind, question)(sentence)


def slot_test(kind: str, question: str) -> Callable[[str], bool]:
    """Whether a sentence holds an answer of the form ``question`` asks for (``asked_form``:
    "person", "place", "number", "organisation", "entity") that it does not already give;
    False for others. ``kind``: the trained features' answer kind, used when the wh-phrase
    names no form. The question is read once; the test is then applied to each candidate
    sentence."""
    form = asked_form(question, kind)
    said = said_prefixes(question)
    test: Callable[[str], bool]
    if form == "person":
        test = lambda sentence: names_someone(sentence, said)  # noqa: E731
    elif form == "place":
        test = lambda sentence: _names_place(sentence, said)  # noqa: E731
    elif form == "number":
        spans_count, toll = bool(_SPAN_ASKED.search(question)), _toll(question)
        test = lambda sentence: _gives_figure(sentence, said, spans_count, toll)  # noqa: E731
    elif form == "organisation":
        test = lambda sentence: _names_organisation(sentence, said)  # noqa: E731
    elif form == "entity":
        test = lambda sentence: _names_thing(sentence, said)  # noqa: E731
    else:
        return lambda sentence: False
    return lambda sentence: test(without_dateline(sentence))


def without_dateline(sentence: str) -> str:
    """``sentence`` without a leading dateline ("ERBIL, Kurdistan Region - The ..." -> "The
    ...")."""
    return _DATELINE.sub("", sentence, count=1)


def _names_organisation(sentence: str, said: set[str]) -> bool:
    if names_someone(sentence, said):
        return True
    return any(m.group().casefold()[:5] not in said for m in _AL_NAME.finditer(sentence))


def said_prefixes(question: str) -> set[str]:
    """The first five letters of each of the question's words, lower-cased: what it says."""
    return {w.lower()[:5] for w in _WORD.findall(question)}


def _names_place(sentence: str, said: set[str]) -> bool:
    words = _WORD.findall(sentence)
    for i, w in enumerate(words[1:], start=1):
        before = {b.casefold().rstrip("s") for b in words[max(i - PLACE_AFTER, 0) : i]}
        if _new_name(w, said) and before & (_LOCATIVE | _PLACE_NOUNS):
            return True
    return False


def _gives_figure(
    sentence: str, said: set[str], spans_count: bool, toll: re.Pattern[str] | None
) -> bool:
    text = DATE_PARTS.sub(" ", sentence)
    return any(
        (spans_count or not m.group("unit"))
        and m.group().split()[0].casefold()[:5] not in said
        and (toll is None or _counts(text, m, toll))
        for m in _NUMBER.finditer(text)
    )


def _names_thing(sentence: str, said: set[str]) -> bool:
    words = _WORD.findall(sentence)
    return any(CODE.match(w) and w.casefold()[:5] not in said for w in words) or any(
        _new_name(w, said) for w in words[1:]
    )


def _toll(question: str) -> re.Pattern[str] | None:
    """For "how many ... were killed / lost their lives / were injured": the words a figure
    must stand near to count the dead or the injured (the other count is no answer)."""
    if not re.search(r"\bhow\s+many\b", question, re.I):
        return None
    if _DEAD.search(question):
        return _DEAD
    if _HURT.search(question):
        return _HURT
    return None


def _counts(text: str, figure: re.Match[str], toll: re.Pattern[str]) -> bool:
    """Whether a word of ``toll`` stands within TOLL_NEAR words of ``figure``."""
    before = _WORD.findall(text[: figure.start()])[-TOLL_NEAR:]
    after = _WORD.findall(text[figure.end() :])[:TOLL_NEAR]
    return bool(toll.search(" ".join(before + after)))


def _new_name(word: str, said: set[str]) -> bool:
    function_word = word.lower() in STOP and not (word.isupper() and len(word) >= 2)  # "US"
    return word[:1].isupper() and not function_word and word.casefold()[:5] not in said


def names_someone(text: str, said: set[str]) -> bool:
    """A run of two or more capitalised words ("Abdul Karim Khalaf") with one whose first five
    letters are not in ``said``."""
    for run in _CAPITALISED_RUN.findall(text):
        words = [w for w in _WORD.findall(run) if w.lower() not in STOP]
        if len(words) >= 2 and any(w.lower()[:5] not in said for w in words):
            return True
    return False
