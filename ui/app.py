"""The Gradio web chat: ask with cited sources, read the cited articles, add articles.

Only the public ``qa`` API is used. One ``qa.Assistant`` is loaded per process and shared by
all browser sessions (it is safe for concurrent calls and keeps answering from the previous
index generation while an upload is being indexed); one index update runs at a time. Every
request passes ``ui.guard`` first (body caps, upload limits and rate, login throttle); the
limits are in ``ui.limits``; docs/security.md says what is and is not protected.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402  (after the environment defaults above)

import qa  # noqa: E402
from ui import forms, intake, limits, render, timeline  # noqa: E402
from ui.guard import Guard, GuardSettings  # noqa: E402
from ui.uploads import (  # noqa: E402
    ALLOWED_SUFFIXES,
    MAX_UPLOAD_BYTES,
    UploadRejected,
    save_upload,
)

log = logging.getLogger(__name__)

# Gradio counts 1024 * 1024 bytes a "mb": its limit ("20.0 Mb" in its message) lies just above
# ours (20,000,000 bytes, as in the library), which save_upload then enforces with a message.
_GRADIO_MAX_FILE_SIZE = "20mb"
_MAX_HISTORY = 5  # earlier questions passed to ask() for follow-ups
_MAX_LISTED = 10  # skipped files listed in an upload summary
_DEFAULT_K = 8  # the "Number of sources" slider's start, and /ask's k when none is sent
# Gradio's copies of uploaded files are deleted after an hour (checked hourly): an upload is
# vetted and saved into the corpus within seconds, so an hour-old copy is never needed again.
_UPLOAD_CACHE = (3600, 3600)
_LOGIN_NOTE = (
    f"After {limits.LOGIN_FAILURES_PER_NAME} failed logins a user name is locked for "
    f"{limits.LOGIN_LOCKOUT_S / 60:.0f} minutes."
)
_READ_ONLY_NOTE = "This archive is read-only: adding articles is turned off on this server."
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SOMETHING_WRONG = "Something went wrong while answering; the server log has the details."
_UPLOAD_LABEL = (
    f"Article files ({', '.join(ALLOWED_SUFFIXES)}; up to {MAX_UPLOAD_BYTES / 1e6:g} MB each, "
    f"{limits.MAX_UPLOAD_FILES} files and {limits.MAX_UPLOAD_TOTAL_BYTES / 1e6:g} MB an upload)"
)
_API_RENAMES = {"path": "file"}  # see _Chat.ask_api
_STAGES = {
    "load": "Reading the articles",
    "chunk": "Splitting into passages",
    "embed": "Embedding new passages",
    "write": "Writing the index",
}
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
    "**Ask a question about the news archive.**<br>"
    "Answers are sentences quoted word for word from the articles, each marked [n] "
    "and shown with its source below. Follow-up questions keep the conversation's context.<br>"
    "Filter by outlet or date under **Settings**; add your own files under **Add articles**."
)
_PLACEHOLDER_READ_ONLY = _PLACEHOLDER.replace("; add your own files under **Add articles**", "")


class _Chat:
    """The handlers of one app: the shared assistant, its corpus folder and a lock."""

    def __init__(
        self,
        assistant: Any,
        corpus_dir: Path,
        *,
        index_dir: str | Path | None = None,
        uploads: bool = True,
    ) -> None:
        self.assistant = assistant
        self.corpus_dir = corpus_dir
        self.uploads = uploads
        self.update_lock = threading.Lock()
        # what a client may hear of the server's folders: their role, never their path
        self.places: dict[str | Path, str] = {corpus_dir: "the corpus folder"}
        if index_dir is not None:
            self.places[index_dir] = "the index"

    def public(self, error: Exception) -> str:
        """An error's message as a client may see it (no server paths)."""
        return forms.public_message(str(error), self.places)

    def turn(
        self,
        question: str,
        k: float,
        sources: list[str] | None,
        since: str,
        until: str,
        chat: list[dict[str, Any]] | None,
        asked: list[str] | None,
    ) -> tuple[Any, ...]:
        """One chat turn; outputs: chat, asked, refs, question box, notice, picker, viewer,
        timeline, undated list."""
        try:
            answer = self._answer(question, k, sources, since, until, tuple(asked or ()))
        except (qa.QAError, forms.InputError) as exc:
            return (*[gr.skip()] * 4, _notice(self.public(exc)), *[gr.skip()] * 4)
        except Exception:  # the browser gets one line, the server log the trace
            log.exception("answering %r failed", forms.echo(question))
            return (*[gr.skip()] * 4, _notice(_SOMETHING_WRONG), *[gr.skip()] * 4)
        chat = [
            *(chat or [])[-2 * (limits.MAX_CHAT_TURNS - 1) :],
            {"role": "user", "content": render.question_html(answer.question)},
            {"role": "assistant", "content": render.answer_html(answer)},
        ]
        refs = render.references(answer)
        choices = [(ref.label, i) for i, ref in enumerate(refs)]
        first = 0 if refs else None
        return (
            chat,
            [*(asked or ()), answer.question][-_MAX_HISTORY:],
            refs,
            "",
            gr.Markdown(visible=False),
            gr.Dropdown(choices=choices, value=first, interactive=bool(refs)),
            self.view(first, refs),
            *_timeline(refs),
        )

    def reset(self) -> tuple[Any, ...]:
        """A new conversation: chat, asked, refs, notice, picker, viewer, timeline, list."""
        picker = gr.Dropdown(choices=[], value=None, interactive=False)
        return [], [], [], gr.Markdown(visible=False), picker, self.view(None, None), *_timeline([])

    def ask_api(
        self,
        question: str,
        k: int = _DEFAULT_K,
        sources: list[str] | str | None = None,
        since: str = "",
        until: str = "",
    ) -> dict:
        """Answer one question: ``qa.Answer.to_dict()``, each passage's "path" renamed "file".

        ``sources`` is a list of outlets, or one outlet as text. gradio_client takes any dict
        with a "path" key for a file to download, so the corpus path of each citation and
        related passage travels as "file" instead.
        """
        try:
            answer = self._answer(question, k, sources, since, until, ()).to_dict()
        except (qa.QAError, forms.InputError) as exc:
            raise gr.Error(self.public(exc), print_exception=False) from None
        except Exception:  # the client gets one line, the server log the trace
            log.exception("answering %r over the API failed", forms.echo(question))
            raise gr.Error(_SOMETHING_WRONG, print_exception=False) from None
        for key in ("citations", "related"):
            answer[key] = [{_API_RENAMES.get(f, f): v for f, v in d.items()} for d in answer[key]]
        return answer

    def _answer(
        self,
        question: str,
        k: float,
        sources: list[str] | None,
        since: str,
        until: str,
        history: tuple[str, ...],
    ) -> Any:
        since_iso, until_iso = forms.date_range(since, until)
        return self.assistant.ask(
            question if question is not None else "",
            k=forms.number_of_sources(k, _DEFAULT_K),
            sources=forms.outlets(sources),
            since=since_iso,
            until=until_iso,
            history=tuple(history),
        )

    def view(self, index: int | None, refs: list[render.Ref] | None) -> str:
        """The article of reference ``index`` with its cited span marked."""
        if index is None or not refs or not 0 <= int(index) < len(refs):
            return render.empty_html("Ask a question, then pick one of its sources to read it.")
        ref = refs[int(index)]
        article = self.assistant.article(ref.article_id)
        if article is None:
            return render.empty_html("This article is no longer in the index.")
        return render.article_html(article, ref.start, ref.end, quote=ref.is_quote)

    def upload(
        self,
        files: list[str] | None,
        progress: Any = gr.Progress(),  # noqa: B008  (gradio's way to ask for a progress bar)
    ) -> tuple[Any, ...]:
        """Vet uploads, save those that pass into the corpus and update the index; summary,
        status, outlets, files. One upload is handled at a time."""
        if not self.uploads:
            lines = [f"✗ {_READ_ONLY_NOTE}"]
        elif not files:
            lines = ["Choose one or more article files first."]
        else:
            with self.update_lock:
                lines = self._take(files, progress)
        summary = "\n".join(f"- {render.md_escape(line)}" for line in lines)
        return summary, self.status(), gr.Dropdown(choices=self._sources()), None

    def _take(self, files: list[str], progress: Any) -> list[str]:
        missing, known = self._indexed_articles()
        if missing:
            return [
                f"✗ nothing saved: {render.count(missing, 'indexed article')} not in "
                "the corpus folder, and indexing that folder would drop them. Start "
                "`qa serve --corpus` with the folder the index was built from (or, if files "
                "were removed on purpose, update the index with `qa index` first)."
            ]
        saved, lines = [], []
        with intake.vetted(files, known) as vetting:
            lines += [f"✗ {line}" for line in vetting.refused]
            for item in vetting.accepted:
                try:
                    saved.append(save_upload(item.staged, item.original, self.corpus_dir))
                except (UploadRejected, OSError) as exc:
                    lines.append(f"✗ not saved: {self.public(exc)}")
        lines += [f"✓ {s}" for s in saved]
        if any(s.status != "unchanged" for s in saved):
            lines[:0] = self._reindex(progress, {s.name for s in saved})
        return lines

    def _indexed_articles(self) -> tuple[int, dict[str, Any]]:
        """How many indexed articles an update from corpus_dir would remove (0 if it matches),
        and the indexed articles of corpus_dir by the SHA-256 of their stored text."""
        try:
            ids = [a.id for a in qa.load_corpus(self.corpus_dir).articles]
        except qa.QAError:
            ids = []
        stored = [a for a in map(self.assistant.article, dict.fromkeys(ids)) if a is not None]
        missing = int(self.assistant.stats().get("articles", 0)) - len(stored)
        return missing, {a.sha256: a for a in stored}

    def _reindex(self, progress: Any, names: set[str]) -> list[str]:
        """Update the index (the caller holds update_lock); lines for the summary, with the
        files the indexer skipped among ``names`` (the others were there before)."""

        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=_STAGES.get(stage, stage))

        try:
            report = self.assistant.update_index(self.corpus_dir, progress=report_progress)
        except qa.QAError as exc:
            return [f"✗ indexing failed: {self.public(exc)} (the previous index is still in use)"]
        except Exception:  # the browser gets one line, the server log the trace
            log.exception("indexing %s failed", self.corpus_dir)
            return [
                "✗ indexing failed; the server log has the details (the previous index is "
                "still in use)"
            ]
        lines = [
            f"Index updated in {report.seconds:.1f} s: {len(report.added)} added, "
            f"{len(report.updated)} updated, {len(report.removed)} removed, "
            f"{len(report.unchanged)} unchanged; {report.chunks_embedded} passages embedded. "
            f"Now {report.articles} articles."
        ]
        mine = [s for s in report.skipped if s.path in names]
        lines += [f"✗ skipped by the indexer: {s}" for s in mine[:_MAX_LISTED]]
        if len(mine) > _MAX_LISTED:
            lines.append(f"… and {len(mine) - _MAX_LISTED} more skipped files")
        others = len(report.skipped) - len(mine)
        if others:
            files = "1 other file is" if others == 1 else f"{others} other files are"
            lines.append(
                f"({files} skipped by the indexer in the corpus folder; `qa index` lists them)"
            )
        return lines

    def status(self) -> str:
        """One Markdown line: articles, passages, model, dates covered, last update."""
        s = self.assistant.stats()
        esc = render.md_escape
        parts = [f"**{s.get('articles', 0)}** articles", f"**{s.get('chunks', 0)}** passages"]
        if s.get("published_min") and s.get("published_max"):
            parts.append(f"dated {esc(s['published_min'])} to {esc(s['published_max'])}")
        model = str(s.get("model", "?")) + (f" ({s['backend']})" if s.get("backend") else "")
        parts.append(f"model {esc(model)}")
        if s.get("built_at"):
            parts.append(f"index updated {esc(render.when(s['built_at']))}")
        return " · ".join(parts)

    def _sources(self) -> list[str]:
        return list(self.assistant.sources())

    def refresh(self) -> tuple[str, Any]:
        """On page load: current status and outlets (another session may have added some)."""
        return self.status(), gr.Dropdown(choices=self._sources())


def build_app(
    index_dir: str | Path,
    corpus_dir: str | Path,
    *,
    assistant: Any | None = None,
    uploads: bool | None = None,
) -> gr.Blocks:
    """Build the web chat around one assistant.

    Args:
        index_dir: The index folder, opened with ``qa.Assistant.open`` unless given.
        corpus_dir: The corpus folder; uploads are saved here and indexed into index_dir.
        assistant: An already open ``qa.Assistant`` (tests, or to share a loaded model).
        uploads: Whether readers may add articles; None reads QA_UPLOADS ("off": read-only).

    Returns:
        The Blocks; start it with ``start()`` (or ``serve()`` to do everything).

    Raises:
        qa.IndexNotFoundError: No index at index_dir (build one with ``qa index``).
        qa.SettingsError: QA_UPLOADS is neither "on" nor "off".
    """
    uploads = forms.uploads_from_env() if uploads is None else uploads
    opened = assistant or qa.Assistant.open(index_dir)
    chat = _Chat(opened, Path(corpus_dir), index_dir=index_dir, uploads=uploads)
    with gr.Blocks(
        title="News archive Q&A", analytics_enabled=False, delete_cache=_UPLOAD_CACHE
    ) as app:
        gr.Markdown("## News archive Q&A")
        status = gr.Markdown(chat.status(), elem_id="qa-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                ask = _chat_column(chat)
            with gr.Column(scale=2):
                view = _side_column(chat)
        ask_fn = _wire(app, chat, ask, view, status)
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


def _chat_column(chat: _Chat) -> dict[str, Any]:
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
    with gr.Accordion("Settings", open=False):
        c["k"] = gr.Slider(1, 10, value=_DEFAULT_K, step=1, label="Number of sources")
        c["sources"] = gr.Dropdown(
            choices=chat._sources(),
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
    return c


def _side_column(chat: _Chat) -> dict[str, Any]:
    v: dict[str, Any] = {}
    with gr.Tabs():
        with gr.Tab("Article", elem_id="qa-tab-article"):
            v["picker"] = gr.Dropdown(
                choices=[],
                value=None,
                label="Source of the last answer",
                interactive=False,
                elem_id="qa-picker",
            )
            v["viewer"] = gr.HTML(chat.view(None, None), elem_id="qa-viewer")
        with gr.Tab("Timeline", elem_id="qa-tab-timeline"):
            v["plot"] = gr.ScatterPlot(
                timeline.empty(),
                x="date",
                y="source",
                tooltip=["source", "date_text", "quote"],
                x_title=" ",
                y_title=" ",
                x_axis_format="%Y-%m-%d",
                x_label_angle=-35,
                height=300,
                label="Sources of the last answer by date",
                elem_id="qa-timeline",
                visible=False,
            )
            v["undated"] = gr.Markdown(timeline.listing([]), elem_id="qa-timeline-list")
        if chat.uploads:
            with gr.Tab("Add articles", elem_id="qa-tab-upload"):
                v["files"] = gr.File(
                    file_count="multiple",
                    file_types=list(ALLOWED_SUFFIXES),
                    label=_UPLOAD_LABEL,
                    elem_id="qa-upload",
                )
                v["summary"] = gr.Markdown(elem_id="qa-upload-summary")
    return v


def _wire(app: gr.Blocks, chat: _Chat, c: dict[str, Any], v: dict[str, Any], status: Any) -> int:
    """Connect the events; returns the function index of the /ask endpoint."""
    ask_inputs = [c[n] for n in ("question", "k", "sources", "since", "until", "chatbot", "asked")]
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
    app.load(chat.refresh, None, [status, c["sources"]], api_visibility="private")
    return int(ask["id"])


def start(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    quiet: bool = True,
) -> str:
    """Launch ``app`` in the background with the project's settings; returns its URL.

    The login form (a form and a cookie, meant behind HTTPS on a network) is on when the
    environment variable QA_AUTH="user:password" is set.
    """
    try:
        _, url, _ = _launch(app, host=host, port=port, share=share, quiet=quiet)
    except OSError as exc:  # gradio: "Cannot find empty port in range: ...", or a bad host
        reason = str(exc).split(". ")[0]
        raise qa.SettingsError(
            f"cannot serve on {host}:{port} ({reason}); try another --port"
        ) from None
    return url


def _launch(app: gr.Blocks, *, host: str, port: int, share: bool, quiet: bool) -> tuple:
    from starlette.middleware import Middleware

    auth = forms.auth_from_env()
    guard: GuardSettings = getattr(app, "qa_guard", None) or GuardSettings()
    guard.login = auth is not None
    return app.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        auth_message=_LOGIN_NOTE,
        app_kwargs={"middleware": [Middleware(Guard, settings=guard)]},
        max_file_size=_GRADIO_MAX_FILE_SIZE,
        allowed_paths=[],
        prevent_thread_lock=True,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        theme=_theme(),
        css=render.CSS,
    )


def serve(
    index_dir: str | Path = "index",
    corpus_dir: str | Path = "corpus",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
) -> None:
    """Open the index, start the web chat, print its URL and block until Ctrl+C."""
    if not logging.getLogger().handlers:  # failed logins and lockouts, with their time
        logging.basicConfig(level=logging.WARNING, format=_LOG_FORMAT)
    app = build_app(index_dir, corpus_dir)
    url = start(app, host=host, port=port, share=share)
    print(f"Web chat running on {url}  (Ctrl+C to stop)", flush=True)
    app.block_thread()


def _theme() -> gr.themes.Base:
    # The reader's own fonts: no web fonts to fetch (the app runs offline), familiar to read.
    font = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=font)


def _notice(message: str) -> Any:
    message = message[:1].upper() + message[1:]
    return gr.Markdown(f"⚠️ {render.md_escape(message)}", visible=True)


def _timeline(refs: list[render.Ref]) -> tuple[Any, str]:
    data, x_lim = timeline.frame(refs)
    return gr.ScatterPlot(data, x_lim=x_lim, visible=x_lim is not None), timeline.listing(refs)
