"""The research's own scenarios, pinned to the totals computed by hand from its stated inputs."""

from __future__ import annotations

import pytest

from costmodel.counts import MeasuredCounts
from costmodel.prices import PriceTable
from costmodel.scenarios import DEFAULT_USERS, Row, build

PRICES = PriceTable()


def rows(name: str) -> dict[int, Row]:
    return {row.users: row for row in build(name, DEFAULT_USERS, PRICES, MeasuredCounts()).rows}


def lines(row: Row) -> list[tuple[float, float]]:
    return [(line.low, line.high) for line in row.lines]


@pytest.mark.parametrize(
    "users, generations, storage",
    # one image per user at $0.003; 1 GB per 1,000 images at $0.15
    [(1_000, 3.0, 0.15), (10_000, 30.0, 1.5), (100_000, 300.0, 15.0), (1_000_000, 3000.0, 150.0)],
)
def test_pure_fal(users: int, generations: float, storage: float) -> None:
    row = rows("seed-pure-fal")[users]
    assert row.ai_generations == users
    assert lines(row) == [pytest.approx((generations, generations)), pytest.approx((storage, storage))]
    assert (row.low, row.high) == pytest.approx((generations + storage,) * 2)
    assert row.per_1000_users() == pytest.approx((3.15, 3.15))


@pytest.mark.parametrize(
    "users, total", [(1_000, 8.15), (10_000, 81.5), (100_000, 815.0), (1_000_000, 8150.0)]
)
def test_pure_replicate(users: int, total: float) -> None:
    row = rows("seed-pure-replicate")[users]
    assert row.lines[0].high == pytest.approx(users * 0.008)
    assert (row.low, row.high) == pytest.approx((total, total))


@pytest.mark.parametrize(
    "users, expected",
    [
        # AI: 30 % of users x $0.003-$0.008; gallery library; storage; queue; CDN egress
        (1_000, [(0.9, 2.4), (0.0, 250.0), (0.15, 0.15), (0.0, 0.0), (0.0, 0.0)]),
        (10_000, [(9.0, 24.0), (0.0, 250.0), (1.0, 1.0), (0.0, 0.0), (0.0, 0.0)]),
        (100_000, [(90.0, 240.0), (250.0, 250.0), (15.0, 15.0), (0.0, 0.0), (0.0, 0.0)]),
        (1_000_000, [(900.0, 2400.0), (500.0, 500.0), (150.0, 150.0), (50.0, 50.0), (0.0, 0.0)]),
    ],
)
def test_hybrid_line_by_line(users: int, expected: list[tuple[float, float]]) -> None:
    row = rows("seed-hybrid")[users]
    assert row.ai_generations == pytest.approx(users * 0.3)
    assert lines(row) == [pytest.approx(pair) for pair in expected]
    assert row.low == pytest.approx(sum(low for low, _ in expected))
    assert row.high == pytest.approx(sum(high for _, high in expected))


def test_totals_of_the_hybrid() -> None:
    hybrid = rows("seed-hybrid")
    assert (hybrid[10_000].low, hybrid[10_000].high) == pytest.approx((10.0, 275.0))
    assert (hybrid[100_000].low, hybrid[100_000].high) == pytest.approx((355.0, 505.0))
    assert (hybrid[1_000_000].low, hybrid[1_000_000].high) == pytest.approx((1600.0, 3100.0))


def test_the_hybrid_at_100k_costs_more_than_pure_fal_even_at_its_low_end() -> None:
    assert rows("seed-hybrid")[100_000].low > rows("seed-pure-fal")[100_000].high  # $355 > $315


def test_the_research_storage_price_is_ten_times_r2s() -> None:
    assert PRICES.high("research.storage_gb_month") == pytest.approx(10 * PRICES.high("r2.storage_gb_month"))


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        build("pure-magic", DEFAULT_USERS, PRICES, MeasuredCounts())


def test_between_the_researchs_user_counts_its_figure_below_applies() -> None:
    (row,) = build("seed-hybrid", [500_000], PRICES, MeasuredCounts()).rows
    # AI 150,000 x $0.003-$0.008; gallery as at 100k; storage by its rule (500 GB at $0.15); no queue yet
    assert lines(row) == [
        pytest.approx((450.0, 1200.0)),
        pytest.approx((250.0, 250.0)),
        pytest.approx((75.0, 75.0)),
        (0.0, 0.0),
        (0.0, 0.0),
    ]
