"""The web chat as a newsroom uses it, in a real headless Chromium over a real server: click a
[n] marker, copy an answer as Markdown, browse and filter the archive, remove and restore an
article, and use it on a phone. One server and one browser for the module."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, needs_chromium, seed_app

STRIKE = "who denied cooperation in the Palestine Street strike?"
# answered from several articles (the Palestine Street question is answered by one sentence)
OFFICIALS = "Which Iraqi officials denied cooperating with US strikes?"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory, encoder):
    """(url, corpus folder) of the app over a writable copy of the seed corpus."""
    with seed_app(tmp_path_factory.mktemp("ui-reading"), encoder) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, **options):
    context = browser.new_context(**options)
    page = context.new_page()
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)  # assertions too: 5 s by default
    page.goto(url, wait_until="load")  # a Gradio page never reaches network idle
    page.wait_for_selector("#qa-question textarea")
    return page


@pytest.fixture()
def page(browser, served):
    page = open_page(browser, served[0], viewport={"width": 1400, "height": 1000})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield page
    page.context.close()


def ask(page, question: str):
    """Ask in the chat; returns the locator of the new answer."""
    answers = page.locator("#qa-chat .qa-answer")
    before = answers.count()
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")
    answers.nth(before).wait_for()
    return answers.nth(before)


def test_markers_open_their_source_and_answers_copy_as_markdown(page):
    from playwright.sync_api import expect

    # the empty chat offers questions made from the index's newest articles
    example = page.locator("#qa-chat .example-content, #qa-chat button.example").first
    expect(example).to_contain_text("Aletho News")
    answer = ask(page, OFFICIALS)
    markers = answer.locator(".qa-text .qa-ref[role=button]")
    assert markers.count() >= 2
    second = markers.nth(1)
    hover = second.get_attribute("title")
    assert hover and hover.count(" · ") == 2  # title · outlet · date
    # the answer's text comes first, the cards under it
    text, card = answer.locator(".qa-text"), answer.locator(".qa-card").first
    assert text.bounding_box()["y"] < card.bounding_box()["y"]

    second.click()
    picker = page.locator("#qa-picker input")
    expect(picker).to_have_value(re.compile(r"^\[2\] "))
    cited = page.locator("#qa-viewer mark#cited")
    quote = answer.locator(".qa-card").nth(1).locator("mark").inner_text()
    expect(cited).to_have_text(quote)
    expect(cited).to_be_in_viewport()

    answer.locator(".qa-copy").click()
    expect(answer.locator(".qa-copy")).to_contain_text("Copied")
    markdown = page.evaluate("navigator.clipboard.readText()")
    assert markdown.startswith(f"### {OFFICIALS}")
    assert "**Sources**" in markdown and "Security Media Cell" in markdown
    assert "000_0f7bfc05e65b6324.txt:" in markdown  # file:start-end per citation

    with page.expect_download() as download:
        page.click("#qa-download-md")
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.strip() in saved
    with page.expect_download() as download:
        page.click("#qa-download-json")
    turns = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))["turns"]
    assert [t["question"] for t in turns] == [OFFICIALS] and turns[0]["citations"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)

    # the timeline lists every article searched, the cited ones marked
    page.click("#qa-tab-timeline-button")
    listing = page.locator("#qa-timeline-list")
    expect(listing).to_contain_text("(cited)")
    cited = len({c["article_id"] for c in turns[0]["citations"]})
    expect(listing).to_contain_text(f"articles searched, {cited} cited")

    # a new conversation: the examples are back, the downloads gone
    page.get_by_role("button", name="New conversation").click()
    expect(example).to_be_visible()
    expect(page.locator("#qa-download-md")).to_be_hidden()


def test_archive_lists_filters_removes_and_restores(page, served):
    from playwright.sync_api import expect

    _, corpus = served
    page.click("#qa-tab-archive-button")
    rows = page.locator("#qa-archive-table tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator("#qa-archive-note")).to_contain_text("of 5 matching")
    expect(rows.first).to_contain_text("Aletho News")  # newest first
    expect(page.locator("#qa-archive-table")).to_contain_text("(no headline)")

    page.fill("#qa-archive-text textarea, #qa-archive-text input", "denies")
    page.press("#qa-archive-text textarea, #qa-archive-text input", "Enter")
    expect(rows).to_have_count(2)
    expect(page.locator("#qa-archive-note")).to_contain_text("of 2 matching")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "archive.png"), full_page=True)

    # opening one shows it in the viewer
    rows.filter(has_text="Aletho News").locator(".qa-open").click()
    expect(page.locator("#qa-viewer .qa-article h3")).to_contain_text("Iraq denies report")

    # remove it (after a confirmation naming it), then ask: it is no longer cited
    page.click("#qa-tab-archive-button")
    rows.filter(has_text="Aletho News").locator(".qa-remove").click()
    expect(page.locator("#qa-remove-note")).to_contain_text("Iraq denies report it has restarted")
    page.click("#qa-remove-yes")
    expect(page.locator("#qa-remove-summary")).to_contain_text("1 removed", timeout=60_000)
    expect(page.locator("#qa-status")).to_contain_text("4 articles")
    assert (corpus / ".removed" / "003_2e90ae208df18b21.txt").is_file()
    question = "Did Iraq restart joint military operations with the US?"
    page.click("#qa-tab-chat-button")
    assert "Aletho News" not in ask(page, question).inner_text()

    page.click("#qa-tab-archive-button")
    page.click("#qa-restore")
    expect(page.locator("#qa-remove-summary")).to_contain_text("1 added", timeout=60_000)
    expect(page.locator("#qa-status")).to_contain_text("5 articles")
    assert (corpus / "003_2e90ae208df18b21.txt").is_file()
    page.click("#qa-tab-chat-button")
    expect(ask(page, question).locator(".qa-card-meta").first).to_contain_text("Aletho News")


def test_a_phone_renders_the_chat_usable(browser, served):
    from playwright.sync_api import expect

    page = open_page(
        browser, served[0], viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        answer = ask(page, STRIKE)
        expect(answer.locator(".qa-card mark").first).to_contain_text("Security Media Cell")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400  # nothing wider than the screen: no sideways scrolling
        box = page.locator("#qa-question textarea").bounding_box()
        assert box["width"] > 200
        page.wait_for_timeout(500)  # the chat scrolls itself to the end first
        answer.evaluate("e => e.scrollIntoView({block: 'start'})")  # the answer, not the end
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=False)
    finally:
        page.context.close()
