"""The console in a real browser: Debian's headless Chromium driven by Playwright (never
`playwright install`), against a real `unigate serve` process (one for the module) with a
fake OpenAI behind it. Without the browser the tests skip, except under CI=true, where a
missing browser fails."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.server import FakeVendor
from tests.serve_process import UnigateServe

CHROMIUM = "/usr/bin/chromium"
TOKEN = "console-browser-admin-token-01"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_or_skip() -> None:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, openai_vendor: tuple[FakeVendor, str]
) -> Iterator[UnigateServe]:
    _browser_or_skip()
    _, vendor_url = openai_vendor
    config = f'[admin]\ntoken = "{TOKEN}"\n[prices."openai/gpt-4o-mini"]\ninput = 0.15\noutput = 0.60\n'
    serve = UnigateServe(
        tmp_path_factory.mktemp("console"), config, {"UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1"}
    )
    serve.start()
    yield serve
    serve.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def _login(page: Any, url: str) -> None:
    page.goto(f"{url}/ui/keys")
    assert "/ui/login" in page.url  # an admin page without the token redirects to the login
    page.fill("#token", TOKEN)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{url}/ui/keys")


def test_the_playground_streams_an_answer_and_shows_its_cost(console: UnigateServe, page: Any) -> None:
    page.goto(f"{console.url}/ui")
    page.fill("#proxy-key", console.key)
    page.fill("#provider-key", "sk-test-browser")
    page.fill("#model", "openai/gpt-4o-mini")
    page.locator(".message-text").nth(1).fill("Say hello.")
    page.click("#send")
    page.wait_for_function("() => document.querySelector('#fact-cost').textContent.startsWith('$')")
    assert page.text_content("#answer") == "Hello! How can I help you today?"
    assert page.text_content("#fact-usage") == "19 in, 10 out tokens"
    assert page.text_content("#fact-cost") == "$0.00000885"  # 19 x 0.15 + 10 x 0.60 per million
    assert page.text_content("#fact-request-id") not in ("", "-")
    assert page.evaluate("sessionStorage.getItem('unigate.proxyKey')") == console.key


def test_keys_made_and_revoked_in_the_ui_and_the_usage_chart(console: UnigateServe, page: Any) -> None:
    _login(page, console.url)
    page.fill("#key-name", "browser")
    page.click("#create-key button[type=submit]")
    key = page.locator("#new-key").input_value()
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Key {key}", "Provider-Key": "sk-test-browser"}
    for _ in range(2):
        answer = httpx.post(
            f"{console.url}/models/v2/openai/gpt-4o-mini", json=chat, headers=headers, timeout=10
        )
        assert answer.status_code == 200
    # the chart's series for this key (grouped by key id) has the two calls just made
    key_id = page.locator("tr[data-key-id]", has_text="browser").get_attribute("data-key-id")
    page.goto(f"{console.url}/ui/usage")
    page.select_option("#usage-group", "key")
    page.wait_for_function("() => document.querySelector('#group-name').textContent === 'key'")
    series = (
        "Chart.getChart('requests-chart').data.datasets"
        f".filter((d) => d.label === '{key_id}')"
        ".reduce((a, d) => a + d.data.reduce((x, y) => x + y, 0), 0)"
    )
    page.wait_for_function(f"() => {series} === 2")
    page.goto(f"{console.url}/ui/keys")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key browser").click()
    page.wait_for_selector("text=is revoked")
    refused = httpx.post(
        f"{console.url}/models/v2/openai/gpt-4o-mini", json=chat, headers=headers, timeout=10
    )
    assert refused.status_code == 401
