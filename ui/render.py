"""HTML for answers, citation cards and the article viewer; every article string is escaped."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlparse

import qa

_CONTEXT_CHARS = 280  # passage text shown on each side of the quote in a card
_MARKER = re.compile(r"\[(\d{1,3})\]")
OPEN_CARDS = 3  # source cards shown open under an answer; the rest fold under "show N more"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")

CSS = """
.qa-answer { line-height: 1.55; }
.qa-answer .qa-text { margin: 0 0 .6em 0; }
.qa-ref { font-weight: 600; color: var(--color-accent); white-space: nowrap; }
.qa-ref[data-ref] { cursor: pointer; text-decoration: underline dotted; }
.qa-ref[data-ref]:hover, .qa-ref[data-ref]:focus { text-decoration: underline; }
.qa-tools { margin: .2em 0 .4em 0; }
.qa-copy { font-size: .82em; padding: .15em .6em; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); }
.qa-more > summary { cursor: pointer; font-size: .9em; opacity: .85; margin: .3em 0; }
.qa-hidden { display: none !important; }
.qa-archive { width: 100%; border-collapse: collapse; font-size: .92em; }
.qa-archive th, .qa-archive td { text-align: left; padding: .35em .5em; vertical-align: top;
  border-bottom: 1px solid var(--border-color-primary); }
.qa-archive .qa-open { cursor: pointer; font-weight: 600; color: var(--color-accent); }
.qa-archive .qa-open:hover { text-decoration: underline; }
.qa-remove { font-size: .85em; cursor: pointer; border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: .1em .5em; background: transparent; }
@media (max-width: 640px) { .qa-archive td:nth-child(4), .qa-archive th:nth-child(4),
  .qa-archive td:nth-child(5), .qa-archive th:nth-child(5) { display: none; } }
.qa-cited-tag { font-size: .8em; font-weight: 600; color: var(--color-accent); }
.qa-notice, .qa-abstain { border-left: 3px solid #94a3b8; padding: .3em .7em; margin: .4em 0;
  background: rgba(148, 163, 184, .12); border-radius: 4px; font-size: .92em; }
.qa-abstain { border-left-color: #d97706; background: rgba(217, 119, 6, .08); font-size: 1em; }
.qa-why { font-size: .88em; opacity: .8; margin-top: .15em; }
.qa-cards-title { font-size: .85em; text-transform: uppercase; letter-spacing: .04em;
  opacity: .7; margin: .8em 0 .3em 0; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .55em .8em; margin: .45em 0; background: var(--background-fill-secondary); }
.qa-card-head { font-weight: 600; }
.qa-card-meta { font-size: .85em; opacity: .75; margin: .1em 0 .35em 0; }
.qa-card-text { font-size: .92em; margin: 0; }
.qa-answer mark, .qa-article mark { background: #fde68a; color: #1f2937; padding: 0 .1em;
  border-radius: 2px; }
.qa-article mark.qa-passage { background: rgba(253, 230, 138, .35); color: inherit; }
.qa-article { position: relative; max-height: 560px; overflow-y: auto; padding: .2em .9em .8em .9em;
  border: 1px solid var(--border-color-primary); border-radius: 8px; }
.qa-article h3 { margin: .6em 0 .2em 0; }
.qa-article .qa-body { white-space: pre-wrap; line-height: 1.6; }
.qa-empty { opacity: .7; font-style: italic; }
"""


@dataclass(frozen=True)
class Ref:
    """One source of an answer as the viewer and timeline use it: a span of an article."""

    n: int
    label: str
    title: str  # the headline, or the lead sentence marked "(no headline)"
    article_id: str
    start: int
    end: int
    source: str | None
    published: str | None
    quote: str
    is_quote: bool = True  # False: a related passage of an abstention, not a cited quote


def references(answer: Any, leads: dict[str, str] | None = None) -> list[Ref]:
    """The citations of an answer (span = the quote), or for an abstention its related
    passages (span = the passage); ``leads`` as from ``qa.Assistant.leads``."""
    leads = leads or {}
    if answer.citations:
        return [_citation_ref(c, leads) for c in answer.citations]
    return [_passage_ref(n, p, leads) for n, p in enumerate(answer.related, start=1)]


def title_of(record: Any, leads: dict[str, str] | None = None) -> str:
    """What to call the article of a passage or citation (see ``qa.display_title``)."""
    return qa.display_title(record.title, (leads or {}).get(record.article_id))


def question_html(question: str) -> str:
    """The user's turn in the chat, shown verbatim."""
    return f'<div class="qa-question">{_text(question)}</div>'


def answer_html(answer: Any, *, turn: str = "", leads: dict[str, str] | None = None) -> str:
    """The assistant's turn: the answer with clickable [n] markers and a copy button on top,
    then the source cards, the first three open and the rest folded.

    Args:
        answer: A ``qa.Answer``.
        turn: This turn's key; marker n carries the class "qa-key-<turn>-<n>" (``ui.scripts``).
        leads: Lead sentences of untitled articles (``qa.Assistant.leads``).

    Returns:
        One HTML block without blank lines (so chat Markdown leaves it alone).
    """
    leads = leads or {}
    parts = ['<div class="qa-answer">']
    parts += [f'<div class="qa-notice">{_text(n)}</div>' for n in answer.notices]
    if answer.abstained:
        plain = answer.text or "The corpus does not contain an answer to this question."
        why = f'<div class="qa-why">Why: {_text(answer.reason)}</div>' if answer.reason else ""
        parts.append(f'<div class="qa-abstain"><b>{_text(plain)}</b>{why}</div>')
        parts.append(_copy_button(answer, leads))
        if answer.related:
            parts.append('<div class="qa-cards-title">Closest passages (not an answer)</div>')
            parts += _folded([passage_card(p, leads) for p in answer.related])
    else:
        by_n = {c.n: c for c in answer.citations}
        text = _MARKER.sub(lambda m: _marker(m, by_n, turn, leads), _text(answer.text))
        parts.append(f'<p class="qa-text">{text}</p>')
        parts.append(_copy_button(answer, leads))
        if answer.citations:
            parts.append('<div class="qa-cards-title">Sources</div>')
            parts += _folded([citation_card(c, leads, turn=turn) for c in answer.citations])
    parts.append("</div>")
    return "".join(parts)


def _marker(m: re.Match[str], by_n: dict[int, Any], turn: str, leads: dict[str, str]) -> str:
    """A [n] marker: a link to source n with "title · outlet · date" on hover."""
    c = by_n.get(int(m.group(1)))
    if c is None:
        return f'<span class="qa-ref">{m.group(0)}</span>'
    hover = _text(" · ".join(_where(c, leads)))
    return (
        f'<span class="{_ref_class(turn, c.n)}" role="button" tabindex="0" title="{hover}">'
        f"{m.group(0)}</span>"
    )


def _ref_class(turn: str, n: int) -> str:
    """A marker's classes: "qa-ref qa-key-<turn>-<n>" (the chat's sanitiser keeps classes,
    not data attributes); ``turn`` is hex, so the class is always a plain word."""
    return f"qa-ref qa-key-{re.sub(r'[^0-9a-f]', '', turn)}-{n}"


def _copy_button(answer: Any, leads: dict[str, str]) -> str:
    """The "Copy answer with sources" button and, hidden beside it, the Markdown it copies
    (newlines as entities, so the HTML block has no blank line)."""
    markdown = escape(answer.to_markdown(leads=leads), quote=False).replace("\n", "&#10;")
    return (
        '<div class="qa-tools"><button type="button" class="qa-copy">Copy answer with sources'
        f'</button><div class="qa-md qa-hidden">{markdown}</div></div>'
    )


def _folded(cards: list[str]) -> list[str]:
    if len(cards) <= OPEN_CARDS:
        return cards
    rest = cards[OPEN_CARDS:]
    return [
        *cards[:OPEN_CARDS],
        f'<details class="qa-more"><summary>show {len(rest)} more</summary>{"".join(rest)}'
        "</details>",
    ]


def citation_card(c: Any, leads: dict[str, str] | None = None, *, turn: str = "") -> str:
    """Card for a ``qa.Citation``: title, outlet, date, the passage with the quote marked."""
    qs, qe = c.quote_start - c.start, c.quote_end - c.start
    if not (0 <= qs <= qe <= len(c.text)) or c.text[qs:qe] != c.quote:
        found = c.text.find(c.quote)
        qs, qe = (found, found + len(c.quote)) if found >= 0 else (0, 0)
    before, after = c.text[max(0, qs - _CONTEXT_CHARS) : qs], c.text[qe : qe + _CONTEXT_CHARS]
    body = (
        ("…" if qs > _CONTEXT_CHARS else "")
        + _text(before)
        + f"<mark>{_text(c.text[qs:qe] if qe > qs else c.quote)}</mark>"
        + _text(after)
        + ("…" if qe + _CONTEXT_CHARS < len(c.text) else "")
    )
    ref = f'<span class="{_ref_class(turn, c.n)}" role="button" tabindex="0">'
    return _card(f"{ref}[{c.n}]</span> ", c, body, leads)


def passage_card(p: Any, leads: dict[str, str] | None = None) -> str:
    """Card for a ``qa.Passage`` (related passages of an abstention), no highlight."""
    text = p.text if len(p.text) <= 2 * _CONTEXT_CHARS else p.text[: 2 * _CONTEXT_CHARS] + "…"
    return _card("", p, _text(text), leads)


def citation_label(c: Any, leads: dict[str, str] | None = None) -> str:
    """One line naming a citation: "[1] Title · outlet · date"."""
    return f"[{c.n}] " + " · ".join(_where(c, leads))


def article_html(article: Any, start: int, end: int, *, quote: bool = True) -> str:
    """The whole cleaned article with ``article.text[start:end]`` in ``<mark id="cited">``
    (a pale mark when the span is a related passage rather than a quote)."""
    text = article.text
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    mark = '<mark id="cited">' if quote else '<mark id="cited" class="qa-passage">'
    body = escape(text[:start]) + mark + escape(text[start:end]) + "</mark>" + escape(text[end:])
    title = _text(qa.display_title(article.title, qa.lead_sentence(article.text)))
    return (
        f'<div class="qa-article"><h3>{title}</h3>'
        f'<div class="qa-card-meta">{_meta(article)}</div>'
        f'<div class="qa-body">{body}</div></div>'
    )


def empty_html(text: str) -> str:
    """A greyed placeholder line."""
    return f'<div class="qa-empty">{_text(text)}</div>'


def md_escape(text: str) -> str:
    """Escape text for Markdown so article text cannot add links, HTML or formatting."""
    return _MD_SPECIAL.sub(r"\\\1", escape(" ".join(text.split()), quote=False))


def short(text: str, limit: int = 90) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def count(n: int, noun: str) -> str:
    """ "1 thing is" or "n things are"."""
    return f"1 {noun} is" if n == 1 else f"{n} {noun}s are"


def when(iso: str) -> str:
    """An ISO timestamp as "YYYY-MM-DD HH:MM UTC" (unchanged if it does not parse)."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M") + (
        " UTC" if moment.utcoffset() == dt.timedelta(0) else ""
    )


def _card(prefix: str, record: Any, body: str, leads: dict[str, str] | None) -> str:
    """``prefix`` is HTML (the card's marker)."""
    title = _text(title_of(record, leads))
    return (
        f'<div class="qa-card"><div class="qa-card-head">{prefix}{title}</div>'
        f'<div class="qa-card-meta">{_meta(record)}</div>'
        f'<p class="qa-card-text">{body}</p></div>'
    )


def _meta(record: Any) -> str:
    parts = [_text(record.source or "outlet unknown"), _text(record.published or "date unknown")]
    url = _safe_url(record.url)
    if url:
        parts.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">link</a>')
    return " · ".join(parts)


def _where(record: Any, leads: dict[str, str] | None = None) -> list[str]:
    title = title_of(record, leads)
    return [short(title, 70), record.source or "outlet unknown", record.published or "undated"]


def _citation_ref(c: Any, leads: dict[str, str]) -> Ref:
    return Ref(
        n=c.n,
        label=citation_label(c, leads),
        title=title_of(c, leads),
        article_id=c.article_id,
        start=c.quote_start,
        end=c.quote_end,
        source=c.source,
        published=c.published,
        quote=c.quote,
    )


def _passage_ref(n: int, p: Any, leads: dict[str, str]) -> Ref:
    return Ref(
        n=n,
        label=f"(related {n}) " + " · ".join(_where(p, leads)),
        title=title_of(p, leads),
        article_id=p.article_id,
        start=p.start,
        end=p.end,
        source=p.source,
        published=p.published,
        quote=p.text,
        is_quote=False,
    )


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown: a javascript: URL in an article must not become a link."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        return None
    return escape(url.strip(), quote=True)


def _text(text: str) -> str:
    """Escape for HTML and flatten newlines, so the block stays one Markdown HTML block."""
    return escape(text, quote=True).replace("\r", "").replace("\n", " ")
