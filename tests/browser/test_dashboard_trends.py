"""The dashboard's conversion funnel and trends, in Chromium against the local stack: the picker's
funnel events reach GET /v1/admin/stats, and the dashboard draws what the stats say."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.stack import ADMIN_TOKEN, Stack

pytestmark = pytest.mark.e2e


def admin_stats(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.base}/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
    stats: dict[str, Any] = response.json()
    return stats


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(stack.base + "/admin")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_the_picker_reports_its_funnel_steps(page: Page, stack: Stack) -> None:
    before = admin_stats(stack)["funnel"]["totals"]["counts"]
    sent: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        body = request.post_data_json if request.url.endswith("/v1/events") else None
        if isinstance(body, dict):
            sent.append(body)

    page.on("request", record)
    page.goto(stack.base + "/")
    gallery = page.get_by_role("list", name="Gallery")
    expect(gallery.get_by_role("button").first).to_be_visible()
    page.get_by_label("Gallery style").select_option(index=1)
    expect(gallery.get_by_role("button").first).to_be_visible()
    gallery.get_by_role("button").first.click()
    expect(page.get_by_role("alert")).to_contain_text("Good choice")

    def reported() -> list[str]:
        return [event["name"] for batch in sent for event in batch["events"]]

    # A batch waits a few seconds for company (or goes as the page is left).
    for _ in range(40):
        if "avatar_chosen" in reported():
            break
        page.wait_for_timeout(250)
    page.wait_for_load_state("networkidle")
    names = reported()
    assert {"gallery_viewed", "style_chosen", "avatar_chosen"} <= set(names)
    assert all(set(event) == {"name"} for batch in sent for event in batch["events"])  # nothing personal
    after = admin_stats(stack)["funnel"]["totals"]["counts"]
    for step in ("gallery_viewed", "style_chosen", "avatar_chosen"):
        assert after[step] >= before[step] + names.count(step), step


def test_the_dashboard_draws_the_funnel_and_the_trends(page: Page, stack: Stack) -> None:
    events = ["gallery_viewed"] * 4 + ["custom_started", "upgrade_shown", "upgrade_clicked", "avatar_chosen"]
    posted = httpx.post(f"{stack.base}/v1/events", json={"events": [{"name": n} for n in events]})
    assert posted.status_code == 202, posted.text
    token = httpx.post(f"{stack.base}/v1/dev/token", json={"sub": "trended", "tier": "free"}).json()["token"]
    made = httpx.post(
        f"{stack.base}/v1/generations",
        json={"style": "watercolor", "prompt": "a trended avatar"},
        headers={"Authorization": f"Bearer {token}", "Prefer": "wait=20"},
        timeout=30,
    )
    assert made.status_code == 200, made.text

    sign_in(page, stack)
    stats = admin_stats(stack)
    funnel = stats["funnel"]
    expect(page.get_by_role("heading", name="Conversion funnel")).to_be_visible()
    for step in funnel["steps"]:
        expect(page.locator(f'[data-funnel="totals.counts.{step}"]')).to_have_attribute(
            "data-value", str(funnel["totals"]["counts"][step])
        )
        expect(page.locator(f'[data-funnel="today.counts.{step}"]')).to_have_attribute(
            "data-value", str(funnel["days"][-1]["counts"][step])
        )
    rate = funnel["totals"]["conversion"]["chose_avatar"]
    assert rate is not None
    expect(page.locator('[data-funnel="totals.conversion.chose_avatar"]')).to_have_text(f"{rate * 100:.1f}%")
    chart = page.get_by_role("img", name="Funnel, last 30 days", exact=False)
    expect(chart).to_contain_text("Gallery viewed")

    expect(page.get_by_role("heading", name="Trends")).to_be_visible()
    days = stats["trends"]["days"]["points"]
    total = sum(sum(p["generations"].values()) for p in days)
    assert total >= 1
    expect(page.locator('[data-trend="days.generations"]')).to_have_attribute("data-value", str(total))
    for title in (
        "Generations by tier, last 30 days",
        "Spend against the daily budget, last 30 days",
        "Cache hit ratio, last 30 days",
        "p95 latency per provider, last 30 days",
        "Refusals, last 30 days",
    ):
        expect(page.get_by_role("img", name=title, exact=False)).to_be_visible()
    budget = stats["trends"]["days"]["daily_budget_usd"]
    expect(
        page.get_by_role("img", name="Spend against the daily budget, last 30 days", exact=False)
    ).to_have_attribute(
        "aria-label",
        f"Spend against the daily budget, last 30 days: ${sum(p['spend_usd'] for p in days):.2f} spent; daily budget ${budget:.2f}",
    )

    page.get_by_role("button", name="Last 24 hours").click()
    expect(page.get_by_role("button", name="Last 24 hours")).to_have_attribute("aria-pressed", "true")
    hours = admin_stats(stack)["trends"]["hours"]["points"]
    expect(page.get_by_role("img", name="Generations by tier, last 24 hours", exact=False)).to_be_visible()
    hourly = page.locator('[data-trend="hours.generations"]')
    assert int(hourly.get_attribute("data-value") or "0") <= sum(
        sum(p["generations"].values()) for p in hours
    )
    assert int(hourly.get_attribute("data-value") or "0") >= 1
    # Every chart's numbers, as a table too.
    page.get_by_text("Generations by tier, last 24 hours: data").click()
    expect(page.get_by_role("table").filter(has_text="Period").first).to_be_visible()
