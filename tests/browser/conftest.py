"""One local stack for the browser tests (tests/browser/stack.py) and one Chromium, shared by all
of them and stopped when they are done (package scope: not kept through the rest of the suite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, Stack, local_stack

# The machine may be busy with other work: wait as long for a page's state as for an action.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with local_stack(tmp_path_factory.mktemp("browser-data")) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # A fresh context per test: its own storage, so its own sample users.
    fresh = browser.new_context(viewport={"width": 1280, "height": 900})
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext, stack: Stack) -> Iterator[Page]:
    """A page of the stack; the test fails on any uncaught script error or any request that leaves
    the local stack (the budget: no third-party host at run time)."""
    opened = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((stack.base, "blob:" + stack.base, "ws://127.0.0.1:", "data:"))
            else elsewhere.append(request.url)
        ),
    )
    opened.on(
        "websocket",
        lambda socket: None if socket.url.startswith("ws://127.0.0.1:") else elsewhere.append(socket.url),
    )
    yield opened
    assert errors == [], f"script errors on the page: {errors}"
    assert elsewhere == [], f"requests beyond the local stack: {elsewhere}"
