"""The catalog of hostile inputs (over 500): empty, whitespace, binary, encodings and 50 MB files
here; HTML and JSON in stress_cases_structured; names, text and links in stress_cases_files."""

from __future__ import annotations

import random

from stress_cases_files import filesystem_cases, name_cases, text_cases
from stress_cases_structured import html_cases, json_cases
from stress_inputs import MB, SUFFIXES, TEXTUAL, Case, Entry, article_text, fname, one, wrap


def all_cases(*, big: bool = True) -> list[Case]:
    """Every hostile input; ``big=False`` makes the 50 MB files sparse and skips the slow ones."""
    cases = [
        *_empty(),
        *_whitespace(),
        *_binary(),
        *_encodings(),
        *_big_files(real=big),
        *html_cases(),
        *json_cases(),
        *name_cases(),
        *text_cases(slow=big),
        *filesystem_cases(),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def sample_cases() -> list[Case]:
    """About thirty inputs, a few of each kind, that run in seconds (for `make test`)."""
    return [c for c in all_cases(big=False) if c.sample]


def _empty() -> list[Case]:
    return [
        one(f"empty{s}", "empty", f"empty/{fname('empty', s)}", b"", sample=s in (".txt", ".json"))
        for s in SUFFIXES
    ]


_WHITESPACE = {
    "space": " ",
    "newlines": "\n\n\n",
    "tabs": "\t\t",
    "crlf": "\r\n\r\n",
    "mixed": " \n \t \r ",
    "nbsp": "\u00a0" * 10,
    "ideographic": "\u3000\u2003\u2009",
    "zero-width": "\u200b\u200c\u200d" * 4,
    "bom": "\ufeff",
    "line-separators": "\u2028\u2029",
    "vertical-tab-formfeed": "\x0b\x0c",
    "many-blank-lines": "\n" * 10_000,
}
_WHITESPACE_SAMPLE = {("nbsp", ".md"), ("zero-width", ".html"), ("crlf", ".txt")}


def _whitespace() -> list[Case]:
    return [
        one(
            f"whitespace-{label}{s}",
            "whitespace",
            f"whitespace/{fname(label, s)}",
            text,
            sample=(label, s) in _WHITESPACE_SAMPLE,
        )
        for label, text in _WHITESPACE.items()
        for s in SUFFIXES
    ]


def _binary_blobs() -> dict[str, tuple[bytes, str]]:
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(4096))
    high = bytes(rng.randrange(128, 256) for _ in range(4096))
    story = article_text("nul-late")
    late_nul = (story + "More text follows. " * 600 + "\x00 and after the NUL.\n").encode()
    return {
        "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise[:512], "skip"),
        "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + noise[:64], "skip"),
        "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nstream\n" + noise[:512], "skip"),
        "gzip": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + noise[:512], "skip"),
        "elf": (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + noise[:512], "skip"),
        "zip": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + noise[:512], "skip"),
        "random": (noise, "skip"),
        "high-bytes": (high, "skip"),
        "utf16le": (story.encode("utf-16"), "skip"),
        "utf16be": (story.encode("utf-16-be"), "skip"),
        "utf32": (story.encode("utf-32"), "skip"),
        "nul-first": (b"\x00" + story.encode(), "skip"),
        "nul-after-8k": (late_nul, "either"),
    }


_BINARY_SAMPLE = {("png", ".txt"), ("utf16le", ".md"), ("random", ".jsonl"), ("nul-first", ".html")}


def _binary() -> list[Case]:
    return [
        one(
            f"binary-{label}{s}",
            "binary",
            f"binary/{fname(label, s)}",
            data,
            expect=expect,
            sample=(label, s) in _BINARY_SAMPLE,
        )
        for label, (data, expect) in _binary_blobs().items()
        for s in TEXTUAL
    ]


_ACCENTS = "Le ministre a déclaré que l’été était sec — «très sec», a-t-il ajouté."
_EXTRA = {
    "shift-jis": ("shift_jis", "日本語の記事です。東京で会議が開かれた。"),
    "gb2312": ("gb2312", "北京市政府周一表示，新桥梁将于明年开放。"),
    "koi8-r": ("koi8_r", "Министерство заявило, что мост откроют весной."),
    "euc-kr": ("euc_kr", "서울시는 월요일에 새로운 다리를 개통한다고 밝혔다."),
    "latin1": ("latin-1", _ACCENTS),
    "cp1252": ("cp1252", _ACCENTS),
}


_DECODED = ("latin1", "cp1252", "koi8-r")


def _encoded(suffix: str, label: str) -> tuple[bytes, str]:
    """An article in a legacy or broken encoding (or valid but odd UTF-8), and its expectation."""
    story = article_text(f"enc-{label}{suffix}")
    codec, extra = _EXTRA.get(label, ("utf-8", _ACCENTS))
    text = wrap(suffix, story.replace("\n\n", f"\n\n{extra}\n\n", 1))
    if label in _EXTRA:
        # A Western or Cyrillic single-byte file is decoded (HTML only by its meta charset,
        # which the wrapper gives as UTF-8: that page is skipped); a multi-byte East Asian
        # encoding is not guessed.
        decoded = label in _DECODED and suffix != ".html"
        return text.encode(codec, "replace"), "index" if decoded else "skip"
    utf8 = text.encode()
    cut = len(utf8) // 2
    broken = {
        "truncated-multibyte": utf8 + "é".encode()[:1],
        "lone-continuation": utf8[:cut] + b"\x80\x81" + utf8[cut:],
        "overlong": utf8[:cut] + b"\xc0\xaf" + utf8[cut:],
        "encoded-surrogate": utf8[:cut] + b"\xed\xa0\x80" + utf8[cut:],
        "mixed-utf8-latin1": utf8 + _ACCENTS.encode("latin-1", "replace"),
        "ff-fe": b"\xff\xfe" + utf8,
    }
    if label in broken:
        return broken[label], "skip"
    if label == "mojibake":  # UTF-8 read as Latin-1 and saved again: valid UTF-8, odd text
        return text.encode().decode("latin-1").encode(), "index"
    return b"\xef\xbb\xbf" + utf8, "index"  # utf8-bom


_ENCODINGS = (
    *_EXTRA,
    "truncated-multibyte",
    "lone-continuation",
    "overlong",
    "encoded-surrogate",
    "mixed-utf8-latin1",
    "ff-fe",
    "mojibake",
    "utf8-bom",
)
_ENCODING_SAMPLE = {("latin1", ".txt"), ("cp1252", ".json"), ("overlong", ".jsonl")}


def _encodings() -> list[Case]:
    cases = []
    for label in _ENCODINGS:
        for s in TEXTUAL:
            data, expect = _encoded(s, label)
            sample = (label, s) in _ENCODING_SAMPLE or (label, s) == ("mojibake", ".md")
            name = f"encoding-{label}{s}"
            cases.append(
                one(
                    name,
                    "encoding",
                    f"encoding/{fname(label, s)}",
                    data,
                    expect=expect,
                    sample=sample,
                )
            )
    return cases


def _big_files(*, real: bool) -> list[Case]:
    """50 MB files (sparse when not ``real``): over the size limit, or one giant article."""
    kind = "big" if real else "sparse"
    specs = [
        ("big-50mb.txt", b"", b"", 50 * MB),
        ("big-50mb.md", b"# A very long article\n\n", b"", 50 * MB),
        ("big-50mb.html", b"<html><body><p>", b"</p></body></html>", 50 * MB),
        ("big-21mb.txt", b"", b"", 21 * MB),
        ("big-50mb-one-line.jsonl", b'{"title": "one huge line", "body": "', b'"}\n', 50 * MB),
    ]
    cases = [
        Case(
            name,
            "big",
            (Entry(f"big/{name}", kind=kind, big=(pre, post, size)),),
            sample=name == "big-50mb.txt",
        )
        for name, pre, post, size in specs
    ]
    if real:
        # A .json file may be 10x the per-article limit (it may be a collection), but this one
        # holds ONE 50 MB article: the per-article limit must still apply to it.
        prefix, suffix = b'{"title": "one huge article", "body": "', b'"}'
        entry = Entry("big/big-50mb-one-article.json", kind="big", big=(prefix, suffix, 50 * MB))
        cases.append(Case("big-50mb-one-article.json", "big", (entry,)))
    return cases
