"""Reader features: how well ONE candidate sentence (and its neighbours) answers a question.

Pure numpy and ``re`` (PyStemmer, a product dependency through bm25s, is used for stems when
no ``stem`` function is passed). Everything a sentence needs is computed once per sentence
(`analyse_sentence`) and can be cached with its chunk; everything a question needs once per
question (`analyse_question`); `candidate_features` then scores 40-80 candidates in one matrix
product.

Inputs from the embedding side (frozen all-MiniLM-L6-v2):
  * the pooled, unit-length vector of the question and of each sentence (what the product has);
  * the unit-length token vectors (last_hidden_state rows, wordpieces without [CLS]/[SEP]) of
    the question and of each sentence, with each wordpiece's character span in its text.

Feature families (names in FEATURES, in order):
  semantic   pooled cosine; ColBERT-style MaxSim of the question's content words (each word's
             best cosine to the sentence's tokens, IDF-weighted mean, min, the IDF-weighted
             largest shortfall), over the sentence alone and over sentence + neighbours;
             the same for the question's focus words (names, numbers, dates); the share of the
             sentence's tokens the question does not already say (something new to answer with)
  lexical    IDF-weighted share of the question's stems in the sentence, in the window, in the
             whole document; focus words missing from the window / from the document
  kind       the answer kind asked for (person, place, entity, number, date, other, yes/no) and
             whether the sentence holds a new one (a name, figure or date the question lacks)
  contrast   the question's figure/date absent while the sentence has another one; negation in
             the question or in the sentence only; "what did X say" with X not in the sentence
             or no speech verb
  relative   the candidate's pooled cosine and MaxSim minus the best among the candidates
  shape      statement or headline, length
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Stem = Callable[[list[str]], list[str]]

# Not content: question words, the 33 bm25s English stop words, and other function words.
STOP = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with who whom whose what which when where why how did does
    do were has have had can could would should may might must shall been being am its his her
    hers him he she we our you your my me i us them those than also about from after before
    during over under between while both each all any some other another same one ones more most
    much many very so just only upon within without onto via per s t say says said tell told
    according since whether""".split()  # noqa: SIM905
)
# bm25s' token pattern, plus single digits and dotted acronyms ("U.S." is one word, "US")
_WORD = re.compile(r"\b(?:[A-Za-z]\.){2,}|\w\w+|\d", re.UNICODE)
_MONTHS = (  # noqa: SIM905
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
_NUMBER_WORDS = frozenset(
    """two three four five six seven eight nine ten eleven twelve thirteen fifteen twenty thirty
    forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands million millions
    billion billions trillion dozen dozens half percent several single once twice triple double
    few""".split()  # noqa: SIM905
)
_DATE_RE = re.compile(
    r"\b(?:1\d{3}|20\d\d)s?\b|\b\d{1,2}(?:st|nd|rd|th)\s+centur(?:y|ies)\b|\bcentur(?:y|ies)\b|"
    r"\b(?:" + "|".join(_MONTHS + _DAYS) + r")\b|\b(?:yesterday|today|tonight|decades?|era|"
    r"morning|afternoon|evening|night|noon|midnight|dawn|dusk|spring|summer|autumn|winter|"
    r"(?:fir|seco|thi|four|fif|six|seven|eigh|nin|ten|eleven|twelf|twent)\w*th\s+centur\w+|"
    r"first|second|third|BC|AD|BCE|CE)\b|\b\d{3,4}\b",
    re.I,
)
_NUMBER_RE = re.compile(r"\d[\d,.]*|\b(?:" + "|".join(sorted(_NUMBER_WORDS)) + r")\b", re.I)
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|neither|nor|without|cannot|unable)\b|n['’]t\b",
    re.I,
)
_SPEECH = re.compile(
    r"\b(?:said|says|say|told|tells|tell|stated|states|statement|announced|announces|claimed|"
    r"claims|according|added|noted|warned|wrote|declared|denied|denies|insisted|argued|"
    r"described|called|urged|confirmed|reported|quoted|spokesman|spokeswoman|spokesperson)\b",
    re.I,
)
_SAY_QUESTION = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|had)\s+(?P<who>(?:\S+\s+){0,5}?\S+)\s+(?:say|said|tell|"
    r"told|state|announce|claim|write|wrote|argue|warn|report|reveal|deny|think|believe)\b",
    re.I,
)
_ACCORDING = re.compile(r"\baccording\s+to\s+(?P<who>(?:[^\s,?]+\s+){0,5}?[^\s,?]+)\s*[,?]", re.I)
KINDS = ("person", "place", "entity", "number", "date", "other", "yesno")
_KIND_PATTERNS = (
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|large|big|long|old|far|tall|often|high|few)\b|"
            r"\bwhat\s+(?:number|percentage|percent|share|amount|size|proportion)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\W*when\b|\bwhen\s+(?:did|does|do|was|were|is|are|will|would|has|"
            r"have|had)\b|\bwhat\s+(?:year|years|date|day|month|century|decade|time|"
            r"period|era)\b|\bin\s+which\s+(?:year|century|decade)\b|\bsince\s+when\b",
            re.I,
        ),
    ),
    ("person", re.compile(r"\b(?:who|whom|whose)\b", re.I)),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhat\s+(?:country|city|state|region|place|town)\b|"
            r"\bwhich\s+(?:country|city|state|region|place|town)\b",
            re.I,
        ),
    ),
    (
        "entity",
        re.compile(
            r"\bwhich\b|\bwhat\s+(?:is|was|are|were)\s+the\s+name\b|"
            r"\bname\s+(?:of|the)\b",
            re.I,
        ),
    ),
)
_MEASURE = re.compile(r"\bhow\s+(?:long|old|far|often|large|big|tall|high)\b", re.I)
_YES_NO = re.compile(
    r"^\s*(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should)\b", re.I
)
# Opposites: a sentence that has one where the question has the other does not answer it
# ("who identified themselves as French" vs "... identified themselves as English" is caught by
# the missing word; these catch "least" vs "most", "before" vs "after"). Compared as stems.
ANTONYMS = (
    ("less", "more"), ("least", "most"), ("fewer", "more"), ("smaller", "larger"),
    ("smallest", "largest"), ("lower", "higher"), ("lowest", "highest"), ("first", "last"),
    ("before", "after"), ("earlier", "later"), ("early", "late"), ("increase", "decrease"),
    ("rise", "fall"), ("gain", "loss"), ("positive", "negative"), ("above", "below"),
    ("inside", "outside"), ("minimum", "maximum"), ("older", "newer"), ("oldest", "newest"),
    ("old", "new"), ("young", "old"), ("youngest", "oldest"), ("start", "end"), ("begin", "end"),
    ("win", "lose"), ("won", "lost"), ("success", "failure"), ("accept", "reject"),
    ("allow", "forbid"), ("allow", "prohibit"), ("support", "oppose"), ("import", "export"),
    ("north", "south"), ("east", "west"), ("male", "female"), ("men", "women"),
    ("major", "minor"), ("strong", "weak"), ("long", "short"), ("wide", "narrow"),
    ("past", "future"), ("past", "present"), ("modern", "ancient"), ("public", "private"),
    ("internal", "external"), ("domestic", "foreign"), ("legal", "illegal"),
    ("common", "rare"), ("same", "different"), ("true", "false"), ("right", "wrong"),
    ("easy", "difficult"), ("easy", "hard"), ("cheap", "expensive"), ("rich", "poor"),
    ("day", "night"), ("light", "dark"), ("heavy", "light"), ("high", "low"), ("top", "bottom"),
    ("confirm", "deny"), ("admit", "deny"), ("agree", "disagree"), ("like", "dislike"),
    ("self", "nonself"), ("before", "since"),
)  # fmt: skip
NOVEL_COSINE = 0.6  # a sentence token below this best cosine to the question says something new


# ----------------------------------------------------------------------------- text analysis


def default_stem() -> Stem:
    """Snowball English stems (PyStemmer), as the product's BM25 tokenizer uses."""
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    return lambda words: stemmer.stemWords(words)


def answer_kind(question: str) -> str:
    """One of KINDS: what sort of answer the question asks for."""
    if _YES_NO.match(question):
        return "yesno"
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


def _words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end); dotted acronyms lose their dots ("U.S." -> "US")."""
    return [(m.group(0).replace(".", ""), m.start(), m.end()) for m in _WORD.finditer(text)]


def _is_stop(word: str) -> bool:
    """A function word; an all-capitals word ("US", "IT") never is one."""
    return word.lower() in STOP and not (word.isupper() and len(word) >= 2)


def _is_name(text: str, word: str, start: int) -> bool:
    """Capitalised (or a digit-led token) and not a function word ("The", "When")."""
    return (word[0].isupper() or word[0].isdigit()) and not _is_stop(word)


_MONTH_RE = "|".join(_MONTHS)
_DAY_MONTH = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_RE})\b\.?|"
    rf"\b(?:{_MONTH_RE})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    re.I,
)


def _numbers(text: str) -> set[str]:
    """Figures in ``text``, day-and-month dates blanked ("5 January" is a date, not a count;
    a bare "1990" stays a figure too)."""
    blank = _DAY_MONTH.sub(" ", text)
    return {m.group(0).lower().rstrip(".,") for m in _NUMBER_RE.finditer(blank)}


def _dates(text: str) -> set[str]:
    return {m.group(0).lower() for m in _DATE_RE.finditer(text)}


@dataclass
class SentenceText:
    """What the features need from a sentence's text (cacheable per sentence)."""

    stems: frozenset[str]
    prefixes: frozenset[str]  # 5-letter stem prefixes ("kurdish" ~ "kurdistan")
    names: frozenset[str]  # stems of capitalised words
    numbers: frozenset[str]
    dates: frozenset[str]
    negated: bool
    speech: bool
    statement: bool
    n_words: int
    words: frozenset[str] = frozenset()  # lower-cased surface words, "non-self" -> "nonself"


def analyse_sentence(text: str, stem: Stem) -> SentenceText:
    words = _words(text)
    stems = stem([w.lower() for w, _, _ in words])
    names = {s for (w, a, _), s in zip(words, stems) if _is_name(text, w, a)}
    return SentenceText(
        stems=frozenset(stems),
        prefixes=frozenset(s[:5] for s in stems if len(s) >= 5),
        names=frozenset(names),
        numbers=frozenset(_numbers(text)),
        dates=frozenset(_dates(text)),
        negated=bool(_NEGATION.search(text)),
        speech=bool(_SPEECH.search(text)),
        statement=text.rstrip()[-1:] in ".!?\"'”’)",
        n_words=len(words),
        words=frozenset(w.lower() for w, _, _ in words) | _joined(text),
    )


def _joined(text: str) -> frozenset[str]:
    """Hyphenated prefixes joined ("non-self" -> "nonself"), for opposite checks."""
    return frozenset(m.group(1).lower() + m.group(2).lower()
                     for m in re.finditer(r"\b(non|un|in|anti)-(\w+)", text, re.I))  # fmt: skip


@dataclass
class QuestionText:
    """The question's content words (stems, spans, IDF weights) and its focus."""

    text: str
    kind: str
    stems: list[str]  # content words, in order, unique
    spans: list[tuple[int, int]]  # their first character span in the question
    focus: np.ndarray  # bool per content word: a name, number or date
    numbers: frozenset[str]
    dates: frozenset[str]
    negated: bool
    speaker: list[str]  # stems of X in "what did X say" / "according to X"
    speaker_cue: bool = False  # "what did X say": the sentence must also hold a speech cue
    measure: bool = False  # "how long/old/far ...": a date or period answers too
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # IDF, set by with_idf
    surface: set[str] = field(default_factory=set)  # lower-cased words of the question


def analyse_question(text: str, stem: Stem) -> QuestionText:
    words = [(w, a, b) for w, a, b in _words(text) if not _is_stop(w)]
    stems = stem([w.lower() for w, _, _ in words])
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):
        seen.setdefault(s, i)
    order = sorted(seen.values())
    date_words = {w for d in _dates(text) for w in d.split()}
    speaker, cue = _speaker(text, stem)
    focus = [
        _is_name(text, words[i][0], words[i][1]) or words[i][0].lower() in date_words for i in order
    ]
    return QuestionText(
        text=text,
        kind=answer_kind(text),
        stems=[stems[i] for i in order],
        spans=[(words[i][1], words[i][2]) for i in order],
        focus=np.array(focus, dtype=bool),
        numbers=frozenset(_numbers(text)),
        dates=frozenset(_dates(text)),
        negated=bool(_NEGATION.search(text)),
        speaker=speaker,
        speaker_cue=cue,
        measure=bool(_MEASURE.search(text)),
        surface={w.lower() for w, _, _ in _words(text)},
    )


def _speaker(text: str, stem: Stem) -> tuple[list[str], bool]:
    """Stems of X in "what did X say" (speech cue required) or "according to X, ..." (not)."""
    m = _SAY_QUESTION.search(text)
    cue = bool(m)
    m = m or _ACCORDING.search(text)
    if not m:
        return [], False
    return [
        s for s in stem([w.lower() for w, _, _ in _words(m.group("who")) if not _is_stop(w)])
    ], cue


def with_idf(q: QuestionText, idf: Callable[[str], float]) -> QuestionText:
    """``q`` with each content word weighted by ``idf(stem)`` (document frequency based)."""
    q.weights = np.array([max(idf(s), 1e-3) for s in q.stems], dtype=np.float64)
    return q


def _has(sent: SentenceText, stem: str) -> bool:
    return stem in sent.stems or (len(stem) >= 5 and stem[:5] in sent.prefixes)


# ----------------------------------------------------------------------------- embeddings


def word_pieces(spans: Sequence[tuple[int, int]], offsets: np.ndarray) -> list[np.ndarray]:
    """Indices of the wordpieces (rows of ``offsets``) inside each word span."""
    out = []
    for a, b in spans:
        inside = np.flatnonzero(
            (offsets[:, 0] >= a) & (offsets[:, 1] <= b) & (offsets[:, 1] > offsets[:, 0])
        )
        out.append(inside)
    return out


@dataclass
class Candidate:
    """A sentence to score: its pooled vector, token vectors, text analysis and neighbours."""

    pooled: np.ndarray  # (384,)
    tokens: np.ndarray  # (n, 384), unit rows, no special tokens
    text: SentenceText
    doc: int  # candidates with the same doc are one article/chunk sequence
    position: int  # sentence number inside the doc (neighbours are position +- 1)
    doc_text: SentenceText | None = None  # the whole document (article) analysed, optional


FEATURES = (
    "cos", "cos_rel",
    "ms_mean", "ms_min", "ms_short", "ms_rel",
    "msw_mean", "msw_min", "msw_short",
    "ms_focus_min", "msw_focus_min",
    "ms_all_mean",
    "novel",
    "lex", "lex_win", "lex_doc",
    "focus_sent", "focus_win", "focus_miss_win", "focus_miss_doc", "has_focus",
    "miss_win", "miss_idf_win", "miss_sim_max", "miss_sim_min", "miss_idf_sent", "antonym",
    *(f"kind_{k}" for k in KINDS),
    "fit", "fit_person", "fit_place", "fit_entity", "fit_number", "fit_date",
    "fit_win",
    "num_conflict", "num_support",
    "neg_q_only", "neg_s_only",
    "say_q", "speaker_sent", "speaker_ok", "speaker_win",
    "statement", "log_words",
)  # fmt: skip


def _segment_max(sims: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(k, total) similarities -> (k, n_candidates) best per candidate segment (-1 if empty)."""
    out = np.full((sims.shape[0], len(sizes)), -1.0)
    nonempty = sizes > 0
    if sims.shape[1]:
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])[nonempty]
        out[:, nonempty] = np.maximum.reduceat(sims, starts, axis=1)
    return out


def _window(per_cand: np.ndarray, cands: Sequence[Candidate]) -> np.ndarray:
    """Max over the candidate and its neighbours (same doc, position +- 1) along axis -1."""
    where = {(c.doc, c.position): i for i, c in enumerate(cands)}
    out = per_cand.copy()
    for i, c in enumerate(cands):
        for d in (-1, 1):
            j = where.get((c.doc, c.position + d))
            if j is not None:
                out[..., i] = np.maximum(out[..., i], per_cand[..., j])
    return out


def _weighted_stats(m: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``m`` (words x candidates): weighted mean, min, largest weighted shortfall."""
    if m.shape[0] == 0:
        ones = np.ones(m.shape[1])
        return ones, ones, np.zeros(m.shape[1])
    wn = w / w.sum()
    short = ((1.0 - m) * (w / w.max())[:, None]).max(0)
    return (wn[:, None] * m).sum(0), m.min(0), short


def candidate_features(
    q: QuestionText,
    q_pooled: np.ndarray,
    q_tokens: np.ndarray,
    q_offsets: np.ndarray,
    cands: Sequence[Candidate],
    all_tokens: np.ndarray | None = None,
) -> np.ndarray:
    """(n_candidates, len(FEATURES)) float32 features of each candidate for question ``q``.

    ``all_tokens``, optional, is the candidates' token vectors already concatenated in order
    (float32), e.g. cached per chunk; otherwise they are concatenated here.
    """
    n = len(cands)
    sizes = np.array([len(c.tokens) for c in cands])
    if all_tokens is None:
        all_tokens = np.concatenate([c.tokens for c in cands]).astype(np.float32, copy=False)
    sims = q_tokens.astype(np.float32, copy=False) @ all_tokens.T  # (question tokens, all tokens)
    best_tok = _segment_max(sims, sizes)  # (question tokens, n)
    words = _word_maxsim(best_tok, word_pieces(q.spans, q_offsets))
    words_win = _window(words, cands)
    w = q.weights if len(q.weights) == len(q.stems) else np.ones(len(q.stems))
    ms_mean, ms_min, ms_short = _weighted_stats(words, w)
    msw_mean, msw_min, msw_short = _weighted_stats(words_win, w)
    focus = q.focus
    cos = np.stack([c.pooled for c in cands]).astype(np.float32) @ q_pooled.astype(np.float32)
    cols = {
        "cos": cos,
        "cos_rel": cos - cos.max(),
        "ms_mean": ms_mean,
        "ms_min": ms_min,
        "ms_short": ms_short,
        "ms_rel": ms_mean - ms_mean.max(),
        "msw_mean": msw_mean,
        "msw_min": msw_min,
        "msw_short": msw_short,
        "ms_focus_min": words[focus].min(0) if focus.any() else np.ones(n),
        "msw_focus_min": words_win[focus].min(0) if focus.any() else np.ones(n),
        "ms_all_mean": best_tok.mean(0) if len(best_tok) else np.ones(n),
        "novel": _novelty(sims, sizes),
        **_lexical(q, w, cands, words_win),
        **_fits(q, cands),
        **{f"kind_{k}": np.full(n, float(q.kind == k)) for k in KINDS},
        "statement": np.array([float(c.text.statement) for c in cands]),
        "log_words": np.log1p([c.text.n_words for c in cands]),
    }
    return np.stack([np.asarray(cols[f], dtype=np.float64) for f in FEATURES], 1).astype(np.float32)


def _word_maxsim(best_tok: np.ndarray, pieces: list[np.ndarray]) -> np.ndarray:
    """(words, n): each content word's mean over its wordpieces of their best cosine."""
    n = best_tok.shape[1]
    if not pieces:
        return np.zeros((0, n))
    return np.stack([best_tok[p].mean(0) if len(p) else np.ones(n) for p in pieces])


def _novelty(sims: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Share of each candidate's tokens whose best cosine to any question token is low."""
    if sims.shape[0] == 0 or sims.shape[1] == 0:
        return np.zeros(len(sizes))
    novel = (sims.max(0) < NOVEL_COSINE).astype(np.float64)
    ends = np.cumsum(sizes)
    counts = np.diff(np.concatenate([[0.0], np.cumsum(novel)[ends - 1]]))
    counts[sizes == 0] = 0.0
    return counts / np.maximum(sizes, 1)


def _nan_to(reduce: Callable, m: np.ndarray, empty: float) -> np.ndarray:
    """``reduce`` over axis 0 ignoring NaN; ``empty`` where a column is all NaN (or no rows)."""
    if m.shape[0] == 0:
        return np.full(m.shape[1], empty)
    full = ~np.isnan(m).all(0)
    out = np.full(m.shape[1], empty)
    out[full] = reduce(m[:, full], axis=0)
    return out


_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in ANTONYMS:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)


def _opposite(q: QuestionText, s: SentenceText) -> bool:
    """The sentence has the opposite of a question word and not the word itself."""
    for word in q.surface:
        for other in _OPPOSITE.get(word, ()):
            if other in s.words and word not in s.words:
                return True
    return False


def _lexical(
    q: QuestionText, w: np.ndarray, cands: Sequence[Candidate], words_win: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(cands)
    has = np.array([[_has(c.text, s) for c in cands] for s in q.stems], dtype=float).reshape(
        len(q.stems), n
    )
    has_win = _window(has, cands)
    has_doc = np.array(
        [[_has(c.doc_text, s) if c.doc_text else 1.0 for c in cands] for s in q.stems], dtype=float
    ).reshape(len(q.stems), n)
    wn = w / w.sum() if len(w) else w
    share = lambda m: (wn[:, None] * m).sum(0) if len(w) else np.ones(n)  # noqa: E731
    focus = q.focus
    f_share = lambda m: m[focus].mean(0) if focus.any() else np.ones(n)  # noqa: E731
    f_miss = lambda m: (1.0 - m[focus]).sum(0) if focus.any() else np.zeros(n)  # noqa: E731
    idf_rel = w / w.max() if len(w) else w
    absent = 1.0 - has_win
    miss_sims = np.where(absent > 0, words_win, np.nan) if len(w) else np.zeros((0, n))
    return {
        "miss_win": np.minimum(absent.sum(0), 3.0) if len(w) else np.zeros(n),
        "miss_idf_win": (absent * idf_rel[:, None]).max(0) if len(w) else np.zeros(n),
        "miss_idf_sent": ((1.0 - has) * idf_rel[:, None]).max(0) if len(w) else np.zeros(n),
        "miss_sim_max": _nan_to(np.nanmax, miss_sims, 0.0),
        "miss_sim_min": _nan_to(np.nanmin, miss_sims, 1.0),
        "antonym": np.array([float(_opposite(q, c.text)) for c in cands]),
        "lex": share(has),
        "lex_win": share(has_win),
        "lex_doc": share(has_doc),
        "focus_sent": f_share(has),
        "focus_win": f_share(has_win),
        "focus_miss_win": np.minimum(f_miss(has_win), 2.0),
        "focus_miss_doc": np.minimum(f_miss(has_doc), 2.0),
        "has_focus": np.full(n, float(focus.any())),
    }


def _new_kind(q: QuestionText, s: SentenceText) -> bool:
    """The sentence holds something of the kind asked for that the question does not say."""
    if q.kind == "number":
        found = s.numbers | s.dates if q.measure else s.numbers
        return bool(found - q.numbers - q.dates)
    if q.kind == "date":
        return bool(s.dates - q.dates)
    if q.kind in ("person", "place", "entity"):
        return bool(s.names - set(q.stems))
    return bool(s.stems - set(q.stems))


def _fits(q: QuestionText, cands: Sequence[Candidate]) -> dict[str, np.ndarray]:
    fit = np.array([float(_new_kind(q, c.text)) for c in cands])
    out = {"fit": fit, "fit_win": _window(fit, cands)}
    for k in ("person", "place", "entity", "number", "date"):
        out[f"fit_{k}"] = fit * (q.kind == k)
    asked = q.numbers | q.dates
    support = np.array(
        [float(bool(asked) and asked <= (c.text.numbers | c.text.dates)) for c in cands]
    )
    other = np.array([float(bool((c.text.numbers | c.text.dates) - asked)) for c in cands])
    out["num_support"] = support
    out["num_conflict"] = float(bool(asked)) * (1.0 - support) * other
    out["neg_q_only"] = np.array([float(q.negated and not c.text.negated) for c in cands])
    out["neg_s_only"] = np.array([float(c.text.negated and not q.negated) for c in cands])
    say = bool(q.speaker)
    spk = np.array([np.mean([_has(c.text, s) for s in q.speaker]) if say else 1.0 for c in cands])
    speech = np.array([float(c.text.speech or not q.speaker_cue) for c in cands])
    out["say_q"] = np.full(len(cands), float(say))
    out["speaker_sent"] = spk
    out["speaker_ok"] = (spk >= 1.0) * speech if say else np.ones(len(cands))
    out["speaker_win"] = _window(out["speaker_ok"], cands)
    return out


STRICT_KINDS = ("number", "date")


def rule_mask(q: QuestionText, x: np.ndarray) -> np.ndarray:
    """Candidates the hard rules allow (bool per row of ``candidate_features``' output).

    * a figure or date question ("how many", "when") is answered only by a sentence holding a
      figure or date the question does not already give;
    * "what did X say" / "according to X" is answered only by a sentence that, with its
      neighbours, names X (all of X's content words) next to a speech cue ("said", "statement").
    No allowed candidate: the reader abstains.
    """
    ok = np.ones(len(x), dtype=bool)
    if q.kind in STRICT_KINDS:
        ok &= x[:, FEATURES.index("fit")] > 0
    if q.speaker:
        ok &= x[:, FEATURES.index("speaker_win")] > 0
    return ok
