"""The `qa` command line: summaries, and error cases as data (args -> message, exit code)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qa.cli import main


def test_help_is_instant_and_lazy():
    code = "import sys, qa.cli; assert 'torch' not in sys.modules and 'faiss' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


def test_index_prints_summary(tmp_path, seed_copy, capsys):
    (seed_copy / "junk.bin").write_bytes(b"\x00\x01")
    assert main(["index", str(seed_copy), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "articles  5: 5 added" in out and "skipped   1" in out
    assert "junk.bin: unsupported file type '.bin'" in out and "chunks/s" in out
    assert main(["index", str(seed_copy), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    assert "0 embedded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/nonexistent/corpus", "--index", "{tmp}/ix"], "corpus not found"),
        (["index", "{tmp}/empty", "--index", "{tmp}/ix"], "no loadable article"),
        (
            ["index", "corpus", "--index", "{tmp}/ix", "--model", "{tmp}/nomodel"],
            "neither a local folder",
        ),
        (["ask", "who?", "--index", "{tmp}/missing"], "no index at"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # progress lines may come first
    assert message in last and last.startswith(f"qa {args[0]}: error:")
