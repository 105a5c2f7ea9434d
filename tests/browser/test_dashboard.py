"""The operators' dashboard at /admin, in Debian's Chromium against the local stack: the numbers of
GET /v1/admin/stats, issuing and revoking an API key, and a refused token."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.stack import ADMIN_TOKEN, Stack

pytestmark = pytest.mark.e2e


def admin_stats(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.base}/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
    stats: dict[str, Any] = response.json()
    return stats


def at(stats: dict[str, Any], path: str) -> Any:
    value: Any = stats
    for part in path.split("."):
        value = value[part]
    return value


def sign_in(page: Page, stack: Stack, token: str = ADMIN_TOKEN) -> None:
    page.goto(stack.base + "/admin")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Open dashboard").click()


def test_the_dashboard_shows_the_numbers_of_the_stats(page: Page, stack: Stack) -> None:
    # Something to count: one user's generation, then the same again (a cache hit).
    token = httpx.post(f"{stack.base}/v1/dev/token", json={"sub": "counted", "tier": "premium"}).json()[
        "token"
    ]
    for _ in range(2):
        made = httpx.post(
            f"{stack.base}/v1/generations",
            json={"style": "flat", "prompt": "a counted avatar"},
            headers={"Authorization": f"Bearer {token}", "Prefer": "wait=20"},
            timeout=30,
        )
        assert made.status_code == 200, made.text

    sign_in(page, stack)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    stats = admin_stats(stack)
    shown = {
        element.get_attribute("data-stat"): element.get_attribute("data-value")
        for element in page.locator("[data-stat]").all()
    }
    assert sum(stats["today"]["generations"]["by_status"].values()) >= 1
    assert shown["today.generations.finished"] == str(
        sum(stats["today"]["generations"]["by_status"].values())
    )
    assert shown["month.generations.finished"] == str(
        sum(stats["month"]["generations"]["by_status"].values())
    )
    checked = 2
    for path, value in shown.items():
        if path is None or path.endswith(".finished") or path.startswith("experiments."):
            continue  # the experiments' table is checked by its own test below
        try:
            expected = at(stats, path)
        except KeyError:
            assert ".spend.by_provider." in path, path  # a provider that cost nothing yet shows $0
            expected = 0
        if isinstance(expected, float) and value:
            assert float(value) == pytest.approx(expected), path
        else:
            assert value == ("" if expected is None else str(expected)), path
        checked += 1
    for must in (
        "budget.daily.spent_usd",
        "budget.monthly.limit_usd",
        "budget.state",
        "today.cache_hit_ratio",
    ):
        assert must in shown, must
    assert any(path.startswith("today.generations.by_provider.") for path in shown if path)
    assert any(path.startswith("today.providers.") and path.endswith("p95_ms") for path in shown if path)
    assert checked >= 12, shown
    expect(page.locator('[data-stat="budget.monthly.limit_usd"]')).to_have_text(
        f"${stats['budget']['monthly']['limit_usd']:.2f}"
    )
    # A chart says what it shows to a screen reader too.
    chart = page.get_by_role("img", name="By status, today")
    by_status = sorted(stats["today"]["generations"]["by_status"].items(), key=lambda kv: -kv[1])
    expect(chart).to_have_accessible_name("By status, today: " + ", ".join(f"{k} {v}" for k, v in by_status))


def test_the_dashboard_issues_a_key_shown_once_and_revokes_it(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    page.get_by_label("Name of the new key").fill("Acme browser test")
    page.get_by_role("button", name="Issue key").click()
    shown_once = page.get_by_role("region", name="New key")
    expect(shown_once).to_contain_text("shown only once")
    key = shown_once.locator("[data-new-key]").inner_text()
    assert key
    quota = httpx.get(f"{stack.base}/v1/me/quota", headers={"X-API-Key": key})
    assert quota.status_code == 200 and quota.json()["tier"] == "enterprise"

    row = page.get_by_role("row").filter(has_text="Acme browser test")
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="Revoke Acme browser test").click()
    expect(row).to_contain_text("revoked")
    assert httpx.get(f"{stack.base}/v1/me/quota", headers={"X-API-Key": key}).status_code == 401


def test_a_wrong_admin_token_is_refused_and_forgotten(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "not-the-token")
    expect(page.get_by_role("alert")).to_have_text("That token was refused.")
    expect(page.get_by_role("heading", name="Overview")).to_be_hidden()
    assert (
        page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage}) + document.cookie") == "{}"
    )


def test_the_dashboard_refreshes_the_gallery(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    page.get_by_role("button", name="Refresh gallery").click()
    expect(page.get_by_role("status").filter(has_text="Gallery refresh")).to_have_text(
        re.compile(r"^Gallery refresh: (started|published|unchanged|busy)")
    )


def test_the_optional_projection_and_experiments_are_shown_when_present(page: Page, stack: Stack) -> None:
    projection = {
        "month": "2026-11",
        "spent_usd": 12.5,
        "projected_usd": 410.25,
        "budget_usd": 500.0,
        "runs_out_on": None,
        "pace_usd_per_day": 13.7,
    }
    arm = {
        "arm": "flux-dev",
        "generations": 120,
        "adopted": 30,
        "adoption_rate": 0.25,
        "adoption_ci95": [0.18, 0.33],
        "cost_usd": 3.0,
        "cost_per_adopted_usd": 0.1,
        "p50_latency_ms": None,
    }
    experiments = {"model-choice": {"share": 0.1, "arms": [arm]}}

    def with_extras(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        route.fulfill(response=answer, json={**body, "projection": projection, "experiments": experiments})

    def without_extras(route: Route) -> None:  # an API older than these parts
        answer = route.fetch()
        body = {k: v for k, v in answer.json().items() if k not in ("projection", "experiments")}
        route.fulfill(response=answer, json=body)

    page.route("**/v1/admin/stats", without_extras)
    sign_in(page, stack)  # without them first: the sections stay hidden
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("heading", name="Spend projection")).to_be_hidden()
    expect(page.get_by_role("heading", name="Experiments")).to_be_hidden()

    page.unroute("**/v1/admin/stats")
    page.route("**/v1/admin/stats", with_extras)
    page.get_by_role("button", name="Reload numbers").click()
    expect(page.get_by_role("heading", name="Spend projection")).to_be_visible()
    expect(page.locator('[data-stat="projection.projected_usd"]')).to_have_text("$410.25")
    expect(page.locator('[data-stat="projection.runs_out_on"]')).to_have_text("not this month")
    row = page.get_by_role("row").filter(has_text="flux-dev")
    expect(row.locator('[data-stat="experiments.model-choice.flux-dev.generations"]')).to_have_text("120")
    expect(row.locator('[data-stat="experiments.model-choice.flux-dev.adoption_rate"]')).to_have_text("25.0%")
    expect(row.locator('[data-stat="experiments.model-choice.flux-dev.adoption_ci95"]')).to_have_text(
        "18.0% \u2013 33.0%"  # an en dash
    )
    expect(row.locator('[data-stat="experiments.model-choice.flux-dev.p50_latency_ms"]')).to_have_text(
        "\u2013"
    )  # shown for none
    expect(page.get_by_role("heading", name="model-choice (10.0% of traffic)")).to_be_visible()
