"""The picker's "Use my photo" in Chromium: a signed-in user picks a photo (scikit-image's
astronaut), sees it with the face found, generates an anime avatar of it; a photo with no face
gets its clear message and cannot be generated from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Request, expect

from tests import photos_support as photos
from tests.browser.stack import Stack


def test_a_user_uploads_a_photo_and_gets_a_styled_avatar(page: Page, stack: Stack, tmp_path: Path) -> None:
    me = tmp_path / "me.jpg"
    me.write_bytes(photos.jpeg(photos.astronaut(), gps=True, rotated=True))
    cup = tmp_path / "cup.jpg"
    cup.write_bytes(photos.jpeg(photos.coffee()))

    sent: list[str] = []  # the funnel steps the picker reports (POST /v1/events)

    def record(request: Request) -> None:
        body: Any = request.post_data_json if request.url.endswith("/v1/events") else None
        if isinstance(body, dict):
            sent.extend(event["name"] for event in body["events"])

    page.on("request", record)
    page.goto(stack.base + "/?as=free")
    expect(page.get_by_role("status").filter(has_text="Free plan")).to_be_visible()
    region = page.get_by_role("region", name="Photo")
    expect(region.get_by_role("button", name="Use my photo")).to_be_visible()
    picker_input = region.locator('input[type="file"]')
    expect(picker_input).to_have_attribute("capture", "user")

    # A photo with no face: a clear message, nothing to generate from.
    with page.expect_file_chooser() as chooser:
        region.get_by_role("button", name="Use my photo").click()
    chooser.value.set_files(str(cup))
    expect(region.get_by_role("status")).to_have_text(
        "We could not find a face in this photo. Try one where your face is clearly visible and well lit."
    )

    with page.expect_file_chooser() as chooser:
        region.get_by_role("button", name="Use my photo").click()
    chooser.value.set_files(str(me))
    expect(region.get_by_role("status")).to_have_text("Face found. Pick a style and press Generate.")
    expect(region.get_by_role("img", name="Your photo")).to_be_visible()
    box = region.locator(".face-box")
    expect(box).to_be_visible()
    left = float(box.evaluate("(b) => parseFloat(b.style.left)"))
    assert 20 < left < 50  # the astronaut's face, in the oriented picture

    page.get_by_role("radio", name="Anime").check()
    page.get_by_role("button", name="Generate").click()
    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    shown = result.get_by_role("img").first
    expect(shown).to_be_visible()
    assert shown.evaluate("(img) => img.complete && img.naturalWidth") > 0

    # The funnel counts a photo generation as "photo_started", not as a custom one from words.
    for _ in range(40):  # a batch waits a few seconds for company
        if "photo_started" in sent:
            break
        page.wait_for_timeout(250)
    assert "photo_started" in sent and "custom_started" not in sent, sent
