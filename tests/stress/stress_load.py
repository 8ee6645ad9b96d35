"""Stress section 3: concurrent questions while the index is updated, in-process (threads on one
qa.Assistant) and over HTTP (gradio_client on the /ask endpoint). Every answer must be whole and
consistent with one generation, and the new generation must be picked up without a restart."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus"
CHANGED = "000_0f7bfc05e65b6324"  # its text gets a new first paragraph: every offset moves
QUESTIONS = [
    "who denied cooperation in the Palestine Street strike?",
    "Which city near the Iraqi border did F-15E Strike Eagles bomb?",
    "What did the Pentagon spokesperson claim about Iraqi cooperation?",
    "Who won the 2022 World Cup?",
]
# Questions the seed corpus cannot answer: cheap (no answer to compose), yet each abstention
# carries related passages with offsets, so a mix of generations would still show.
ABSTAINING = [
    "Who won the 2022 World Cup?",
    "What did the Turkish foreign ministry say about the strikes?",
    "Which team won the Champions League final in Madrid?",
    "How many people visited the Louvre last year?",
]
# One answered question that cites the article whose offsets move, three cheap abstentions.
MIXED = [QUESTIONS[0], *ABSTAINING[:3]]
# (article id, text, a question only it answers)
NEW_ARTICLES = [
    (
        "stress-ferry",
        "Ferry service resumes in Zanzibar\n\nZANZIBAR, 4 March 2024 — The Zanzibar harbour "
        "authority said on Tuesday that the ferry Mapinduzi II carried 412 passengers on its "
        "first trip after repairs.\n\nHarbour master Omar Said Ali said the engines had been "
        "replaced over six months.\n",
        "How many passengers did the ferry Mapinduzi II carry?",
    ),
    (
        "stress-library",
        "Tromso approves Arctic library\n\nTROMSO, 12 April 2024 — The Tromso city council "
        "approved a budget of 3.2 billion kroner for the new Arctic library on Thursday.\n\n"
        "Mayor Gunnar Wilhelmsen said construction would begin next spring.\n",
        "What budget did the Tromso city council approve for the Arctic library?",
    ),
]


def matches(answer: dict[str, Any], generation: Any) -> bool:
    """Whether every citation and related passage is an exact span of ``generation``."""
    for item in [*answer["citations"], *answer["related"]]:
        article = generation.article(item["article_id"])
        if article is None or article.text[item["start"] : item["end"]] != item["text"]:
            return False
        quote = item.get("quote")
        if quote is not None and article.text[item["quote_start"] : item["quote_end"]] != quote:
            return False
    return True


def change_corpus(corpus: Path, new_id: str, text: str) -> None:
    """Add one article and give another a new first paragraph (so its offsets move)."""
    (corpus / f"{new_id}.txt").write_text(text)
    path = corpus / f"{CHANGED}.txt"
    path.write_text(
        f"Editor's note, update {new_id}: this story was revised.\n\n" + path.read_text()
    )


@dataclass
class LoadResult:
    """Questions asked under load, what went wrong, and which generation answered."""

    asks: int = 0
    errors: list[str] = field(default_factory=list)
    generations: Counter[str] = field(default_factory=Counter)  # "old" / "new" / "both"
    picked_up: int = 0
    rounds: int = 0


def judge_answers(answers: list[dict[str, Any]], old: Any, new: Any, result: LoadResult) -> None:
    for answer in answers:
        in_old, in_new = matches(answer, old), matches(answer, new)
        if not (in_old or in_new):
            result.errors.append(f"answer to {answer['question'][:40]!r} mixes generations")
        result.generations["both" if in_old and in_new else "old" if in_old else "new"] += 1


def ask_while(
    ask: Callable[[str], dict[str, Any]],
    update: Callable[[], Any],
    threads: int,
    minimum: int,
    questions: list[str] = QUESTIONS,
) -> tuple[list[dict[str, Any]], list[str]]:
    """``threads`` threads ask in a loop (at least ``minimum`` each) until ``update`` is done."""
    done, start = threading.Event(), threading.Barrier(threads + 1)
    answers: list[dict[str, Any]] = []
    errors: list[str] = []

    def one(question: str) -> None:
        try:
            answers.append(ask(question))
        except Exception as exc:
            errors.append(f"{question[:40]!r}: {type(exc).__name__}: {exc}")

    def asker(n: int) -> None:
        start.wait()
        i = 0
        while i < minimum or not done.is_set():
            one(questions[(n + i) % len(questions)])
            i += 1
            if i >= minimum:
                time.sleep(0.2)  # keep asking until the update is done, leaving it some CPU
        one(questions[(n + i) % len(questions)])  # and once more, right after the switch

    def updater() -> None:
        start.wait()
        try:
            update()
        except Exception as exc:
            errors.append(f"the update failed: {type(exc).__name__}: {exc}")
        finally:
            done.set()

    workers = [threading.Thread(target=asker, args=(n,)) for n in range(threads)]
    workers.append(threading.Thread(target=updater))
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    return answers, errors


def concurrent_asks(
    work: Path,
    embedder: Any,
    *,
    threads: int,
    minimum: int = 2,
    seed_index: Path | None = None,
    rounds: tuple[str, ...] = ("build_index", "update_index"),
    questions: list[str] = QUESTIONS,
    ask_new: bool = True,
) -> LoadResult:
    """Rounds of questions under load, one per update: "build_index" (another writer, as
    `qa index` would be) or "update_index" (the Assistant's own).

    ``seed_index`` (an index of the seed corpus) is copied instead of building one. The new
    generation counts as picked up when the Assistant serves it (and, with ``ask_new``, answers
    the question only the new article answers).
    """
    import qa
    from qa.index.local import generation as store

    corpus, index = work / "corpus", work / "index"
    shutil.copytree(SEED, corpus)
    if seed_index:
        shutil.copytree(seed_index, index)
    else:
        qa.build_index(corpus, index, encoder=embedder)
    assistant = qa.Assistant(index, embedder)
    result = LoadResult()
    for n, (how, (new_id, text, question)) in enumerate(zip(rounds, NEW_ARTICLES)):
        old = store.open_generation(index)
        change_corpus(corpus, new_id, text)
        if how == "build_index":  # another writer: the Assistant must notice by itself

            def update() -> Any:
                return qa.build_index(corpus, index, encoder=embedder)
        else:

            def update() -> Any:
                return assistant.update_index(corpus)

        answers, errors = ask_while(
            lambda q: assistant.ask(q).to_dict(), update, threads, minimum, questions
        )
        new = store.open_generation(index)
        result.rounds += 1
        result.asks += len(answers) + len(errors)
        result.errors += errors
        judge_answers(answers, old, new, result)
        served = assistant.stats()["generation"] == new.name and assistant.article(new_id)
        cited = not ask_new or new_id in {c.article_id for c in assistant.ask(question).citations}
        if served and cited:
            result.picked_up += 1
        else:
            result.errors.append(f"round {n + 1}: the new article was not picked up")
    return result


def http_asks(
    url: str,
    corpus: Path,
    index: Path,
    embedder: Any,
    *,
    requests: int,
    questions: list[str] = QUESTIONS,
) -> LoadResult:
    """``requests`` concurrent /ask calls through gradio_client while build_index runs."""
    from gradio_client import Client

    import qa
    from qa.index.local import generation as store

    client = Client(url, verbose=False)
    new_id, text, question = NEW_ARTICLES[0]
    old = store.open_generation(index)
    change_corpus(corpus, new_id, text)
    result = LoadResult(rounds=1)
    jobs = [
        client.submit(question=questions[n % len(questions)], k=5, api_name="/ask")
        for n in range(requests)
    ]
    report = qa.build_index(corpus, index, encoder=embedder)
    answers = []
    for job in jobs:
        try:
            answers.append(job.result(timeout=300))
        except Exception as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
    result.asks = len(jobs)
    new = store.open_generation(index)
    if new.name != report.generation:
        result.errors.append("the index was switched again during the run")
    judge_answers([_from_api(a) for a in answers], old, new, result)
    picked = client.predict(question=question, k=5, api_name="/ask")
    if new_id in {c["article_id"] for c in picked["citations"]}:
        result.picked_up = 1
    else:
        result.errors.append("the server did not pick up the new generation")
    return result


def _from_api(answer: dict[str, Any]) -> dict[str, Any]:
    """The /ask answer with "file" renamed back to "path" (see ui.chat.Chat.ask_api)."""
    out = dict(answer)
    for key in ("citations", "related"):
        out[key] = [{("path" if k == "file" else k): v for k, v in d.items()} for d in answer[key]]
    return out
