"""axe-core (from the npm registry: `make web`) scans the reference page and the dashboard in
Debian's Chromium, in the states a user meets: no serious or critical violation is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.stack import ADMIN_TOKEN, AXE, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def scanned_page(browser: Browser) -> Iterator[Page]:
    # The pages' policy allows only their own scripts: axe is added by the test, so past the policy.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    assert AXE.is_file(), "axe-core is missing: run `make web`"
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate(
        """() => axe.run(document, { resultTypes: ["violations"],
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_reference_page_has_no_serious_accessibility_violation(scanned_page: Page, stack: Stack) -> None:
    page = scanned_page
    page.goto(stack.base + "/?as=premium")
    expect(page.get_by_role("region", name="Quota")).to_contain_text("Premium plan")
    expect(page.get_by_role("list", name="Gallery").get_by_role("button").first).to_be_visible()
    expect(page.get_by_role("radiogroup", name="Style").get_by_role("radio").first).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_label("Prompt").fill("an accessible avatar")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("region", name="Result")).to_be_visible()
    assert serious_violations(page) == []


def test_the_dashboard_has_no_serious_accessibility_violation(scanned_page: Page, stack: Stack) -> None:
    page = scanned_page
    page.goto(stack.base + "/admin")
    expect(page.get_by_label("Admin token")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # The funnel and the trends are part of what is scanned, their data tables opened too.
    expect(page.get_by_role("img", name="Funnel, last 30 days", exact=False)).to_be_visible()
    expect(page.get_by_role("img", name="Generations by tier, last 30 days", exact=False)).to_be_visible()
    for summary in page.locator("details.data summary").all():
        summary.click()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Last 24 hours").click()
    expect(page.get_by_role("img", name="Refusals, last 24 hours", exact=False)).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Name of the new key").fill("Scanned key")
    page.get_by_role("button", name="Issue key").click()
    expect(page.get_by_role("region", name="New key")).to_be_visible()
    assert serious_violations(page) == []
