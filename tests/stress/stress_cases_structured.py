"""Hostile HTML and JSON/JSONL inputs: deep nesting, no text, wrong types, broken lines."""

from __future__ import annotations

import json
from typing import Any

from stress_inputs import Case, Entry, article_text, fname, one, wrap

_HTML_SAMPLE = {("deep-div-5000", ".html"), ("script-only", ".htm"), ("xxe", ".html")}
_XXE = (
    '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
    "<html><body><p>&leak;</p></body></html>"
)
_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><html><body><p>&lol9;</p></body></html>"
)


def _paras(tag: str) -> str:
    html = wrap(".html", article_text(tag))
    return html[html.index("<p>") : html.index("</article>")]


def _html_variants(tag: str) -> dict[str, tuple[str, str]]:
    """name -> (markup, expectation); "either" where extracting some text or none are both fine."""
    paras = _paras(tag)
    good = wrap(".html", article_text(tag))
    variants = {
        "good": (good, "index"),
        "script-injection": (good.replace("<p>", "<p><script>alert(1)</script>", 1), "index"),
        "bidi": (good.replace("<p>", "<p>\u202e", 1), "index"),
        "unclosed-b-10000": ("<html><body>" + "<b>" * 10_000 + paras, "either"),
        "unclosed-b-100000": ("<html><body>" + "<b>" * 100_000 + paras, "either"),
        "deep-table-3000": (
            "<table><tr><td>" * 3000 + paras + "</td></tr></table>" * 3000,
            "either",
        ),
        "deep-list-10000": ("<ul><li>" * 10_000 + paras, "either"),
        "many-spans-5000": ("<p>" + "<span>x</span>" * 5000 + "</p>", "either"),
        "script-only": (
            "<html><head><script>var a=1;</script></head><body><script>alert('x')"
            "</script></body></html>",
            "skip",
        ),
        "style-only": ("<html><head><style>body{color:red}</style></head></html>", "skip"),
        "img-only": ('<html><body><img src="a.png"><img src="b.png"></body></html>', "skip"),
        "comments-only": (f"<html><body><!-- {paras} --></body></html>", "skip"),
        "empty-html": ("<html></html>", "skip"),
        "head-title-only": (
            "<html><head><title>Only a title</title></head><body></body></html>",
            "either",
        ),
        "nav-footer-only": (
            "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
            "<footer>© 2024 Example News. All rights reserved.</footer>",
            "either",
        ),
        "garbage": ("<<<>>><<>><<</>>>" * 100, "either"),
        "doctype-only": ("<!DOCTYPE html>", "skip"),
        "nbsp-only": ("<p>" + "&nbsp;" * 1000 + "</p>", "skip"),
        "billion-laughs": (_LAUGHS, "either"),
        "xxe": (_XXE, "either"),
        "huge-attribute": ('<div data-x="' + "A" * 1_000_000 + '">' + paras + "</div>", "either"),
        "svg-only": ("<svg><text>hello</text></svg>", "either"),
        "iframe-srcdoc": (
            '<iframe srcdoc="' + paras.replace('"', "&quot;") + '"></iframe>',
            "either",
        ),
        "cdata": ("<![CDATA[" + paras + "]]>", "either"),
        "bad-comments": ("<!-- --!>" + paras, "either"),
        "nul-entity": (good.replace("<p>", "<p>&#0;", 1), "either"),
        "json-in-html": (wrap(".json", article_text(tag)), "either"),
        "links-5000": ("<a href='/x'>link</a> " * 5000, "either"),
        "form-only": ("<form><input name=q><button>Go</button></form>", "either"),
        "unclosed-comment": ("<html><body><!-- " + paras, "either"),
        "entity-flood": ("<p>" + "&amp;" * 100_000 + "</p>", "either"),
        "malformed-attrs": ('<p class="a" class=b <<>> id=>' + paras, "either"),
    }
    for depth in (1000, 5000, 20_000, 100_000):
        markup = "<html><body>" + "<div>" * depth + paras + "</div>" * depth + "</body></html>"
        variants[f"deep-div-{depth}"] = (markup, "either")
    return variants


def html_cases() -> list[Case]:
    cases = []
    for suffix in (".html", ".htm"):
        for name, (markup, expect) in _html_variants(f"html{suffix}").items():
            sample = (name, suffix) in _HTML_SAMPLE
            cases.append(
                one(
                    f"html-{name}{suffix}",
                    "html",
                    f"html/{fname(name, suffix)}",
                    markup,
                    expect=expect,
                    sample=sample,
                )
            )
    return cases


def _records(tag: str) -> dict[str, tuple[Any, str]]:
    """name -> (JSON value, expectation)."""
    title, _, b = article_text(tag).partition("\n\n")
    return {
        "good": ({"title": title, "body": b}, "index"),
        "text-field": ({"title": title, "text": b}, "index"),
        "content-field": ({"headline": title, "content": b, "outlet": "Wire"}, "index"),
        "body-int": ({"title": title, "body": 42}, "skip"),
        "body-float": ({"body": 1.5}, "skip"),
        "body-bool": ({"body": True}, "skip"),
        "body-null": ({"body": None}, "skip"),
        "body-list": ({"body": [b]}, "skip"),
        "body-dict": ({"body": {"text": b}}, "skip"),
        "body-empty": ({"title": title, "body": ""}, "skip"),
        "body-whitespace": ({"title": title, "body": " \n\t "}, "skip"),
        "title-list": ({"title": [title], "body": b}, "either"),
        "title-int": ({"title": 7, "body": b}, "either"),
        "title-dict": ({"title": {"en": title}, "body": b}, "either"),
        "id-true": ({"id": True, "body": b}, "either"),
        "id-float": ({"id": 1.5, "body": b}, "either"),
        "id-dict": ({"id": {"a": 1}, "body": b}, "either"),
        "id-list": ({"id": [1], "body": b}, "either"),
        "id-empty": ({"id": "", "body": b}, "index"),
        "id-space": ({"id": "   ", "body": b}, "either"),
        "id-zero": ({"id": 0 if tag.endswith(".json") else 1, "body": b}, "index"),
        "id-negative": ({"id": -1 if tag.endswith(".json") else -2, "body": b}, "index"),
        "id-traversal": ({"id": f"../../etc/passwd-{tag}", "body": b}, "index"),
        "id-nul": ({"id": f"a\u0000b-{tag}", "body": b}, "either"),
        "id-huge-int": ({"id": 10**30 + len(tag), "body": b}, "index"),
        "id-unicode": ({"id": f"新闻/ünï 📰 {tag}", "body": b}, "index"),
        "published-garbage": ({"body": b, "published": "not a date"}, "index"),
        "published-int": ({"body": b, "published": 20240101}, "either"),
        "published-impossible": ({"body": b, "published": "2024-02-30"}, "index"),
        "published-nines": ({"body": b, "published": "9999-99-99"}, "index"),
        "published-zeros": ({"body": b, "date": "0000-00-00"}, "index"),
        "published-list": ({"body": b, "published": ["2024-01-01"]}, "either"),
        "source-int": ({"body": b, "source": 123}, "either"),
        "url-list": ({"body": b, "url": ["http://a.example"]}, "either"),
        "url-javascript": ({"body": b, "url": "javascript:alert(1)"}, "index"),
        "author-ints": ({"body": b, "author": [1, 2]}, "either"),
        "author-strings": ({"body": b, "authors": ["A. Writer", "B. Editor"]}, "index"),
        "missing-all": ({}, "skip"),
        "title-only": ({"title": title}, "skip"),
        "url-only": ({"url": "http://example.com/a"}, "skip"),
        "huge-extra-field": ({"body": b, "extra": "x" * 100_000}, "index"),
        "nul-in-body": ({"body": b.replace(" ", "\u0000 ", 3)}, "index"),
        "html-in-body": ({"body": "<script>alert(1)</script>" + b}, "index"),
        "many-fields": ({**{f"k{i}": i for i in range(5000)}, "body": b}, "index"),
    }


def _raw(tag: str) -> dict[str, tuple[str, str]]:
    """name -> (one line of JSON text, possibly broken, expectation)."""
    title, _, b = article_text(tag).partition("\n\n")
    body = json.dumps(b)
    return {
        "surrogate-body": ('{"body": ' + body[:-1] + ' \\ud800 end"}', "either"),
        "surrogate-title": ('{"title": "bad \\udfff title", "body": ' + body + "}", "either"),
        "surrogate-id": ('{"id": "x\\ud83d", "body": ' + body + "}", "either"),
        "duplicate-keys": ('{"body": 1, "body": ' + body + "}", "index"),
        "truncated": ('{"body": "abc', "skip"),
        "trailing-comma": ('{"body": "x y z",}', "skip"),
        "single-quotes": ("{'body': 'x'}", "skip"),
        "nan": ('{"body": NaN}', "skip"),
        "infinity-id": ('{"id": Infinity, "body": ' + body + "}", "either"),
        "huge-float-id": ('{"id": 1e999, "body": ' + body + "}", "either"),
        "comment": ('// a comment {"body": "x"}', "skip"),
        "bare-string": ('"just a string"', "skip"),
        "number": ("42", "skip"),
        "null": ("null", "skip"),
        "true": ("true", "skip"),
        "numbers-array": ("[1, 2, 3]", "skip"),
        "nested-empty-array": ("[[]]", "skip"),
        "empty-objects-array": ("[{}, {}]", "skip"),
        "empty-array": ("[]", "skip"),
        "deep-array": ("[" * 100_000 + "]" * 100_000, "skip"),
        "deep-object": ('{"a":' * 100_000 + "1" + "}" * 100_000, "skip"),
        "bigint-id": ('{"id": ' + "9" * 5000 + ', "body": ' + body + "}", "either"),
        "bigint-body": ('{"body": ' + "9" * 5000 + "}", "skip"),
    }


_JSON_SAMPLE = {
    ("body-int", ".json"),
    ("missing-all", ".jsonl"),
    ("truncated", ".jsonl"),
    ("mixed-list", ".json"),
    ("id-traversal", ".json"),
    ("published-garbage", ".jsonl"),
}


def _json_only(tag: str) -> dict[str, tuple[str, str, int]]:
    good = {"title": "Pretty", "body": article_text(tag + "-pretty").partition("\n\n")[2]}
    return {
        "concatenated": ("{}{}", "skip", 0),
        "bom": ("\ufeff" + json.dumps({"body": article_text(tag + "-bom")}), "index", 1),
        "pretty-multiline": (json.dumps(good, indent=2), "index", 1),
    }


def _jsonl_only(tag: str) -> dict[str, tuple[str, str, int]]:
    def good(n: int) -> str:
        return json.dumps({"body": article_text(f"{tag}-{n}")})

    return {
        "mixed-lines": (f"{good(1)}\r\n{{broken\r\n\r\n[1, 2]\r\n{good(2)}\r\n", "index", 2),
        "all-broken-lines": ('{"a": \n{"b"\n]]]\n', "skip", 0),
        "many-empty-objects": ("{}\n" * 1000, "skip", 0),
        "blank-lines-then-good": ("\n" * 1000 + good(3) + "\n", "index", 1),
        "invalid-utf8-line": (f"{good(4)}\n\udcff\udcfe{{}}\n{good(5)}\n", "index", 2),
        "bom-first-line": ("\ufeff" + good(6) + "\n", "index", 1),
        "no-trailing-newline": (good(7), "index", 1),
        "nul-line": (f"{good(8)}\n\x00\x00\n{good(9)}\n", "index", 2),
        "duplicate-ids": (
            json.dumps({"id": f"same-{tag}", "body": article_text(f"{tag}-d1")})
            + "\n"
            + json.dumps({"id": f"same-{tag}", "body": article_text(f"{tag}-d2")})
            + "\n",
            "index",
            1,
        ),
    }


def json_cases() -> list[Case]:
    cases = []
    for suffix in (".json", ".jsonl"):
        tag = f"json{suffix}"
        items: dict[str, tuple[str, str, int]] = {
            name: (json.dumps(value, ensure_ascii=False), expect, 1)
            for name, (value, expect) in _records(tag).items()
        }
        items.update({name: (text, expect, 1) for name, (text, expect) in _raw(tag).items()})
        goods = [{"body": article_text(f"{tag}-list-{n}")} for n in (1, 2)]
        mixed = json.dumps([goods[0], 42, {"body": 5}, goods[1]])
        items["mixed-list"] = (mixed, "index", 2) if suffix == ".json" else (mixed, "skip", 0)
        items.update(_json_only(tag) if suffix == ".json" else _jsonl_only(tag))
        for name, (text, expect, count) in items.items():
            entry = Entry(
                f"json/{fname(name, suffix)}",
                text.encode("utf-8", "surrogateescape"),
                expect=expect,
                articles=count,
            )
            sample = (name, suffix) in _JSON_SAMPLE
            cases.append(Case(f"json-{name}{suffix}", "json", (entry,), sample))
    return cases
