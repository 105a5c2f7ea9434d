"""``measured`` at 100,000 users, every line pinned to a hand computation from the stated inputs.

Inputs: the counts recorded when the model was written (``MeasuredCounts()``), the default unit
prices and assumptions, and a dedup saving of exactly 50 % so that the numbers stay round:
30,000 AI requests -> 15,000 paid (1,500 premium: 750 standard on FLUX dev, 14,250 fast).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from costmodel.counts import MeasuredCounts
from costmodel.prices import PriceTable
from costmodel.report import goal
from costmodel.scenarios import DEFAULT_USERS, Assumptions, Row, build, measured

COUNTS = MeasuredCounts()
HALF = Assumptions(dedup_saving=0.5)
GB_S = 0.0000166667


@pytest.fixture(scope="module")
def row() -> Row:
    return measured(100_000, PriceTable(), COUNTS, HALF)


def line(row: Row, starts: str) -> tuple[float, float]:
    (found,) = [item for item in row.lines if item.item.startswith(starts)]
    return found.low, found.high


def test_provider_spend(row: Row) -> None:
    assert line(row, "AI generations") == pytest.approx((14_250 * 0.003 + 750 * 0.025,) * 2)  # $61.50
    assert row.ai_generations == pytest.approx(15_000 + 1_200)  # + the gallery's batch jobs


def test_gallery(row: Row) -> None:
    assert line(row, "gallery: Pexels") == (0.0, 0.0)
    # 4 jobs per style x 10 styles x 30 daily runs at $0.003 .. 10 % of $25 a day for 30 days
    assert line(row, "gallery: batch AI") == pytest.approx((3.6, 75.0))


def test_requests_gateways_and_logs(row: Row) -> None:
    api = 300_000 + 30_000 * 2 + 60_000  # gallery pages, POST + quota, 2 polls per request = 420,000
    invocations = api + 15_000 + 15_000 * 2 + 22_350  # + jobs, WebSocket connect/disconnect, schedules
    assert line(row, "API Gateway REST") == pytest.approx((api / 1e6 * 3.50,) * 2)
    assert line(row, "Lambda requests") == pytest.approx((invocations / 1e6 * 0.20,) * 2)
    assert line(row, "API Gateway WebSocket") == pytest.approx(
        (15_000 * 6 / 1e6 * 1.00 + 15_000 / 1e6 * 0.25,) * 2
    )
    assert line(row, "CloudWatch logs") == pytest.approx((invocations * 1_000 / 1e9 * 0.50,) * 2)
    assert line(row, "CloudWatch metrics") == pytest.approx((30 * 0.30 + 8 * 0.10,) * 2)


def test_state_store_and_queue(row: Row) -> None:
    # admit + quota per request, a poll each, 5 + 1 per job, 2 per watch, the reaper; gallery 0
    fixed = 30_000 * 2 + 60_000 + 15_000 * 6 + 15_000 * 2 + 21_600 * 3
    low, high = fixed + 2 * 43_200, fixed + 10 * 43_200  # warm containers revalidating each minute
    assert line(row, "Upstash") == pytest.approx((low / 1e5 * 0.20, high / 1e5 * 0.20))
    assert line(row, "SQS") == pytest.approx(((15_000 * 3 + 1_500_000) / 1e6 * 0.40,) * 2)


def test_object_storage(row: Row) -> None:
    assert line(row, "R2 storage") == pytest.approx((16_200 * 251_986 / 1e9 * 0.015,) * 2)
    writes = 13_500 * 3 + 1_500 * 4 + 1_200 * 3  # one PUT per WebP size
    assert line(row, "R2 class A") == pytest.approx((writes / 1e6 * 4.50,) * 2)
    views = 30_000 * 5 + 300_000 * 24
    low = views * 0.05 + 420_000 * 0.01 * 2  # CDN misses + a cold container's 2 gallery GETs
    high = views * 0.20 + 420_000 * 0.05 * 2
    assert line(row, "R2 class B") == pytest.approx((low / 1e6 * 0.36, high / 1e6 * 0.36))


def test_lambda_compute(row: Row) -> None:
    def gb_s(rtt: float, cold: float) -> float:
        api = (
            300_000 * 1.0  # the gallery's 0.5 ms bills as 1 ms
            + 30_000 * (5.80 + rtt)
            + 30_000 * (3.40 + rtt)
            + 60_000 * (3.88 + rtt)
            + 420_000 * cold * 360.0
        )
        jobs = 14_250 * (181.39 + 6 * rtt + 4_000) + 750 * (181.39 + 6 * rtt + 12_000)
        websocket = 30_000 * 10.0 * 0.5
        return (api + jobs + websocket) / 1000  # 1 GB functions

    assert line(row, "Lambda compute") == pytest.approx((gb_s(2.0, 0.01) * GB_S, gb_s(20.0, 0.05) * GB_S))


def test_totals_are_the_sum_of_the_lines(row: Row) -> None:
    assert row.low == pytest.approx(sum(item.low for item in row.lines))
    assert row.high == pytest.approx(sum(item.high for item in row.lines))
    assert row.per_1000_users() == pytest.approx((row.low / 100, row.high / 100))


def test_the_measured_dedup_saving_comes_from_the_spike() -> None:
    assert COUNTS.dedup_saving == pytest.approx(1 - 2394 / 4609)
    defaults = measured(100_000, PriceTable(), COUNTS, Assumptions())
    assert defaults.ai_generations == pytest.approx(30_000 * 2394 / 4609 + 1_200)


def test_the_goal_is_met_at_100k_and_1m_with_the_default_assumptions() -> None:
    prices = PriceTable()
    scenarios = [build(name, DEFAULT_USERS, prices, COUNTS) for name in ("seed-hybrid", "measured")]
    results = goal(scenarios)
    assert [r["users"] for r in results] == [100_000, 1_000_000]
    assert all(r["met"] and r["saving"] >= 0.40 for r in results)


def test_without_any_dedup_the_provider_line_grows_by_the_saving() -> None:
    prices = PriceTable()
    with_half = measured(1_000_000, prices, COUNTS, HALF)
    without = measured(1_000_000, prices, COUNTS, replace(HALF, dedup_saving=0.0))
    assert line(without, "AI generations")[1] == pytest.approx(2 * line(with_half, "AI generations")[1])


def test_photo_generations_are_priced_at_the_photo_models_and_never_deduplicated(row: Row) -> None:
    quarter = measured(100_000, PriceTable(), COUNTS, replace(HALF, photo_share=0.25))
    requested, photos = 30_000, 30_000 * 0.25
    assert line(quarter, "AI photo generations") == pytest.approx((photos * 0.033, photos * 0.04))
    assert line(quarter, "photo checks function") == pytest.approx(
        (photos * 0.3 * 2 * GB_S, photos * 1.0 * 2 * GB_S)
    )
    # The text requests keep their 50 % saving; every photo request is paid.
    assert quarter.ai_generations == pytest.approx((requested - photos) * 0.5 + photos + 1_200)
    assert line(row, "AI photo generations") == (0.0, 0.0)  # none by default
