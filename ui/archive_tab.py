"""The Archive tab's layout and events; its handlers are ``ui.archive.ArchiveTab``."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui import archive, render, scripts
from ui.archive import ArchiveTab
from ui.chat import Chat
from ui.removal import REMOVED, Removal

# After an article opens from the listing: bring it into view, page included.
SCROLL_TO_CITED = (
    "() => { setTimeout(() => document.getElementById('cited')"
    "?.scrollIntoView({block: 'center', behavior: 'smooth'}), 150); }"
)


def _bars(x: str, label: str, angle: int, elem_id: str) -> gr.BarPlot:
    """Articles per ``x``, the filter's share in indigo and the rest in grey."""
    return gr.BarPlot(
        x=x,
        y="articles",
        color="set",
        label=label,
        x_title=" ",
        y_title=" ",
        x_label_angle=angle,
        height=320,
        min_width=300,
        color_map={archive.IN_FILTER: "#4f46e5", archive.REST: "#cbd5e1"},
        elem_id=elem_id,
    )


def layout(chat: Chat) -> dict[str, Any]:
    """The Archive tab's components (built inside its ``gr.Tab``), by name."""
    a: dict[str, Any] = {}
    with gr.Row(equal_height=True):
        a["text"] = gr.Textbox(
            label="Title contains",
            placeholder="words of the headline or file name",
            elem_id="qa-archive-text",
            scale=3,
            min_width=200,
        )
        a["outlets"] = gr.Dropdown(
            choices=chat.outlets(),
            value=[],
            multiselect=True,
            label="Outlets",
            scale=2,
            min_width=160,
            elem_id="qa-archive-outlets",
        )
        a["since"] = gr.Textbox(
            label="Published since",
            placeholder="YYYY-MM-DD",
            min_width=120,
            elem_id="qa-archive-since",
        )
        a["until"] = gr.Textbox(
            label="Published until",
            placeholder="YYYY-MM-DD",
            min_width=120,
            elem_id="qa-archive-until",
        )
    with gr.Row(equal_height=True):
        a["sort"] = gr.Dropdown(
            choices=list(archive.SORTS),
            value="Date",
            label="Sort by",
            min_width=120,
            elem_id="qa-archive-sort",
        )
        a["descending"] = gr.Checkbox(
            value=True, label="Newest / largest first", elem_id="qa-archive-desc", min_width=120
        )
        a["prev"] = gr.Button("◀ Previous", size="sm", min_width=90, elem_id="qa-archive-prev")
        a["page"] = gr.Number(
            value=1, precision=0, minimum=1, label="Page", min_width=80, elem_id="qa-archive-page"
        )
        a["next"] = gr.Button("Next ▶", size="sm", min_width=90, elem_id="qa-archive-next")
    a["note"] = gr.Markdown(elem_id="qa-archive-note")
    a["table"] = gr.HTML(render.empty_html("Loading the archive…"), elem_id="qa-archive-table")
    with gr.Row():
        a["months"] = _bars(
            "month",
            "Articles per month: matching the filter (indigo), the rest (grey)",
            -45,
            "qa-archive-months",
        )
        a["by_outlet"] = _bars(
            "outlet",
            "Articles per outlet (largest 12): matching (indigo), the rest (grey)",
            -30,
            "qa-archive-outlets-chart",
        )
    a["open"] = gr.Textbox(visible="hidden", elem_id=scripts.OPEN_BOX, show_label=False)
    a["ids"] = gr.State([])  # the article ids of the rows on the page
    if chat.uploads:
        a["remove_box"] = gr.Textbox(visible="hidden", elem_id=scripts.REMOVE_BOX, show_label=False)
        a["confirm_note"] = gr.Markdown(elem_id="qa-remove-note")
        with gr.Row(visible=False) as a["confirm_row"]:
            a["confirm"] = gr.Button(
                "Remove it", variant="stop", size="sm", elem_id="qa-remove-yes"
            )
            a["cancel"] = gr.Button("Keep it", size="sm", elem_id="qa-remove-no")
        a["pending"] = gr.State("")
        a["summary"] = gr.Markdown(elem_id="qa-remove-summary")
        with gr.Row(equal_height=True):
            names = Removal(chat.corpus_dir).removed()
            a["removed"] = gr.Dropdown(
                choices=names,
                value=names[0] if names else None,
                label="Removed articles",
                info=f"Their files are in {REMOVED}/ in the corpus folder.",
                scale=3,
                elem_id="qa-removed",
            )
            a["restore"] = gr.Button("Restore", size="sm", scale=1, elem_id="qa-restore")
    return a


def wire(
    app: gr.Blocks,
    shelf: ArchiveTab,
    a: dict[str, Any],
    v: dict[str, Any],
    c: dict[str, Any],
    status: Any,
) -> None:
    """Connect the Archive tab's events (all private: no API endpoint)."""
    quiet = {"api_visibility": "private"}
    filters = [a[n] for n in ("text", "outlets", "since", "until", "sort", "descending")]
    listed = [a["table"], a["note"], a["months"], a["by_outlet"], a["page"], a["ids"]]

    def first_page(*values: Any) -> tuple[Any, ...]:
        return shelf.listing(*values, 1)

    def step(by: int) -> Any:
        return lambda *values: shelf.listing(*values[:-1], (values[-1] or 1) + by)

    # One listener for every way to ask for the first page, page load included, so they run in
    # order; "always_last": a filter changed while a listing is on its way is applied after it
    # (the default drops it, and a slow first listing would then overwrite the filtered one).
    triggers = [a["text"].submit, a["since"].submit, a["until"].submit, a["outlets"].change]
    triggers += [a["sort"].change, a["descending"].change, a["tab"].select, app.load]
    latest = {"trigger_mode": "always_last", **quiet}
    gr.on(triggers, first_page, filters, listed, **latest)
    a["page"].submit(shelf.listing, [*filters, a["page"]], listed, **latest)
    a["prev"].click(step(-1), [*filters, a["page"]], listed, **latest)
    a["next"].click(step(+1), [*filters, a["page"]], listed, **latest)
    a["open"].change(
        shelf.open, [a["open"], a["ids"]], [v["viewer"], v["tabs"], v["main"]], **quiet
    ).then(None, js=SCROLL_TO_CITED)
    if "confirm" not in a:
        return
    a["remove_box"].change(
        shelf.ask_remove,
        [a["remove_box"], a["ids"]],
        [a["confirm_note"], a["confirm_row"], a["pending"]],
        **quiet,
    )
    a["cancel"].click(
        lambda: ("", gr.Row(visible=False), ""),
        None,
        [a["confirm_note"], a["confirm_row"], a["pending"]],
        **quiet,
    )
    changed = [a["summary"], a["confirm_row"], status, a["removed"], c["sources"]]
    a["confirm"].click(shelf.remove, a["pending"], changed, **quiet).then(
        lambda: ("", ""), None, [a["confirm_note"], a["pending"]], **quiet
    ).then(first_page, filters, listed, **quiet)
    a["restore"].click(shelf.restore, a["removed"], changed, **quiet).then(
        first_page, filters, listed, **quiet
    )
