"""Stress section 4: hostile questions. Each must get a clear refusal (a typed qa error) or an
answer within two seconds (trimmed, with a notice, when over 1,000 characters); never a crash.
Through the CLI, a refusal is exit code 1 and one line on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LIMIT_SECONDS = 2.0
Q = "who denied cooperation in the Palestine Street strike?"

# (label, question, keyword arguments of ask)
QUESTIONS: list[tuple[str, Any, dict[str, Any]]] = [
    ("empty", "", {}),
    ("space", " ", {}),
    ("whitespace mix", " \t\n\r\x0b\x0c ", {}),
    ("unicode spaces", "\u00a0\u2003\u3000\u2028", {}),
    ("zero-width only", "\u200b\u200c\u200d\ufeff", {}),
    ("NUL only", "\x00", {}),
    ("control only", "\x01\x02\x03\x1b\x7f", {}),
    ("NUL inside", "who\x00denied cooperation in the Palestine Street strike?", {}),
    ("ANSI escapes", "\x1b[31mwho denied cooperation?\x1b[0m", {}),
    ("bell and backspace", "who\x07 denied\x08 cooperation?", {}),
    ("100k words", "strike " * 14_286, {}),
    ("100k no spaces", "x" * 100_000, {}),
    ("100k newlines", "\n".join(["Palestine Street"] * 6_000), {}),
    ("100k CJK", "中" * 100_000, {}),
    ("100k emoji", "📰" * 100_000, {}),
    ("100k combining", "a" + "\u0301" * 100_000, {}),
    ("Arabic", "من نفى التعاون في ضربة شارع فلسطين؟", {}),
    ("Hebrew", "מי הכחיש שיתוף פעולה בתקיפה ברחוב פלסטין?", {}),
    ("Chinese", "谁否认了在巴勒斯坦街袭击中的合作？", {}),
    ("Japanese", "パレスチナ通りの攻撃で協力を否定したのは誰ですか？", {}),
    ("Korean", "팔레스타인 거리 공격에서 협력을 부인한 사람은 누구입니까?", {}),
    ("Russian", "Кто отрицал сотрудничество при ударе по улице Палестины?", {}),
    ("Greek", "Ποιος αρνήθηκε τη συνεργασία στην επίθεση στην οδό Παλαιστίνης;", {}),
    ("Hindi", "फ़िलिस्तीन स्ट्रीट हमले में सहयोग से किसने इनकार किया?", {}),
    ("Thai", "ใครปฏิเสธความร่วมมือในการโจมตีถนนปาเลสไตน์", {}),
    ("Georgian", "ვინ უარყო თანამშრომლობა პალესტინის ქუჩაზე დარტყმაში?", {}),
    ("Amharic", "በፍልስጤም ጎዳና ጥቃት ትብብርን ማን ካደ?", {}),
    ("Spanish", "¿Quién negó la cooperación en el ataque de la calle Palestina?", {}),
    ("Turkish", "Filistin Caddesi saldırısında işbirliğini kim İNKÂR etti?", {}),
    ("Vietnamese", "Ai đã phủ nhận hợp tác trong cuộc tấn công đường Palestine?", {}),
    ("mixed scripts", "who 谁 кто من denied the Palestine Street strike?", {}),
    ("RTL override", "\u202ewho denied cooperation in the strike?\u202c", {}),
    ("emoji", "🔥💥🚀❓", {}),
    ("math symbols", "∑∫√∞≠≈ ∀x∃y", {}),
    ("zalgo", "".join(ch + "\u0301\u0316" for ch in Q), {}),
    ("SQL", "'; DROP TABLE articles; -- who denied cooperation?", {}),
    ("HTML", "<script>alert(1)</script> who denied cooperation?", {}),
    ("template", "{{7*7}} ${jndi:ldap://x} %s%n who denied?", {}),
    ("path", "../../etc/passwd", {}),
    ("one character", "?", {}),
    ("one long word", "Palestine" * 600, {}),
    ("lone surrogate", "who \ud800 denied cooperation?", {}),
    ("escaped bytes", "\udcff\udcfe strike", {}),
    ("k=0", Q, {"k": 0}),
    ("k=51", Q, {"k": 51}),
    ("k=-1", Q, {"k": -1}),
    ("k=NaN", Q, {"k": float("nan")}),
    ("k=inf", Q, {"k": float("inf")}),
    ("since garbage", Q, {"since": "last Tuesday"}),
    ("since impossible", Q, {"since": "2024-02-30"}),
    ("not text", None, {}),
]


@dataclass
class QuestionsResult:
    """How the hostile questions came out."""

    asked: int = 0
    problems_in_process: int = 0
    refused: int = 0
    answered: int = 0
    problems: list[str] = field(default_factory=list)
    slowest: float = 0.0
    cli_runs: int = 0
    cli_ok: int = 0


def ask_one(assistant: Any, question: Any, kwargs: dict[str, Any]) -> tuple[str, str, float]:
    """(outcome, detail, seconds): "refused", "answered", "crash", "slow" or "untrimmed"."""
    import qa

    started = time.perf_counter()
    try:
        answer = assistant.ask(question, **kwargs)
    except qa.QAError as exc:
        return "refused", f"{type(exc).__name__}: {exc}", time.perf_counter() - started
    except Exception as exc:
        return "crash", f"{type(exc).__name__}: {exc}", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if seconds > LIMIT_SECONDS:
        return "slow", f"{seconds:.1f} s", seconds
    too_long = isinstance(question, str) and len(question) > 1000
    if too_long and not any("trimmed" in n for n in answer.notices):
        return "untrimmed", "over 1,000 characters but no trimmed notice", seconds
    return "answered", "abstained" if answer.abstained else "answered", seconds


def run_questions(assistant: Any, index: Path) -> QuestionsResult:
    result = QuestionsResult()
    assistant.ask(Q)  # warm-up: the first call pays for lazy loading
    for label, question, kwargs in QUESTIONS:
        outcome, detail, seconds = ask_one(assistant, question, kwargs)
        result.asked += 1
        result.slowest = max(result.slowest, seconds)
        if outcome == "refused":
            result.refused += 1
        elif outcome == "answered":
            result.answered += 1
        else:
            result.problems_in_process += 1
            result.problems.append(f"ask({label!r}): {outcome}: {detail}")
    cli = [
        (["ask", ""], 1),
        (["ask", "   \t "], 1),
        (["ask", "\x01\x02\x03"], 1),
        (["ask", Q, "--k", "0"], 1),
        (["ask", "x " * 50_000], 0),
        (["ask", os.fsdecode(b"who \xff\xfe denied cooperation?")], None),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda c: (c, cli_ask(c[0], index)), cli)
        for (args, expected), (code, err) in runs:
            result.cli_runs += 1
            problem = judge_cli(code, err, expected)
            if problem:
                result.problems.append(f"qa {args[0]} {args[1][:30]!r}: {problem}")
            else:
                result.cli_ok += 1
    return result


def cli_ask(args: list[str], index: Path) -> tuple[int, str]:
    """Run `qa ASK ... --index INDEX` in a fresh process: (exit code, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", *args, "--index", str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    return proc.returncode, proc.stderr


def judge_cli(code: int, err: str, expected: int | None) -> str:
    """'' when a refusal is exit 1 and one 'qa ask: error:' line, or an answer exits 0."""
    lines = [line for line in err.splitlines() if line.strip()]
    if "Traceback" in err:
        return f"exit code {code} with a traceback: {lines[-1] if lines else ''}"
    if code == 1:
        one_line = len(lines) == 1 and lines[0].startswith("qa ask: error:")
        return "" if one_line and expected in (1, None) else f"exit 1, stderr: {lines}"
    if code == 0:
        return "" if expected in (0, None) else "answered where a refusal was expected"
    return f"exit code {code}: {lines[-1:]}"
