"""Starting the web chat: launch settings (guard, login, limits, theme) and `qa serve`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402  (after the environment defaults above)

import qa  # noqa: E402
from ui import forms, limits, render, scripts  # noqa: E402
from ui.app import build_app  # noqa: E402
from ui.guard import Guard, GuardSettings  # noqa: E402

# Gradio counts 1024 * 1024 bytes a "mb": its limit ("20.0 Mb" in its message) lies just above
# ours (20,000,000 bytes, as in the library), which save_upload then enforces with a message.
_GRADIO_MAX_FILE_SIZE = "20mb"
_LOGIN_NOTE = (
    f"After {limits.LOGIN_FAILURES_PER_NAME} failed logins a user name is locked for "
    f"{limits.LOGIN_LOCKOUT_S / 60:.0f} minutes."
)
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        js=scripts.PAGE_JS,
    )


def serve(
    index_dir: str | Path = "index",
    corpus_dir: str | Path = "corpus",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    reader: str | None = None,
    reranker: str | None = None,
) -> None:
    """Open the index, start the web chat, print its URL and block until Ctrl+C."""
    if not logging.getLogger().handlers:  # failed logins and lockouts, with their time
        logging.basicConfig(level=logging.WARNING, format=_LOG_FORMAT)
    app = build_app(index_dir, corpus_dir, reader=reader, reranker=reranker)
    url = start(app, host=host, port=port, share=share)
    print(f"Web chat running on {url}  (Ctrl+C to stop)", flush=True)
    app.block_thread()


def _theme() -> gr.themes.Base:
    # The reader's own fonts: no web fonts to fetch (the app runs offline), familiar to read.
    font = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=font)
