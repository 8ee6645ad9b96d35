"""The `qa` command line: index, ask, eval. Uses only the public API; heavy imports are lazy."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

DEFAULT_INDEX = "index"
_MAX_SKIPPED_SHOWN = 20
_READER_HELP = (
    "joint (default): the trained sentence scorer plus the joint model (the question read "
    "against the sentence); trained: the trained sentence scorer alone; none: cosine, key "
    "terms and answer kind (v1's scoring)"
)
_RERANKER_HELP = (
    "reranker of the fused passages: none (the fused order) or sentence (the trained "
    "reader's best sentence per passage; README, Reranking)"
)


def _parser() -> argparse.ArgumentParser:
    import qa

    parser = argparse.ArgumentParser(
        prog="qa",
        description="Offline question answering over news archives, with exact cited passages.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="build or incrementally update the index of a corpus")
    p.add_argument("corpus", nargs="?", default="corpus", help="folder or article file")
    p.add_argument(
        "--index", default=DEFAULT_INDEX, help="index folder or engine URI (default: index)"
    )
    p.add_argument("--model", default=None, help="sentence-transformers model name or folder")
    p.add_argument(
        "--backend",
        choices=qa.BACKENDS,
        default=None,
        help=f"embedding backend (default: the index's own; {qa.DEFAULT_BACKEND} for a new one)",
    )
    p.add_argument(
        "--max-file-mb",
        type=float,
        default=qa.DEFAULT_MAX_FILE_MB,
        help=f"size limit of one article ({qa.DEFAULT_MAX_FILE_MB:g})",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every index file against its recorded sha256 and rebuild a damaged one",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="embed on Ray actors: a local Ray for this run, or the cluster at ADDRESS",
    )
    p.add_argument("--ray-workers", type=int, help="Ray actors (default: one per CPU)")
    p.add_argument(
        "--optimize",
        action="store_true",
        help="afterwards fold the index's update segments into one (readers are not blocked)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question")
    p.add_argument("--index", default=DEFAULT_INDEX)
    p.add_argument(
        "--k",
        type=int,
        default=qa.DEFAULT_ANSWER_K,
        help=f"passages to draw the answer from ({qa.DEFAULT_ANSWER_K})",
    )
    p.add_argument("--source", action="append", help="only this outlet (repeatable)")
    p.add_argument("--since", help="published on or after YYYY-MM-DD")
    p.add_argument("--until", help="published on or before YYYY-MM-DD")
    p.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="how to print the answer (markdown: as the web chat's copy button gives it)",
    )
    p.add_argument("--json", action="store_true", help="print the answer as JSON (--format json)")
    p.add_argument("--reader", default=None, help=_READER_HELP)
    p.add_argument("--reranker", default=None, help=_RERANKER_HELP + " (default: none)")
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("eval", help="measure retrieval and answers on a question file")
    p.add_argument("questions", help="JSONL: id, question, gold_article_ids, answer(s), ...")
    p.add_argument("--index", default=DEFAULT_INDEX)
    p.add_argument(
        "--k",
        type=int,
        default=qa.DEFAULT_RETRIEVE_K,
        help=f"passages retrieved per question ({qa.DEFAULT_RETRIEVE_K})",
    )
    p.add_argument("--out", help="write per-question results (JSONL) here")
    p.add_argument(
        "--reader",
        action="append",
        help="reader to answer with: trained, joint or none (today's scoring); repeat to compare "
        "them in one run (default: the default reader)",
    )
    p.add_argument("--reranker", default="none", help=_RERANKER_HELP)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("serve", help="start the web chat (Gradio)")
    p.add_argument("--index", default=DEFAULT_INDEX)
    p.add_argument("--corpus", default="corpus", help="folder that uploaded articles are saved to")
    p.add_argument("--reader", default=None, help=_READER_HELP)
    p.add_argument("--reranker", default=None, help=_RERANKER_HELP + " (default: none)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qa` command; returns the exit code."""
    args = _parser().parse_args(argv)
    if not getattr(args, "func", None):
        _parser().print_help()
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from qa.errors import QAError

    try:
        return int(args.func(args) or 0)
    except QAError as exc:
        print(f"qa {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"qa {args.command}: interrupted", file=sys.stderr)
        return 130


class _ProgressPrinter:
    """Stage lines and an embedding progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage == "embed" and total:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc="embedding", unit="chunk", file=sys.stderr)
            self._bar.update(done - self._bar.n)
            if done >= total:
                self._bar.close()
        elif stage == "load":
            print(f"loaded {done} articles", file=sys.stderr)
        elif stage == "ray":
            print(f"embedding on {done} Ray worker(s)", file=sys.stderr)
        elif stage == "write" and done == 0:
            print("writing index generation", file=sys.stderr)


def _cmd_index(args: argparse.Namespace) -> int:
    import qa

    report = qa.build_index(
        args.corpus,
        args.index,
        model=args.model,
        backend=args.backend,
        max_file_mb=args.max_file_mb,
        progress=_ProgressPrinter(not args.quiet),
        verify=args.verify,
        ray=args.ray,
        ray_workers=args.ray_workers,
        optimize=args.optimize,
    )
    print(_index_summary(args.corpus, report))
    return 0


def _index_summary(corpus: str, report: Any) -> str:
    rate = report.chunks_embedded / report.embed_seconds if report.embed_seconds else 0.0
    lines = [
        f"Indexed {corpus} -> {report.index_dir} (generation {report.generation})",
        f"  articles  {report.articles}: {len(report.added)} added, {len(report.updated)} updated,"
        f" {len(report.removed)} removed, {len(report.unchanged)} unchanged",
        f"  chunks    {report.chunks}: {report.chunks_embedded} embedded"
        + (
            f" in {report.embed_seconds:.1f} s ({rate:.1f} chunks/s)"
            if report.chunks_embedded
            else ""
        ),
        f"  skipped   {len(report.skipped)}",
    ]
    lines += [f"    {s}" for s in report.skipped[:_MAX_SKIPPED_SHOWN]]
    if len(report.skipped) > _MAX_SKIPPED_SHOWN:
        lines.append(f"    ... and {len(report.skipped) - _MAX_SKIPPED_SHOWN} more")
    if report.notes:
        lines.append(f"  notes     {len(report.notes)}")
        lines += [f"    {n}" for n in report.notes[:_MAX_SKIPPED_SHOWN]]
    if report.full_rebuild_reason:
        lines.append(f"  rebuilt   {report.full_rebuild_reason}")
    lines.append(f"  time      {report.seconds:.1f} s")
    return "\n".join(lines)


def _cmd_ask(args: argparse.Namespace) -> int:
    import qa

    if not args.question.strip():  # refuse before loading the model
        raise qa.QuestionError("the question is empty; type a question about the articles")
    assistant = qa.Assistant.open(args.index, reader=args.reader, reranker=args.reranker)
    answer = assistant.ask(
        args.question, k=args.k, sources=args.source, since=args.since, until=args.until
    )
    leads = assistant.leads(answer)
    if args.json or args.format == "json":
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    elif args.format == "markdown":
        print(answer.to_markdown(leads=leads), end="")
    else:
        print(_format_answer(answer, leads))
    return 0


def _format_answer(answer: Any, leads: dict[str, str] | None = None) -> str:
    lines = [f"Note: {notice}" for notice in answer.notices]
    lines += [answer.text, ""]
    if answer.abstained:
        lines.append(f"({answer.reason})")
        if answer.related:
            lines += ["", "Closest passages:"]
            for n, p in enumerate(answer.related, start=1):
                lines.append(f"  {n}. {_where(p, leads)}")
                lines.append(f"     {_short(p.text)}")
        return "\n".join(lines)
    lines.append("Sources:")
    for c in answer.citations:
        lines.append(f"  [{c.n}] {_where(c, leads)}")
        lines.append(f"      \u201c{c.quote}\u201d")
    return "\n".join(lines)


def _where(p: Any, leads: dict[str, str] | None = None) -> str:
    import qa

    title = qa.display_title(p.title, (leads or {}).get(p.article_id))
    parts = [title, p.source or "outlet unknown", p.published or "date unknown"]
    return " \u00b7 ".join(parts) + f" \u00b7 {p.path}:{p.start}-{p.end}"


def _short(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _cmd_eval(args: argparse.Namespace) -> int:
    import qa

    assistant = qa.Assistant.open(args.index, reranker=args.reranker)
    names = list(dict.fromkeys(args.reader or []))
    if not names:
        result = qa.evaluate(assistant, args.questions, k=args.k, out=args.out)
        print(result.table())
        print(result.curve_table())
        return 0
    for n, name in enumerate(names):
        reader = qa.make_reader(name, assistant.encoder)
        out = args.out if n == 0 or not args.out else f"{args.out}.{name}"
        result = qa.evaluate(assistant, args.questions, k=args.k, out=out, reader=reader)
        print(f"reader: {name}")
        print(result.table())
        print(result.curve_table())
        print()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Start the web chat, found through the ``newsqa.serve`` entry point (the ``ui`` package):
    the library does not depend on the app."""
    from importlib.metadata import entry_points

    import qa

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    found = entry_points(group="newsqa.serve")
    if not found:
        raise qa.SettingsError("no web chat is installed; install the package with `make install`")
    serve = next(iter(found)).load()
    options = {name: getattr(args, name) for name in ("reader", "reranker") if getattr(args, name)}
    serve(index_dir=args.index, corpus_dir=args.corpus, host=args.host, port=args.port, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
