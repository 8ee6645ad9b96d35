"""Loading articles: every format, metadata, cleaning, and bad input that never stops a load."""

from __future__ import annotations

import json

import pytest
from conftest import SEED, multihop_articles

from qa.ingest.corpus import load_corpus


def _by_id(result):
    return {a.id: a for a in result.articles}


def test_seed_loads_with_metadata():
    arts = _by_id(load_corpus(SEED))
    assert len(arts) == 5
    a000 = arts["000_0f7bfc05e65b6324"]
    assert a000.title == "Iraqi security media denies claim of cooperation in PMF strike"
    assert a000.published is None and a000.date_text == "5 January"  # no year: never invented
    assert arts["001_a7a975d61510f7f2"].published == "2018-06-26"
    a003 = arts["003_2e90ae208df18b21"]
    assert (a003.published, a003.source) == ("2020-01-16", "Aletho News")
    assert arts["004_249214cac3478a04"].source == "Rudaw"  # named in the page's own footer
    assert arts["002_2c57bfff2ec734d1"].source is None
    assert all(a.path == f"{a.id}.txt" for a in arts.values())


def test_seed_boilerplate_is_gone():
    arts = _by_id(load_corpus(SEED))
    t003 = arts["003_2e90ae208df18b21"].text
    assert "Brian Harry" not in t003 and "occupying force" not in t003
    assert t003.endswith("The US-led coalition’s spokesman in Baghdad also declined to comment.")
    t004 = arts["004_249214cac3478a04"].text
    assert "moderates all comments" not in t004 and "Post a comment" not in t004
    assert t004.count("committed a heinous crime and a blatant aggression") == 1
    assert "Comments are closed" not in arts["001_a7a975d61510f7f2"].text
    assert "Back to top button" not in arts["002_2c57bfff2ec734d1"].text


def test_multihop_loads_609_articles():
    result = load_corpus(multihop_articles())
    assert len(result.articles) == 609 and not result.skipped
    a = result.articles[0]
    assert a.id.startswith("mhr-") and a.source and a.published and a.url


def test_every_format(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "note.md").write_text(
        "---\ntitle: Front matter title\nsource: Example Times\ndate: 2024-03-05\n---\n"
        "# Heading\n\nBody of the markdown article about strikes.\n"
    )
    (tmp_path / "page.html").write_text(
        "<html><head><title>Page title here for test</title></head><body><nav>Home | News</nav>"
        "<article><h1>Page title here for test</h1><p>" + "The minister said the talks "
        "would resume next week in Baghdad. " * 5 + "</p></article></body></html>"
    )
    (tmp_path / "one.json").write_text(
        json.dumps(
            {
                "id": "j1",
                "title": "JSON one",
                "source": "Wire",
                "published_at": "2023-10-07T10:00:00Z",
                "url": "https://x/1",
                "author": ["A", "B"],
                "body": "JSON article text.",
            }
        )
    )
    (tmp_path / "many.json").write_text(json.dumps([{"text": "first"}, {"text": "second"}]))
    (tmp_path / "lines.jsonl").write_text(
        json.dumps({"id": "l1", "body": "line one"})
        + "\n\n"
        + json.dumps({"id": "l2", "text": "two"})
    )
    arts = _by_id(load_corpus(tmp_path))
    md = arts["sub/note"]
    assert (md.title, md.source, md.published) == (
        "Front matter title",
        "Example Times",
        "2024-03-05",
    )
    assert (
        arts["page"].title == "Page title here for test"
        and "talks would resume" in arts["page"].text
    )
    j = arts["j1"]
    assert (j.published, j.author, j.url, j.path) == (
        "2023-10-07",
        "A, B",
        "https://x/1",
        "one.json",
    )
    assert {"many#0", "many#1", "l1", "l2"} <= set(arts)


BAD_FILES = {
    "empty.txt": (b"", "no article text"),
    "blank.txt": (b"   \n\t\n  ", "no article text"),
    "binary.txt": (b"abc\x00\x01\x02def", "binary data"),
    "utf16.txt": (b"\xff\xfe broken", "UTF-16 byte-order mark"),
    "broken-utf8.txt": ("caf\u00e9 ".encode() + b"\xe9t\xe9", "not valid UTF-8 (byte 0xe9"),
    "undecodable.txt": (bytes(range(0x80, 0x100)) * 3, "no known encoding fits"),
    "broken.json": (b'{"id": "x", "body": ', "malformed JSON"),
    "wrongtype.json": (b'{"id": "x", "body": ["not", "text"]}', "field 'body' must be a string"),
    "nobody.json": (b'{"id": "x", "title": "t"}', "missing article text"),
    "badtitle.json": (b'{"id": "x", "title": 5, "body": "b"}', "field 'title' must be a string"),
    "scalar.json": (b"42", "expected a JSON object"),
    "image.png": (b"\x89PNG....", "unsupported file type"),
    "notext.html": (b"<html><body><div></div></body></html>", "HTML"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_skipped_with_reason(tmp_path, name):
    data, reason = BAD_FILES[name]
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.txt").write_text("A good article about the strike.\n")
    result = load_corpus(tmp_path)
    assert [a.id for a in result.articles] == ["good"]
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.path == name and reason in skipped.reason, skipped


def test_jsonl_bad_lines_name_the_line(tmp_path):
    lines = [
        json.dumps({"id": "a", "body": "fine"}),
        "{not json",
        json.dumps({"id": "b", "body": 3}),
        json.dumps({"id": "a", "body": "duplicate id"}),
        json.dumps({"id": "c", "body": "fine too"}),
    ]
    (tmp_path / "x.jsonl").write_text("\n".join(lines))
    result = load_corpus(tmp_path / "x.jsonl")
    assert [a.id for a in result.articles] == ["a", "c"]
    assert [(s.line, s.reason.split(" ")[0]) for s in result.skipped[:2]] == [
        (2, "malformed"),
        (3, "field"),
    ]
    assert "duplicate article id 'a'" in result.skipped[2].reason


def test_oversized_file_is_skipped(tmp_path):
    (tmp_path / "big.txt").write_text("word " * 300_000)
    result = load_corpus(tmp_path, max_file_mb=1)
    assert not result.articles and "over the 1 MB limit" in result.skipped[0].reason


def test_missing_corpus_raises():
    import qa

    with pytest.raises(qa.CorpusNotFoundError, match="corpus not found"):
        load_corpus("/nonexistent/corpus")


def test_an_article_without_a_headline_keeps_title_none():
    from conftest import SEED

    import qa

    loaded = {a.id: a for a in qa.load_corpus(SEED).articles}
    untitled = loaded["004_249214cac3478a04"]
    assert untitled.title is None
    assert qa.lead_sentence(untitled.text).startswith("ERBIL, Kurdistan Region - The Iraqi")
    assert qa.display_title(None, "Lead") == "Lead (no headline)"


LEGACY = "Le président a déclaré « c’est fini » — l’accord coûte 5 € et les élèves sont là."


@pytest.mark.parametrize(
    ("name", "data", "label"),
    [
        ("cp1252.txt", LEGACY.encode("cp1252"), "windows-1252"),
        (
            "latin1.txt",
            "Café crème près de la gare, où l'été est là.".encode("latin-1"),
            "windows-1252",
        ),
        (
            "meta.html",
            (
                '<html><head><meta charset="iso-8859-1"><title>Un été à Mosul</title></head>'
                "<body><article><p>"
                + "La ville a célébré la réouverture du pont. " * 8
                + "</p></article></body></html>"
            ).encode("latin-1"),
            "latin-1",
        ),
    ],
)
def test_legacy_encodings_are_decoded_and_noted(tmp_path, name, data, label):
    (tmp_path / name).write_bytes(data)
    result = load_corpus(tmp_path)
    assert result.skipped == () and len(result.articles) == 1
    text = result.articles[0].text
    assert "é" in text and "Ã" not in text
    if name == "cp1252.txt":
        assert "’" in text and "€" in text and "«" in text
    assert result.notes == (f"{name}: decoded as {label}",)


def test_a_page_that_lies_about_its_charset_is_skipped(tmp_path):
    page = '<html><head><meta charset="utf-8"></head><body>caf\xe9</body></html>'
    (tmp_path / "liar.html").write_bytes(page.encode("latin-1"))
    bad = b'<html><head><meta charset="x-nonsense"></head><body>caf\xe9</body></html>'
    (tmp_path / "unknown.html").write_bytes(bad)
    reasons = {s.path: s.reason for s in load_corpus(tmp_path).skipped}
    assert "not valid utf-8 as it declares" in reasons["liar.html"]
    assert "unknown charset 'x-nonsense'" in reasons["unknown.html"]


def test_the_build_report_lists_decoded_files(tmp_path, encoder):
    import qa

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "old.txt").write_bytes(LEGACY.encode("cp1252"))
    report = qa.build_index(corpus, tmp_path / "index", encoder=encoder)
    assert report.notes == ("old.txt: decoded as windows-1252",) and report.articles == 1


def test_the_loader_skips_removed_articles(tmp_path):
    (tmp_path / ".removed").mkdir()
    (tmp_path / ".removed" / "gone.txt").write_text("A removed article about the strike.\n")
    (tmp_path / "kept.txt").write_text("A kept article about the strike.\n")
    result = load_corpus(tmp_path)
    assert [a.id for a in result.articles] == ["kept"] and result.skipped == ()
