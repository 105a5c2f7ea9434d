"""<avatarflow-picker> on the reference page, in Debian's Chromium against the local stack: the
gallery, a custom avatar with its progress (WebSocket and polling), choosing it, the quota's end."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.stack import Stack
from tests.local_server import free_port

pytestmark = pytest.mark.e2e

PAGE_SIZE = 12  # the reference page's page-size; the stack seeds 2 items for each of its styles


def generation(status: str, images: dict[str, str] | None = None) -> dict[str, Any]:
    """A Generation body as the contract shapes it."""
    return {
        "id": f"gen_played_{status}",
        "status": status,
        "style": "professional",
        "prompt": "",
        "variation": 0,
        "size": 512,
        "quality": "fast",
        "cached": False,
        "images": images,
        "provider": "procedural" if images else None,
        "error": None,
        "lane": "free",
        "eta_seconds": None,
        "progress": None,
        "similar": [],
        "created_at": "2026-11-30T00:00:00Z",
        "completed_at": "2026-11-30T00:00:01Z",
    }


def decoded_images(page: Page, selector: str) -> list[int]:
    """The natural widths of the images under ``selector`` once each has loaded (0: broken)."""
    page.wait_for_function(
        """(selector) => {
            const host = document.querySelector("avatarflow-picker").shadowRoot;
            const images = [...host.querySelectorAll(selector)];
            return images.length > 0 && images.every((img) => img.complete);
        }""",
        arg=selector,
    )
    widths: list[int] = page.evaluate(
        """(selector) => [...document.querySelector("avatarflow-picker").shadowRoot
            .querySelectorAll(selector)].map((img) => img.naturalWidth)""",
        selector,
    )
    return widths


def follow_selection(page: Page) -> None:
    page.evaluate(
        """() => document.getElementById("picker").addEventListener("avatar-selected",
            (event) => { window.selected = event.detail; })"""
    )


def test_the_gallery_shows_decoded_images_filters_and_scrolls_to_a_second_page(
    page: Page, stack: Stack
) -> None:
    page.set_viewport_size({"width": 1024, "height": 480})  # a first page fills more than the screen
    page.goto(stack.base + "/")
    items = page.get_by_role("list", name="Gallery").get_by_role("button")
    expect(items).to_have_count(PAGE_SIZE)
    widths = decoded_images(page, "button.item img")
    assert len(widths) == PAGE_SIZE and all(w > 0 for w in widths), widths
    styles = httpx.get(f"{stack.base}/v1/styles").json()["styles"]
    names = {style["name"] for style in styles}
    expect(page.get_by_role("radiogroup", name="Style").get_by_role("radio")).to_have_count(len(styles))
    for name in items.evaluate_all("(buttons) => buttons.map((b) => b.querySelector('img').alt)"):
        assert any(name.startswith(style) for style in names), name  # its name says its style

    items.last.scroll_into_view_if_needed()  # the end of the list: the next page comes by cursor
    total = len(styles) * 2
    expect(items).to_have_count(total)
    assert all(w > 0 for w in decoded_images(page, "button.item img"))

    page.get_by_label("Gallery style").select_option(label="Anime")
    expect(items).to_have_count(2)
    for button in items.all():
        expect(button).to_have_accessible_name(re.compile(r"^Anime avatar"))
    page.get_by_label("Gallery style").select_option(label="All styles")
    page.get_by_label("Tag").select_option("pixel")
    expect(items).to_have_count(2)
    expect(items.first).to_have_accessible_name(re.compile(r"^Pixel art avatar"))


def test_an_anonymous_visitor_generates_with_progress_and_is_offered_suggestions_at_the_end_of_the_quota(
    page: Page, stack: Stack
) -> None:
    page.goto(stack.base + "/")
    follow_selection(page)
    quota = page.get_by_role("region", name="Quota")
    expect(quota).to_contain_text("3 of 3")
    page.get_by_label("Prompt").fill("a heron in a raincoat")
    page.get_by_role("radiogroup", name="Style").get_by_label("Watercolor").check()
    page.get_by_role("button", name="Generate").click()

    progress = page.get_by_role("progressbar")
    expect(progress).to_be_visible()
    # The server's own words and figure, as the generation goes (the stand-in takes 2 s an image).
    expect(page.locator("avatarflow-picker .progress-message")).to_have_text(
        re.compile(r"(Waiting to start|Getting ready to create|Creating) .*about \d+ s")
    )
    expect(progress).to_have_attribute("aria-valuenow", re.compile(r"^\d+$"))
    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    expect(progress).to_be_hidden()
    assert decoded_images(page, ".result img")[0] == 256
    result_512 = result.get_by_role("link", name="Open 512 px image").get_attribute("href") or "-"
    expect(result.get_by_role("img")).to_have_attribute("alt", re.compile("Watercolor"))

    result.get_by_role("button", name="Use as my avatar").click()
    # A visitor: the host page hears of the choice at once, and it is kept once they sign in.
    expect(page.get_by_role("alert")).to_contain_text("Sign in to keep it")
    assert page.evaluate("window.selected.saved") is False
    assert page.evaluate("window.selected.source") == "generation"
    expect(page.locator("#profile-avatar")).to_have_attribute(
        "src", result.get_by_role("img").get_attribute("src") or "-"
    )
    expect(quota).to_contain_text("2 of 3")

    page.get_by_label("Sign in as").select_option(label="Free user")
    expect(page.get_by_role("alert")).to_have_text("Saved: this is now your avatar.")
    assert page.evaluate("window.selected.saved") is True
    expect(quota).to_contain_text("5 of 5")  # asked again under their name: a cache hit, free
    stable = page.get_by_label("Your stable avatar URL").input_value()
    redirect = httpx.get(stable, params={"size": "512"}, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == page.evaluate("window.selected.images['512']")
    kept = httpx.get(redirect.headers["location"])
    assert kept.status_code == 200 and kept.content == httpx.get(result_512).content

    page.get_by_label("Sign in as").select_option(label="Anonymous visitor")
    expect(quota).to_contain_text("2 of 3")

    # Two more from the same address (this test's own client is the same anonymous visitor).
    for prompt in ("a heron at noon", "a heron at dusk"):
        response = httpx.post(
            f"{stack.base}/v1/generations",
            json={"style": "watercolor", "prompt": prompt},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202, response.text

    page.get_by_label("Prompt").fill("a heron at night")
    page.get_by_role("button", name="Generate").click()
    suggestions = page.get_by_role("region", name="Suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions).to_contain_text("used all your custom avatars")
    offered = suggestions.get_by_role("button")
    expect(offered.first).to_be_visible()
    assert 1 <= offered.count() <= 6
    assert all(w > 0 for w in decoded_images(page, ".suggestions img"))
    expect(quota).to_contain_text("0 of 3")
    expect(quota.get_by_role("button", name="Upgrade")).to_be_visible()
    expect(page.get_by_role("region", name="Result")).to_be_hidden()
    body = page.locator("body").inner_text() + page.locator("avatarflow-picker").evaluate(
        "(el) => el.shadowRoot.textContent"
    )
    assert "quota_exceeded" not in body and "{" not in body  # words, not an error dump


def test_a_premium_user_gets_standard_1024_px_over_the_websocket_and_keeps_it(
    page: Page, stack: Stack
) -> None:
    page.goto(stack.base + "/?as=premium")
    expect(page.get_by_role("status").filter(has_text="Premium plan")).to_be_visible()
    follow_selection(page)
    quality = page.get_by_label("Quality")
    expect(quality.locator("option")).to_have_text(["Fast", "Standard"])
    expect(page.get_by_label("Size").locator("option")).to_have_text(["512 px", "1024 px"])
    quality.select_option(label="Standard")
    page.get_by_label("Size").select_option(label="1024 px")
    page.get_by_label("Prompt").fill("an astronaut with a cat")
    page.get_by_role("button", name="Generate").click()

    expect(page.locator("avatarflow-picker .progress")).to_have_attribute("data-transport", "live")
    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    expect(result.get_by_role("link", name="Open 1024 px image")).to_be_visible()
    expect(result.get_by_role("img")).to_have_attribute("srcset", re.compile(r"1024w"))

    result.get_by_role("button", name="Use as my avatar").click()
    expect(page.get_by_role("alert")).to_have_text("Saved: this is now your avatar.")
    chosen = page.evaluate("window.selected")
    assert chosen["saved"] is True and chosen["source"] == "generation"
    stable = page.get_by_label("Your stable avatar URL").input_value()
    assert re.fullmatch(re.escape(stack.base) + r"/v1/avatars/premium-reader-\w+", stable)
    redirect = httpx.get(stable, params={"size": "512"}, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == chosen["images"]["512"]
    widths = page.locator("#profile-avatar").evaluate("(img) => img.complete && img.naturalWidth")
    assert widths, "the profile shows the chosen avatar"
    expect(page.get_by_role("list").filter(has_text="an astronaut with a cat")).to_be_visible()  # history


def test_with_the_socket_blocked_polling_finishes_by_keyboard_only(page: Page, stack: Stack) -> None:
    # The WebSocket endpoint cannot be reached (a port nothing listens on: every handshake fails),
    # as behind a proxy that blocks WebSockets; the page also tried it, so its requests are counted.
    blocked = f"ws://127.0.0.1:{free_port()}"
    page.route(
        "**/v1/realtime",
        lambda route: route.fulfill(json={"url": blocked, "protocol": "avatarflow.events.v1"}),
    )
    attempts: list[str] = []
    page.on("websocket", lambda socket: attempts.append(socket.url))
    page.goto(stack.base + "/?as=free")
    expect(page.get_by_role("status").filter(has_text="Free plan")).to_be_visible()
    page.get_by_label("Prompt").focus()
    page.keyboard.type("a lighthouse keeper")
    page.keyboard.press("Enter")  # submits the form, as the Generate button would
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.locator("avatarflow-picker .progress")).to_have_attribute("data-transport", "polling")
    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    assert attempts and all(url.startswith(blocked) for url in attempts), attempts
    use = result.get_by_role("button", name="Use as my avatar")
    use.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Saved: this is now your avatar.")
    # The gallery too: Tab reaches its items and Space chooses one.
    first_item = page.get_by_role("list", name="Gallery").get_by_role("button").first
    first_item.focus()
    page.keyboard.press("Space")
    expect(first_item).to_have_attribute("aria-pressed", "true")


def test_refusals_failures_and_similar_results_are_offered_as_choices(page: Page, stack: Stack) -> None:
    """The API's other answers, played by the test (the local stack rarely gives them)."""
    gallery = httpx.get(f"{stack.base}/v1/gallery", params={"limit": 6}).json()["items"]
    answers: list[tuple[int, dict[str, Any]]] = [
        (
            503,
            {
                "error": {"code": "budget_exhausted", "message": "The daily budget is spent."},
                "suggestions": gallery[:4],
            },
        ),
        (200, {**generation("failed"), "error": {"code": "provider_unavailable", "message": "x"}}),
        (
            200,
            {
                **generation("succeeded", images=gallery[0]["images"]),
                "similar": [
                    {"id": "sim_own", "prompt": "a red fox", "score": 0.8, "images": gallery[1]["images"]},
                    # Another user's result: no prompt (their words are never shown).
                    {"id": "sim_other", "score": 0.75, "images": gallery[2]["images"]},
                ],
            },
        ),
    ]

    def answer(route: Route) -> None:
        status, body = answers.pop(0)
        route.fulfill(status=status, json=body, headers={"Access-Control-Allow-Origin": "*"})

    page.route("**/v1/generations", answer)
    page.goto(stack.base + "/")
    generate = page.get_by_role("button", name="Generate")
    suggestions = page.get_by_role("region", name="Suggestions")

    generate.click()
    expect(suggestions).to_contain_text("paused for today")
    expect(suggestions.get_by_role("button")).to_have_count(4)

    generate.click()  # a generation that failed: similar ready-made ones of its style
    expect(suggestions).to_contain_text("you were not charged")
    offered = suggestions.get_by_role("button")
    expect(offered.first).to_be_visible()
    for button in offered.all():
        expect(button).to_have_accessible_name(re.compile(r"^Professional headshot avatar"))

    generate.click()
    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    expect(suggestions).to_be_hidden()
    expect(result.get_by_role("button", name=re.compile(r"^Instant .* match: a red fox"))).to_be_visible()
    expect(result.get_by_role("button", name=re.compile(r"^Instant .* match, 75% similar$"))).to_be_visible()
