"""The index update behind an upload, a removal or a restore: vet and save the files, update
the index through the public API, and say in a few lines what happened."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import qa
from ui import intake, render
from ui.uploads import UploadRejected, save_upload

log = logging.getLogger(__name__)

_MAX_LISTED = 10  # skipped files listed in an upload summary
_STAGES = {
    "load": "Reading the articles",
    "chunk": "Splitting into passages",
    "embed": "Embedding new passages",
    "write": "Writing the index",
}


def take_upload(chat: Any, files: list[str], progress: Any) -> list[str]:
    """Vet ``files``, save those that pass into ``chat``'s corpus folder and update the index
    (the caller holds ``chat.update_lock``); the summary lines."""
    missing, known = indexed_articles(chat.assistant, chat.corpus_dir)
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
                saved.append(save_upload(item.staged, item.original, chat.corpus_dir))
            except (UploadRejected, OSError) as exc:
                lines.append(f"✗ not saved: {chat.public(exc)}")
    lines += [f"✓ {s}" for s in saved]
    if any(s.status != "unchanged" for s in saved):
        lines[:0] = reindex(chat, progress, {s.name for s in saved})
    return lines


def indexed_articles(assistant: Any, corpus_dir: Path) -> tuple[int, dict[str, Any]]:
    """How many indexed articles an update from corpus_dir would remove (0 if it matches),
    and the indexed articles of corpus_dir by the SHA-256 of their stored text."""
    try:
        ids = [a.id for a in qa.load_corpus(corpus_dir).articles]
    except qa.QAError:
        ids = []
    stored = [a for a in map(assistant.article, dict.fromkeys(ids)) if a is not None]
    missing = int(assistant.stats().get("articles", 0)) - len(stored)
    return missing, {a.sha256: a for a in stored}


def reindex(chat: Any, progress: Any, names: set[str]) -> list[str]:
    """Update the index from ``chat``'s corpus folder (the caller holds its update_lock);
    lines for the summary, with the files the indexer skipped among ``names`` (the others
    were there before)."""

    def report_progress(stage: str, done: int, total: int) -> None:
        progress((done, total) if total else None, desc=_STAGES.get(stage, stage))

    try:
        report = chat.assistant.update_index(chat.corpus_dir, progress=report_progress)
    except qa.QAError as exc:
        return [f"✗ indexing failed: {chat.public(exc)} (the previous index is still in use)"]
    except Exception:  # the browser gets one line, the server log the trace
        log.exception("indexing %s failed", chat.corpus_dir)
        return [
            "✗ indexing failed; the server log has the details (the previous index is still in use)"
        ]
    return _summary(report, names)


def _summary(report: Any, names: set[str]) -> list[str]:
    lines = [
        f"Index updated in {report.seconds:.1f} s: {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged; {report.chunks_embedded} passages embedded. "
        f"Now {report.articles} articles."
    ]
    lines += [f"✓ {n}" for n in report.notes if n.split(": ", 1)[0] in names]
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
