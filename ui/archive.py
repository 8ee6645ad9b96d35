"""The Archive tab: every indexed article a page at a time, counts by month and outlet, and
removing an article (its file moved to ``corpus/.removed/``, never deleted) or restoring it.

Only the public ``qa`` API is used: ``Assistant.articles`` pages the listing (the page never
holds the whole archive) and ``Assistant.update_index`` applies a removal or a restore.
"""

from __future__ import annotations

import datetime as dt
import logging
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

import qa
from ui import forms, render
from ui.removal import REMOVED, Removal

log = logging.getLogger(__name__)

PAGE_SIZE = 25  # rows on one page of the listing
_TOP_OUTLETS = 12  # bars in the per-outlet chart
SORTS = {
    "Date": "published",
    "Title": "title",
    "Outlet": "source",
    "Passages": "passages",
}
IN_FILTER, REST = "matching the filter", "rest of the archive"


def table_html(page: Any, corpus: Path, *, removable: bool) -> str:
    """The page's rows as an HTML table; a title opens the article, "Remove…" asks first."""
    if not page.rows:
        return render.empty_html("No indexed article matches.")
    head = "".join(f"<th>{h}</th>" for h in ("Title", "Outlet", "Date", "Passages", "Added on", ""))
    rows = []
    for i, r in enumerate(page.rows):
        remove = '<button type="button" class="qa-remove">Remove…</button>' if removable else ""
        rows.append(
            f'<tr data-row="{i}">'
            f'<td><span class="qa-open" role="button" tabindex="0">'
            f"{escape(render.short(r.headline, 110))}</span>"
            f'<div class="qa-card-meta">{escape(r.path or r.id)}</div></td>'
            f"<td>{escape(r.source or '—')}</td><td>{escape((r.published or '—')[:10])}</td>"
            f"<td>{r.passages}</td><td>{escape(added_on(corpus, r.path))}</td><td>{remove}</td>"
            "</tr>"
        )
    return (
        f'<table class="qa-archive"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def added_on(corpus: Path, path: str | None) -> str:
    """When the article's file arrived in the corpus folder (its modification day)."""
    try:
        moment = (corpus / (path or "")).stat().st_mtime
    except OSError:
        return "—"
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d")


def page_note(page: Any, whole: int) -> str:
    """ "Articles 1-25 of 120 matching (of 5,000 in the archive)"."""
    if not page.total:
        return f"No article matches (of {whole:,} in the archive)."
    first, last = page.offset + 1, page.offset + len(page.rows)
    return (
        f"Articles **{first:,}–{last:,}** of **{page.total:,}** matching "
        f"(of {whole:,} in the archive); {page.undated:,} matching are undated."
    )


def by_month(whole: Any, page: Any) -> pd.DataFrame:
    """Stacked bars per month: the matching articles, and the rest of the archive."""
    matching = dict(page.by_month)
    rows = []
    for month, n in whole.by_month:
        rows.append((month, IN_FILTER, matching.get(month, 0)))
        rows.append((month, REST, n - matching.get(month, 0)))
    return pd.DataFrame(rows, columns=["month", "set", "articles"])


def by_outlet(whole: Any, page: Any) -> pd.DataFrame:
    """Stacked bars for the largest outlets, the same way."""
    matching = dict(page.by_source)
    rows = []
    for source, n in whole.by_source[:_TOP_OUTLETS]:
        name = source or "outlet unknown"
        rows.append((name, IN_FILTER, matching.get(source, 0)))
        rows.append((name, REST, n - matching.get(source, 0)))
    return pd.DataFrame(rows, columns=["outlet", "set", "articles"])


def _page_number(value: Any) -> int:
    """A page number from the box: a whole number from 1 (anything else is page 1)."""
    try:
        return min(max(1, int(value or 1)), 10**9)
    except (TypeError, ValueError, OverflowError):
        return 1


class ArchiveTab:
    """The handlers of the Archive tab, over one ``ui.chat.Chat`` (its assistant and lock)."""

    def __init__(self, chat: Any) -> None:
        self.chat = chat
        self.removal = Removal(chat.corpus_dir)
        self._whole_counts: tuple[Any, Any] | None = None  # (index version, counts)

    def listing(
        self,
        text: str,
        outlets: list[str] | None,
        since: str,
        until: str,
        sort: str,
        newest_first: bool,
        page_no: float,
    ) -> tuple[Any, ...]:
        """table, page note, month chart, outlet chart, page number (clamped), the ids of
        the page's rows (what a click on row i names)."""
        try:
            since_iso, until_iso = forms.date_range(since, until)
            options = {"text": text or "", "sources": forms.outlets(outlets)}
            options |= {"since": since_iso, "until": until_iso}
            number = _page_number(page_no)
            page = self._page(options, sort, newest_first, number)
            last = max(1, -(-page.total // PAGE_SIZE))
            if number > last:  # past the end (the filter matches fewer now): the last page
                number = last
                page = self._page(options, sort, newest_first, number)
            whole = self._whole()
        except (qa.QAError, forms.InputError) as exc:
            note = f"⚠️ {render.md_escape(self.chat.public(exc))}"
            return gr.skip(), note, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        table = table_html(page, self.chat.corpus_dir, removable=self.chat.uploads)
        note = page_note(page, whole.total) + f" Page {number} of {last}."
        ids = [r.id for r in page.rows]
        return table, note, by_month(whole, page), by_outlet(whole, page), number, ids

    def _page(self, options: dict[str, Any], sort: str, newest_first: bool, number: int) -> Any:
        return self.chat.assistant.articles(
            **options,
            sort=SORTS.get(sort, "published"),
            descending=bool(newest_first),
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )

    def _whole(self) -> Any:
        """The whole archive's counts, kept until the index changes (one query per version)."""
        version = self.chat.assistant.stats().get("generation")
        if self._whole_counts is None or self._whole_counts[0] != version:
            self._whole_counts = (version, self.chat.assistant.articles(limit=0))
        return self._whole_counts[1]

    @staticmethod
    def _row(value: str, ids: list[str] | None) -> str | None:
        """The article id of a clicked row ("i|time")."""
        row = (value or "").split("|", 1)[0]
        return ids[int(row)] if ids and row.isdigit() and int(row) < len(ids) else None

    def open(self, value: str, ids: list[str] | None) -> tuple[Any, Any, Any]:
        """A click on a listed title: the viewer shows it, the Chat tab and its Article tab
        open."""
        key = self._row(value, ids)
        article = self.chat.assistant.article(key) if key else None
        if article is None:
            return render.empty_html("This article is no longer in the index."), *[gr.skip()] * 2
        return (
            render.article_html(article, 0, 0),
            gr.Tabs(selected="article"),
            gr.Tabs(selected="chat"),
        )

    def ask_remove(self, value: str, ids: list[str] | None) -> tuple[Any, Any, str]:
        """A click on "Remove…": the confirmation naming the article; its file is pending."""
        key = self._row(value, ids)
        article = self.chat.assistant.article(key) if key else None
        if article is None or not article.path:
            return "⚠️ This article is no longer in the index.", gr.Row(visible=False), ""
        others = self._others_in_file(article)
        also = f" The file holds {others} more articles; they go with it." if others else ""
        title = qa.display_title(article.title, qa.lead_sentence(article.text))
        note = (
            f"Remove **{render.md_escape(render.short(title, 120))}** "
            f"({render.md_escape(article.source or 'outlet unknown')}, file "
            f"`{render.md_escape(article.path)}`) from the archive? The file is moved to "
            f"`{REMOVED}/` in the corpus folder, not deleted, and can be restored.{also}"
        )
        return note, gr.Row(visible=True), article.path

    def _others_in_file(self, article: Any) -> int:
        try:
            loaded = qa.load_corpus(self.chat.corpus_dir / article.path).articles
        except qa.QAError:
            return 0
        return max(0, len(loaded) - 1)

    def remove(self, path: str, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Move the pending file to the bin and update the index: summary, confirmation row,
        status, removed files, outlets."""
        if not self.chat.uploads:
            return self._done(["✗ This archive is read-only: removing articles is turned off."])
        if not path:
            return self._done(["Choose an article to remove first."])
        with self.chat.update_lock:
            lines = self._apply(lambda: self.removal.remove(path), path, progress, "removed")
        return self._done(lines)

    def restore(self, name: str, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Move a removed file back and update the index; outputs as ``remove``."""
        if not self.chat.uploads:
            return self._done(["✗ This archive is read-only: restoring articles is turned off."])
        if not name:
            return self._done(["No removed article to restore."])
        with self.chat.update_lock:
            lines = self._apply(lambda: self.removal.restore(name), name, progress, "restored")
        return self._done(lines)

    def _apply(self, move: Any, name: str, progress: Any, verb: str) -> list[str]:
        missing, _ = self.chat.indexed_articles()
        if missing:
            return [
                f"✗ nothing {verb}: {render.count(missing, 'indexed article')} not in the "
                "corpus folder; start `qa serve --corpus` with the folder the index was built from"
            ]
        try:
            move()
        except (forms.InputError, OSError) as exc:
            return [f"✗ nothing {verb}: {self.chat.public(exc)}"]
        where = f"{REMOVED}/" if verb == "removed" else "the corpus folder"
        return [f"✓ {name} {verb} (now in {where})", *self.chat.reindex(progress, set())]

    def _done(self, lines: list[str]) -> tuple[Any, ...]:
        summary = "\n".join(f"- {render.md_escape(line)}" for line in lines)
        names = self.removal.removed()
        removed = gr.Dropdown(choices=names, value=names[0] if names else None)
        outlets = gr.Dropdown(choices=self.chat.outlets())
        return summary, gr.Row(visible=False), self.chat.status(), removed, outlets
