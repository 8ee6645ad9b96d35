"""Hostile inputs about files themselves: odd names, text pathologies, links and FIFOs."""

from __future__ import annotations

from typing import Any

from stress_inputs import Case, Entry, article_text, one, wrap

_GOOD_NAMES = [
    "with space.txt",
    "  leading spaces.md",
    "trailing space .txt",
    "many   spaces   here.html",
    "tab\tin name.txt",
    "new\nline.txt",
    "carriage\rreturn.txt",
    "café.txt",
    "cafe\u0301 nfd.txt",
    "中文新闻.txt",
    "日本語の記事.md",
    "한국어 기사.html",
    "Новости.json",
    "أخبار.jsonl",
    "חדשות.txt",
    "emoji 📰🔥.txt",
    "zero\u200bwidth.txt",
    "rtl\u202eoverride.txt",
    "a.b.c.txt",
    "v1.0.final.md",
    "double..dot.txt",
    "ends.with.dot..json",
    "upper.TXT",
    "mixed.Md",
    "loud.HTML",
    "shout.JSON",
    "odd.JsonL",
    "#hash.txt",
    "%20percent.txt",
    "semi;colon.txt",
    "quote'single.txt",
    'quote"double.txt',
    "back\\slash.txt",
    "star*.txt",
    "question?.txt",
    "pipe|.txt",
    "lt<gt>.txt",
    "colon:name.txt",
    "-dash-first.txt",
    "--help.txt",
    "$(whoami).txt",
    "`id`.txt",
    "&amp;.txt",
    "brace{x}.txt",
    "bracket[1].txt",
    "at@sign.txt",
    "plus+equals=.txt",
    "comma,name.txt",
    "~tilde.txt",
    "x" * 250 + ".txt",
    "é" * 125 + ".md",
    "sub dir/with space/a.txt",
    "ünï/çödé/b.md",
    "/".join(f"d{i}" for i in range(40)) + "/deep.txt",
    "dots.in.dir.name/c.txt",
    "CON.txt",
    "nul.txt",
    "CURRENT.txt",
    "manifest.json",
    "meta.sqlite.txt",
]
_NAME_SAMPLE = {
    "with space.txt",
    "中文新闻.txt",
    "a.b.c.txt",
    "sub dir/with space/a.txt",
    "$(whoami).txt",
}
_UNSUPPORTED = [
    "no-extension",
    "file.pdf",
    "file.docx",
    "file.exe",
    "archive.txt.gz",
    "file.txt.bak",
    "file.",
    "trailing.dot.txt.",
]


def _named(name: str, *, sample: bool = False) -> Case:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    text = wrap(suffix, article_text(f"name-{name}"))
    return one(f"name:{name}", "names", f"names/{name}", text, expect="index", sample=sample)


def name_cases() -> list[Case]:
    cases = [_named(n, sample=n in _NAME_SAMPLE) for n in _GOOD_NAMES]
    for raw in (b"latin1-\xe9t\xe9.txt", b"\xff\xfe.txt"):  # names that are not valid UTF-8
        text = article_text(repr(raw)).encode()
        cases.append(one(f"name:{raw!r}", "names", b"names/" + raw, text, expect="index"))
    cases += [
        one(f"unsupported:{n}", "names", f"names/{n}", article_text(n), sample=n == "file.pdf")
        for n in _UNSUPPORTED
    ]
    same = (
        Entry("names/dup/same.md", article_text("dup-md").encode(), expect="index"),
        Entry("names/dup/same.txt", article_text("dup-txt").encode(), expect="skip"),
    )
    front = "---\nid: shared-id\n---\n"
    shared = (
        Entry("names/fm/a.md", (front + article_text("fm-a")).encode(), expect="index"),
        Entry("names/fm/b.md", (front + article_text("fm-b")).encode(), expect="skip"),
    )
    cases += [
        Case("duplicate-id", "names", same, sample=True),
        Case("duplicate-front-id", "names", shared),
    ]
    return cases


def text_cases(*, slow: bool) -> list[Case]:
    """Plain-text pathologies: giant tokens, odd characters, front matter, page furniture."""
    story = article_text("text")
    specs: list[tuple[str, str, str, bool]] = [
        ("blob-20kb.txt", "Title\n\n" + "QUJD" * 5_000, "index", False),
        ("one-char-lines.txt", "a\n" * 20_000, "either", False),
        (
            "long-line-50kb.txt",
            "Long line\n\n" + article_text("long").replace("\n", " ") * 40,
            "index",
            False,
        ),
        ("punctuation.txt", "!?.,;:-" * 1000, "either", False),
        ("emoji.txt", "📰🔥🚀❓" * 500, "either", False),
        ("combining-only.md", "\u0301" * 10_000, "either", False),
        ("control-only.txt", "".join(chr(c) for c in range(1, 9)) * 100, "skip", True),
        ("control-sprinkled.txt", story.replace(" ", " \x01\x02\x1b ", 20), "index", False),
        ("rtl-override.md", "\u202e" + story + "\u202c", "index", True),
        (
            "blank-gap.txt",
            "Gap\n\nfirst words" + "\n" * 10_000 + "last words here.",
            "index",
            False,
        ),
        ("front-unterminated.md", "---\ntitle: never closed\n" + story, "index", False),
        ("front-only.md", "---\ntitle: Only metadata\nsource: Nowhere\n---\n", "skip", True),
        ("front-id-traversal.md", "---\nid: ../../etc/passwd\n---\n" + story, "index", False),
        ("front-id-empty.md", "---\nid:\n---\n" + story, "index", False),
        ("front-huge.md", "---\n" + "key: value\n" * 10_000 + "---\n" + story, "either", False),
        (
            "furniture-only.txt",
            "Share\nTweet\nAdvertisement\nRead more\nLoading...\n",
            "skip",
            True,
        ),
        ("headings-only.md", "# One\n\n## Two\n\n### Three\n", "either", False),
        ("html-in-text.txt", "<script>alert(1)</script>\n" + story, "index", False),
        ("zalgo.txt", "".join(ch + "\u0301\u0316\u0337" for ch in story), "index", False),
        ("symbols.txt", "∑∫√∞≠≈ " * 500, "either", False),
        ("repeated-body.txt", story + "\n" + story, "index", False),
        ("crlf.txt", story.replace("\n", "\r\n"), "index", False),
        ("cr-only.txt", story.replace("\n", "\r"), "index", False),
        ("formfeed.txt", story.replace("\n\n", "\n\x0c\x0b\n"), "index", False),
    ]
    if slow:  # legitimate size (1 MB, a twentieth of the limit) but no separator at all
        specs.append(("blob-1mb.txt", "Embedded image\n\n" + "QUJD" * 250_000, "index", False))
    return [
        one(f"text:{name}", "text", f"text/{name}", data, expect=expect, sample=sample)
        for name, data, expect, sample in specs
    ]


def filesystem_cases() -> list[Case]:
    good = Entry("fs/good-target.txt", article_text("fs-target").encode(), expect="index")
    link = Entry(
        "fs/link-to-good.txt", kind="symlink", target="corpus:fs/good-target.txt", expect="either"
    )
    specs: list[tuple[str, dict[str, Any], bool]] = [
        ("passwd.txt", {"kind": "symlink", "target": "/etc/passwd", "expect": "either"}, False),
        ("dangling.txt", {"kind": "symlink", "target": "/nonexistent/article.txt"}, True),
        ("loop.txt", {"kind": "symlink", "target": "corpus:fs/loop.txt"}, True),
        ("dir-link.txt", {"kind": "symlink", "target": "/usr", "expect": "either"}, False),
        ("devnull.txt", {"kind": "symlink", "target": "/dev/null"}, False),
        ("fifo-link.txt", {"kind": "fifo_link"}, False),
    ]
    cases = [Case("fs:symlink-to-good", "filesystem", (good, link))]
    cases += [
        Case(f"fs:{name}", "filesystem", (Entry(f"fs/{name}", **kw),), sample=sample)
        for name, kw, sample in specs
    ]
    return cases
