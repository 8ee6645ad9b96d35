"""One web chat's work behind its widgets: answering, the /ask API, the viewer, uploads.

Only the public ``qa`` API is used. One Chat (one ``qa.Assistant``) serves every browser
session; one index update runs at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

import qa
from ui import forms, limits, render, timeline, updating

log = logging.getLogger(__name__)

_MAX_HISTORY = 5  # earlier questions passed to ask() for follow-ups
_EXAMPLES = 3  # example questions in the empty chat, from the newest titled articles
_EXPORT_TTL_S = 3600  # conversation files older than this are removed on the next export
# the "Number of sources" slider's start, and /ask's k when none is sent
DEFAULT_K = qa.DEFAULT_ANSWER_K
_READ_ONLY_NOTE = "This archive is read-only: adding articles is turned off on this server."
_SOMETHING_WRONG = "Something went wrong while answering; the server log has the details."
_API_RENAMES = {"path": "file"}  # see Chat.ask_api


class Chat:
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
        # the first upload should not wait for the build's imports
        self.preparing = threading.Thread(target=assistant.prepare_updates, daemon=True)
        if uploads:
            self.preparing.start()

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
        turns: dict[str, list[render.Ref]] | None,
        log_: list[dict[str, Any]] | None,
    ) -> tuple[Any, ...]:
        """One chat turn; outputs: chat, asked, refs, question box, notice, picker, viewer,
        timeline, timeline list, turns, conversation log, the two downloads."""
        try:
            response = self._answer(question, k, sources, since, until, tuple(asked or ()))
        except (qa.QAError, forms.InputError) as exc:
            return (*[gr.skip()] * 4, _notice(self.public(exc)), *[gr.skip()] * 8)
        except Exception:  # the browser gets one line, the server log the trace
            log.exception("answering %r failed", forms.echo(question))
            return (*[gr.skip()] * 4, _notice(_SOMETHING_WRONG), *[gr.skip()] * 8)
        answer = response.answer
        leads = self.assistant.leads(answer)
        key = secrets.token_hex(4)
        chat = [
            *(chat or [])[-2 * (limits.MAX_CHAT_TURNS - 1) :],
            {"role": "user", "content": render.question_html(answer.question)},
            {"role": "assistant", "content": render.answer_html(answer, turn=key, leads=leads)},
        ]
        refs = render.references(answer, leads)
        kept = list((turns or {}).items())[-(limits.MAX_CHAT_TURNS - 1) :]
        entry = {"markdown": answer.to_markdown(leads=leads), "answer": answer.to_dict()}
        log_ = [*(log_ or [])[-(limits.MAX_CHAT_TURNS - 1) :], entry]
        return (
            chat,
            [*(asked or ()), answer.question][-_MAX_HISTORY:],
            refs,
            "",
            gr.Markdown(visible=False),
            *self._picked(refs, 0 if refs else None),
            *_timeline(timeline.points(refs, response.passages, leads)),
            dict([*kept, (key, refs)]),
            log_,
            *self._exported(log_),
        )

    def reset(self) -> tuple[Any, ...]:
        """A new conversation: chat, asked, refs, notice, picker, viewer, timeline, list,
        turns, log, downloads."""
        picker = gr.Dropdown(choices=[], value=None, interactive=False)
        hidden = gr.DownloadButton(value=None, visible=False)
        return (
            *([], [], [], gr.Markdown(visible=False), picker, self.view(None, None)),
            *_timeline([]),
            *({}, [], hidden, hidden),
        )

    def pick(self, value: str, turns: dict[str, list[render.Ref]] | None) -> tuple[Any, ...]:
        """A click on marker [n] of a turn ("turn:n|time"): refs, picker, viewer, tabs."""
        key, _, n = (value or "").split("|", 1)[0].rpartition(":")
        refs = (turns or {}).get(key)
        if not refs or not n.isdigit():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        index = next((i for i, r in enumerate(refs) if r.n == int(n)), None)
        return (refs, *self._picked(refs, index), gr.Tabs(selected="article"))

    def _picked(self, refs: list[render.Ref], index: int | None) -> tuple[Any, Any]:
        """The picker listing ``refs`` with ``index`` chosen, and the viewer showing it."""
        choices = [(ref.label, i) for i, ref in enumerate(refs)]
        picker = gr.Dropdown(choices=choices, value=index, interactive=bool(refs))
        return picker, self.view(index, refs)

    def _exported(self, entries: list[dict[str, Any]]) -> tuple[Any, Any]:
        """The conversation as Markdown and JSON files, for the two download buttons (hidden
        when the files cannot be written: the answer is shown all the same)."""
        try:
            md, js = self._write_conversation(entries)
        except OSError:
            log.exception("cannot write the conversation files")
            hidden = gr.DownloadButton(visible=False)
            return hidden, hidden
        return gr.DownloadButton(value=str(md), visible=True), gr.DownloadButton(
            value=str(js), visible=True
        )

    @staticmethod
    def _write_conversation(entries: list[dict[str, Any]]) -> tuple[Path, Path]:
        folder = Path(tempfile.gettempdir()) / "qa-conversations"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():  # a day's conversations would otherwise pile up
            with contextlib.suppress(OSError):  # another session may remove it first
                if old.stat().st_mtime < time.time() - _EXPORT_TTL_S:
                    old.unlink()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        stem = folder / f"conversation-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        markdown = f"# Conversation with the news archive ({now:%Y-%m-%d %H:%M} UTC)\n\n"
        markdown += "\n---\n\n".join(e["markdown"] for e in entries)
        md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
        md.write_text(markdown, encoding="utf-8")
        turns = [e["answer"] for e in entries]
        js.write_text(
            json.dumps({"exported": now.isoformat(), "turns": turns}, ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
        return md, js

    def examples(self) -> list[dict[str, str]]:
        """Example questions for the empty chat, made from the newest titled articles."""
        try:
            newest = self.assistant.articles(sort="published", limit=4 * _EXAMPLES).rows
        except qa.QAError:
            return []
        out = []
        for row in newest:
            if not row.title or len(out) == _EXAMPLES:
                continue
            title = render.short(row.title, 80)
            text = (
                f"What did {row.source} report about “{title}”?"
                if row.source
                else f"What is known about “{title}”?"
            )
            out.append({"text": text})
        return out

    def ask_api(
        self,
        question: str,
        k: int = DEFAULT_K,
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
            answer = self._answer(question, k, sources, since, until, ()).answer.to_dict()
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
        depth = forms.number_of_sources(k, DEFAULT_K)
        return self.assistant.respond(  # the passages too: the timeline shows them all
            question if question is not None else "",
            k=depth,
            answer_k=depth,
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
                lines = updating.take_upload(self, files, progress)
        summary = "\n".join(f"- {render.md_escape(line)}" for line in lines)
        return summary, self.status(), gr.Dropdown(choices=self.outlets()), None

    def indexed_articles(self) -> tuple[int, dict[str, Any]]:
        """How many indexed articles an update from corpus_dir would remove (0 if it matches),
        and the indexed articles of corpus_dir by the SHA-256 of their stored text."""
        return updating.indexed_articles(self.assistant, self.corpus_dir)

    def reindex(self, progress: Any, names: set[str]) -> list[str]:
        """Update the index (the caller holds update_lock); lines for the summary, with the
        files the indexer skipped among ``names`` (the others were there before)."""
        return updating.reindex(self, progress, names)

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

    def outlets(self) -> list[str]:
        """The indexed outlets, for the outlet pickers."""
        return list(self.assistant.sources())

    def refresh(self) -> tuple[Any, ...]:
        """On page load: current status, outlets (another session may have added some) and
        the example questions."""
        return (
            self.status(),
            gr.Dropdown(choices=self.outlets()),
            gr.Chatbot(examples=self.examples() or None),
        )


def _notice(message: str) -> Any:
    message = message[:1].upper() + message[1:]
    return gr.Markdown(f"⚠️ {render.md_escape(message)}", visible=True)


def _timeline(found: list[timeline.Point]) -> tuple[Any, str]:
    data, x_lim = timeline.frame(found)
    plot = gr.ScatterPlot(data, x_lim=x_lim, visible=x_lim is not None)
    return plot, timeline.listing(found)
