"""The Gradio web chat: ask with cited sources, read the cited articles, add articles.

``build_app`` lays out and wires the page; ``ui.server`` starts it (``start``, ``serve``).

Only the public ``qa`` API is used. One ``qa.Assistant`` is loaded per process and shared by
all browser sessions (it is safe for concurrent calls and keeps answering from the previous
index generation while an upload is being indexed); one index update runs at a time. Every
request passes ``ui.guard`` first (body caps, upload limits and rate, login throttle); the
limits are in ``ui.limits``; docs/security.md says what is and is not protected.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402  (after the environment defaults above)

import qa  # noqa: E402
from ui import archive_tab, forms, limits, scripts, timeline  # noqa: E402
from ui.archive import ArchiveTab  # noqa: E402
from ui.chat import DEFAULT_K, Chat  # noqa: E402
from ui.guard import GuardSettings  # noqa: E402
from ui.uploads import (  # noqa: E402
    ALLOWED_SUFFIXES,
    MAX_UPLOAD_BYTES,
)

# Gradio's copies of uploaded files are deleted after an hour (checked hourly): an upload is
# vetted and saved into the corpus within seconds, so an hour-old copy is never needed again.
_UPLOAD_CACHE = (3600, 3600)
_UPLOAD_LABEL = (
    f"Article files ({', '.join(ALLOWED_SUFFIXES)}; up to {MAX_UPLOAD_BYTES / 1e6:g} MB each, "
    f"{limits.MAX_UPLOAD_FILES} files and {limits.MAX_UPLOAD_TOTAL_BYTES / 1e6:g} MB an upload)"
)
# After an answer: scroll only the viewer box to the cited span (the page stays where it is).
_SCROLL_BOX_TO_CITED = (
    "() => { setTimeout(() => { const m = document.getElementById('cited');"
    " const box = m?.closest('.qa-article');"
    " if (box) box.scrollTop = Math.max(0, m.offsetTop - box.clientHeight / 3); }, 150); }"
)
# After the reader picks a source: bring the cited span into view, page included.
_SCROLL_TO_CITED = (
    "() => { setTimeout(() => document.getElementById('cited')"
    "?.scrollIntoView({block: 'center', behavior: 'smooth'}), 150); }"
)
_PLACEHOLDER = (
    "**Ask a question about the news archive**, or try one of the questions below.<br>"
    "Answers are sentences quoted word for word from the articles, each marked [n]: click a "
    "marker to read its source. Follow-up questions keep the conversation's context.<br>"
    "Filter by outlet or date under **Settings**; add your own files under **Add articles**."
)
_PLACEHOLDER_READ_ONLY = _PLACEHOLDER.replace("; add your own files under **Add articles**", "")


def build_app(
    index_dir: str | Path,
    corpus_dir: str | Path,
    *,
    assistant: Any | None = None,
    uploads: bool | None = None,
    reader: str | None = None,
    reranker: str | None = None,
) -> gr.Blocks:
    """Build the web chat around one assistant.

    Args:
        index_dir: The index folder, opened with ``qa.Assistant.open`` unless given.
        corpus_dir: The corpus folder; uploads are saved here and indexed into index_dir.
        assistant: An already open ``qa.Assistant`` (tests, or to share a loaded model).
        uploads: Whether readers may add articles; None reads QA_UPLOADS ("off": read-only).
        reader: The name of the reader that answers (``qa.READERS``); None for the default.
        reranker: The name of the passage reranker (``qa.RERANKERS``); None for the default.

    Returns:
        The Blocks; start it with ``start()`` (or ``serve()`` to do everything).

    Raises:
        qa.IndexNotFoundError: No index at index_dir (build one with ``qa index``).
        qa.SettingsError: QA_UPLOADS is neither "on" nor "off".
    """
    uploads = forms.uploads_from_env() if uploads is None else uploads
    opened = assistant or qa.Assistant.open(index_dir, reader=reader, reranker=reranker)
    chat = Chat(opened, Path(corpus_dir), index_dir=index_dir, uploads=uploads)
    shelf = ArchiveTab(chat)
    with gr.Blocks(
        title="News archive Q&A", analytics_enabled=False, delete_cache=_UPLOAD_CACHE
    ) as app:
        gr.Markdown("## News archive Q&A")
        status = gr.Markdown(chat.status(), elem_id="qa-status")
        with gr.Tabs(selected="chat", elem_id="qa-main") as main:
            with gr.Tab("Chat", id="chat", elem_id="qa-tab-chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    ask = _chat_column(chat)
                with gr.Column(scale=2, min_width=320):
                    view = _side_column(chat)
            with gr.Tab("Archive", id="archive", elem_id="qa-tab-archive") as tab:
                shelf_ui = archive_tab.layout(chat)
        view["main"], shelf_ui["tab"] = main, tab
        ask_fn = _wire(app, chat, ask, view, status)
        archive_tab.wire(app, shelf, shelf_ui, view, ask, status)
    # what start() gives the HTTP gate (ui.guard) for this app
    app.qa_guard = GuardSettings(  # type: ignore[attr-defined]
        uploads=uploads,
        defaults={"ask": _defaults(chat.ask_api)},
        defaults_by_fn={ask_fn: _defaults(chat.ask_api)},
    )
    return app


def _defaults(fn: Any) -> list[Any]:
    """The default of each parameter of ``fn`` (None where it has none)."""
    params = inspect.signature(fn).parameters.values()
    return [None if p.default is inspect.Parameter.empty else p.default for p in params]


def _chat_column(chat: Chat) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["chatbot"] = gr.Chatbot(
        label="Conversation",
        show_label=False,
        elem_id="qa-chat",
        height=620,
        placeholder=_PLACEHOLDER if chat.uploads else _PLACEHOLDER_READ_ONLY,
        latex_delimiters=[],
        feedback_options=None,
        buttons=[],  # its copy buttons would copy the HTML markup, not the text
        examples=chat.examples() or None,
    )
    with gr.Row(equal_height=True):
        c["question"] = gr.Textbox(
            show_label=False,
            placeholder="Ask a question, e.g. who said what about an event, and when",
            elem_id="qa-question",
            scale=6,
            max_lines=4,
            autofocus=True,
        )
        c["ask"] = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=80)
    c["notice"] = gr.Markdown(visible=False, elem_id="qa-notice")
    with gr.Row():
        c["clear"] = gr.Button("New conversation", size="sm", variant="secondary")
        c["download_md"] = gr.DownloadButton(
            "Download conversation (Markdown)",
            size="sm",
            variant="secondary",
            visible=False,
            elem_id="qa-download-md",
        )
        c["download_json"] = gr.DownloadButton(
            "Download conversation (JSON)",
            size="sm",
            variant="secondary",
            visible=False,
            elem_id="qa-download-json",
        )
    # a click on an [n] marker in an answer writes "turn:n" here (ui.scripts)
    c["ref_pick"] = gr.Textbox(visible="hidden", elem_id=scripts.REF_BOX, show_label=False)
    with gr.Accordion("Settings", open=False):
        c["k"] = gr.Slider(1, 10, value=DEFAULT_K, step=1, label="Number of sources")
        c["sources"] = gr.Dropdown(
            choices=chat.outlets(),
            value=[],
            multiselect=True,
            label="Outlets",
            info="Only these outlets; leave empty for all.",
        )
        with gr.Row():
            c["since"] = gr.Textbox(
                label="Published since", placeholder="YYYY-MM-DD", elem_id="qa-since"
            )
            c["until"] = gr.Textbox(
                label="Published until", placeholder="YYYY-MM-DD", elem_id="qa-until"
            )
    c["asked"] = gr.State([])
    c["refs"] = gr.State([])
    c["turns"] = gr.State({})  # turn key -> its references, for the markers of every turn
    c["log"] = gr.State([])  # each turn's Markdown and answer, for the downloads
    return c


def _side_column(chat: Chat) -> dict[str, Any]:
    v: dict[str, Any] = {}
    with gr.Tabs(selected="article") as v["tabs"]:
        with gr.Tab("Article", id="article", elem_id="qa-tab-article"):
            v["picker"] = gr.Dropdown(
                choices=[],
                value=None,
                label="Source of the last answer",
                interactive=False,
                elem_id="qa-picker",
            )
            v["viewer"] = gr.HTML(chat.view(None, None), elem_id="qa-viewer")
        with gr.Tab("Timeline", id="timeline", elem_id="qa-tab-timeline"):
            v["plot"] = gr.ScatterPlot(
                timeline.empty(),
                x="date",
                y="source",
                color="kind",
                color_map={timeline.CITED: "#4f46e5", timeline.RETRIEVED: "#94a3b8"},
                tooltip=["source", "date_text", "quote", "kind"],
                x_title=" ",
                y_title=" ",
                x_axis_format="%Y-%m-%d",
                x_label_angle=-35,
                height=300,
                label="Articles of the last answer by date (cited and retrieved)",
                elem_id="qa-timeline",
                visible=False,
            )
            v["undated"] = gr.Markdown(timeline.listing([]), elem_id="qa-timeline-list")
        if chat.uploads:
            with gr.Tab("Add articles", id="upload", elem_id="qa-tab-upload"):
                v["files"] = gr.File(
                    file_count="multiple",
                    file_types=list(ALLOWED_SUFFIXES),
                    label=_UPLOAD_LABEL,
                    elem_id="qa-upload",
                )
                v["summary"] = gr.Markdown(elem_id="qa-upload-summary")
    return v


def _wire(app: gr.Blocks, chat: Chat, c: dict[str, Any], v: dict[str, Any], status: Any) -> int:
    """Connect the events; returns the function index of the /ask endpoint."""
    ask_inputs = [
        c[n]
        for n in ("question", "k", "sources", "since", "until", "chatbot", "asked", "turns", "log")
    ]
    ask_outputs = [
        c["chatbot"],
        c["asked"],
        c["refs"],
        c["question"],
        c["notice"],
        v["picker"],
        v["viewer"],
        v["plot"],
        v["undated"],
        c["turns"],
        c["log"],
        c["download_md"],
        c["download_json"],
    ]
    ask = gr.api(chat.ask_api, api_name="ask")  # the one public endpoint, without chat state
    gr.on(
        [c["question"].submit, c["ask"].click],
        chat.turn,
        ask_inputs,
        ask_outputs,
        api_name="chat_turn",
        api_visibility="private",
    ).then(None, js=_SCROLL_BOX_TO_CITED)
    c["chatbot"].example_select(_example_text, None, c["question"], api_visibility="private").then(
        chat.turn, ask_inputs, ask_outputs, api_visibility="private"
    ).then(None, js=_SCROLL_BOX_TO_CITED)
    c["ref_pick"].change(
        chat.pick,
        [c["ref_pick"], c["turns"]],
        [c["refs"], v["picker"], v["viewer"], v["tabs"]],
        api_visibility="private",
    ).then(None, js=_SCROLL_TO_CITED)
    v["picker"].input(
        chat.view, [v["picker"], c["refs"]], v["viewer"], api_visibility="private"
    ).then(None, js=_SCROLL_TO_CITED)
    gr.on(
        [c["clear"].click, c["chatbot"].clear],
        chat.reset,
        None,
        [c["chatbot"], c["asked"], c["refs"], c["notice"], *ask_outputs[5:]],
        api_name="reset",
        api_visibility="private",
    )
    if "files" in v:
        v["files"].upload(
            chat.upload,
            v["files"],
            [v["summary"], status, c["sources"], v["files"]],
            api_visibility="private",
        )
    app.load(chat.refresh, None, [status, c["sources"], c["chatbot"]], api_visibility="private")
    return int(ask["id"])


def _example_text(event: gr.SelectData) -> str:
    """The question of a clicked example."""
    value = event.value
    return str(value.get("text", "") if isinstance(value, dict) else value or "")
