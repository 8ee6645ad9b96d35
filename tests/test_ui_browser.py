"""The web chat in a real headless Chromium: ask, read the cited article, upload, ask again."""

from __future__ import annotations

import pytest
from browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, needs_chromium, seed_app

NEW_ARTICLE = (
    "---\n"
    "title: Mosul's Old Bridge to reopen after repairs\n"
    "source: Nineveh Daily Monitor\n"
    "published: 2024-03-03\n"
    "url: https://example.org/nineveh/old-bridge\n"
    "---\n"
    "MOSUL, 3 March 2024 — The Nineveh governor Ahmed Jubouri announced on Sunday that the "
    "Old Bridge over the Tigris will reopen to traffic on 1 April after two years of repairs.\n\n"
    "Jubouri said the bridge had been rebuilt by local engineers and would carry buses and "
    "pedestrians first, with lorries allowed later in the spring.\n"
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, encoder):
    """The app over a writable copy of the seed corpus and its own index."""
    with seed_app(tmp_path_factory.mktemp("ui-browser"), encoder) as (url, _):
        yield url


@pytest.fixture()
def page(app_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)  # assertions too: 5 s by default
            page.goto(app_url, wait_until="load")  # a Gradio page never reaches network idle
            page.wait_for_selector("#qa-question textarea")
            yield page
        finally:
            browser.close()


def ask(page, question: str):
    """Ask in the chat; returns the locator of the new answer."""
    answers = page.locator("#qa-chat .qa-answer")
    before = answers.count()
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")
    answers.nth(before).wait_for()
    return answers.nth(before)


def test_ask_read_upload_and_ask_again(page, tmp_path):
    from playwright.sync_api import expect

    # an empty question is refused politely, next to the box
    page.click("#qa-ask")
    expect(page.locator("#qa-notice")).to_contain_text("question is empty")

    answer = ask(page, "who denied cooperation in the Palestine Street strike?")
    expect(answer.locator(".qa-card mark").first).to_contain_text("Security Media Cell")
    expect(page.locator("#qa-notice")).to_be_hidden()

    # open the citation in the viewer: the whole article, the quote marked and in view
    page.locator("#qa-picker input").click()
    page.get_by_role("option", name="[1]").first.click()
    cited = page.locator("#qa-viewer mark#cited")
    expect(cited).to_contain_text("Security Media Cell")
    expect(cited).to_be_in_viewport()
    expect(page.locator("#qa-viewer .qa-article")).to_contain_text("In a statement, the Cell")

    # upload a new article; it is indexed and answerable without a restart
    page.click("#qa-tab-upload-button")
    upload = tmp_path / "mosul bridge.txt"
    upload.write_text(NEW_ARTICLE, encoding="utf-8")
    page.set_input_files("#qa-upload input[type=file]", str(upload))
    summary = page.locator("#qa-upload-summary")
    expect(summary).to_contain_text("1 added", timeout=60_000)
    expect(summary).to_contain_text("mosul bridge.txt: saved")
    expect(page.locator("#qa-status")).to_contain_text("6 articles")

    answer = ask(page, "Who announced the reopening of the Old Bridge in Mosul?")
    expect(answer.locator(".qa-card-head").first).to_contain_text("Old Bridge to reopen")
    expect(answer.locator(".qa-card mark").first).to_contain_text("Ahmed Jubouri")
    expect(answer.locator(".qa-card-meta").first).to_contain_text("Nineveh Daily Monitor")

    page.click("#qa-tab-article-button")
    expect(page.locator("#qa-viewer mark#cited")).to_contain_text("Ahmed Jubouri")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
