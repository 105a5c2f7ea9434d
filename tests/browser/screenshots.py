"""`make screenshots`: PNGs of the reference page's and the dashboard's main states, taken in
Debian's Chromium against a fresh local stack, into docs/screenshots/."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from tests.browser.stack import ADMIN_TOKEN, CHROMIUM, CHROMIUM_ARGS, ROOT, Stack, local_stack

OUT = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    page.wait_for_timeout(300)  # the last image decoded, the last transition done
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(ROOT)}")


def some_activity(stack: Stack) -> None:
    """A few users and a cache hit, so that the dashboard has something to show."""
    for sub, tier, prompt in (
        ("ada", "premium", "a mathematician with a lantern"),
        ("grace", "enterprise", "an admiral with a compass"),
        ("linus", "free", "a penguin engineer"),
        ("ada", "premium", "a mathematician with a lantern"),
    ):
        token = httpx.post(f"{stack.base}/v1/dev/token", json={"sub": sub, "tier": tier}).json()["token"]
        httpx.post(
            f"{stack.base}/v1/generations",
            json={"style": "oil", "prompt": prompt},
            headers={"Authorization": f"Bearer {token}", "Prefer": "wait=30"},
            timeout=60,
        )


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as data,
        local_stack(Path(data), delay_s=2.5, seed_per_style=3) as stack,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(30_000)

        page.goto(stack.base + "/")
        expect(page.get_by_role("region", name="Quota")).to_contain_text("3 of 3")
        page.wait_for_load_state("networkidle")
        shoot(page, "page")

        page.goto(stack.base + "/?as=premium")
        expect(page.get_by_role("region", name="Quota")).to_contain_text("Premium plan")
        page.get_by_label("Prompt").fill("a fox in a green hoodie")
        page.get_by_role("radiogroup", name="Style").get_by_label("Anime").check()
        page.get_by_label("Quality").select_option(label="Standard")
        page.get_by_label("Size").select_option(label="1024 px")
        page.get_by_role("button", name="Generate").click()
        expect(page.locator("avatarflow-picker .progress")).to_have_attribute("data-transport", "live")
        page.wait_for_timeout(1200)
        page.get_by_role("progressbar").scroll_into_view_if_needed()
        shoot(page, "progress")
        result = page.get_by_role("region", name="Result")
        expect(result).to_be_visible()
        result.get_by_role("button", name="Use as my avatar").click()
        expect(page.get_by_role("alert")).to_contain_text("Saved")
        page.wait_for_load_state("networkidle")
        shoot(page, "result", full_page=True)

        anonymous = browser.new_page(viewport=VIEWPORT)
        anonymous.goto(stack.base + "/")
        for prompt in ("a heron at noon", "a heron at dusk", "a heron at dawn"):
            httpx.post(
                f"{stack.base}/v1/generations",
                json={"style": "watercolor", "prompt": prompt},
                headers={"Prefer": "respond-async"},
            )
        anonymous.get_by_label("Prompt").fill("a heron at night")
        anonymous.get_by_role("button", name="Generate").click()
        expect(anonymous.get_by_role("region", name="Suggestions")).to_be_visible()
        anonymous.wait_for_load_state("networkidle")
        shoot(anonymous, "suggestions", full_page=True)

        some_activity(stack)
        admin = browser.new_page(viewport=VIEWPORT)
        admin.goto(stack.base + "/admin")
        admin.get_by_label("Admin token").fill(ADMIN_TOKEN)
        admin.get_by_role("button", name="Open dashboard").click()
        expect(admin.get_by_role("heading", name="Overview")).to_be_visible()
        admin.get_by_label("Name of the new key").fill("Acme Corp production")
        admin.get_by_role("button", name="Issue key").click()
        expect(admin.get_by_role("region", name="New key")).to_be_visible()
        shoot(admin, "dashboard", full_page=True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
