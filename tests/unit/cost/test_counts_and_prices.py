"""The measured counts read from the benchmarks' recorded tables, and the unit price table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.providers.pricing import DEFAULT_PRICES
from costmodel.counts import BENCHMARKS, MeasuredCounts, load_counts, number, parse
from costmodel.prices import DEFAULT_UNIT_PRICES, PriceTable, load_price_table

DOC = """# Benchmarks

## Round trips

<!-- bench:roundtrips:start -->
| request | REST calls before (x) | REST calls | request bytes (median) | median ms | p90 ms |
| --- | ---: | ---: | ---: | ---: | ---: |
| `POST /v1/generations`, cache miss, `Prefer: respond-async` (until the 202) | 1 | 2 | 1,030 | 7.5 | 9 |
| `GET /v1/gallery` (warm) | 0 | 1 | 0 | 0.25 | 1 |
| a queued job run by a lane worker (claim, finish) | - | 4 | 2,368 | 150.0 | 200 |
<!-- bench:roundtrips:end -->

<!-- bench:spike:start -->
| measure | value |
| ---: | ---: |
| accepted (200 + 202) | 1,000 |
| provider calls / distinct requests made / duplicate calls | 600 / 600 / 0 |
<!-- bench:spike:end -->

<!-- bench:gallery:start -->
| implementation | request (cold container) | median ms | max ms | GETs |
| --- | --- | ---: | ---: | ---: |
| current | first listing, one style | 6.7 | 7.0 | 3 |
| HEAD | first listing, one style | 2344.5 | 2365.7 | 1 |
<!-- bench:gallery:end -->
"""


def test_the_counts_come_from_each_benchmark_block() -> None:
    counts = parse(DOC)
    assert (counts.admit_calls, counts.admit_ms) == (2.0, 7.5)
    assert (counts.gallery_calls, counts.gallery_ms) == (1.0, 0.25)
    assert (counts.worker_calls, counts.worker_ms) == (4.0, 150.0)
    assert (counts.spike_accepted, counts.spike_provider_calls) == (1000.0, 600.0)
    assert counts.dedup_saving == pytest.approx(0.4)
    assert counts.gallery_cold_gets == 3.0  # the `current` row, not HEAD's
    assert counts.sources["admit_calls"] == "docs/benchmarks.md, bench:roundtrips"


def test_a_number_a_block_lacks_keeps_its_default_and_says_so() -> None:
    counts = parse(DOC)
    assert counts.cold_start_ms == MeasuredCounts().cold_start_ms
    assert "cold_start_ms" not in counts.sources
    assert parse("no blocks at all") == MeasuredCounts()


def test_the_recorded_benchmarks_give_every_count(tmp_path: Path) -> None:
    counts = load_counts(BENCHMARKS)
    assert set(counts.sources) == {name for name in vars(MeasuredCounts()) if name != "sources"}
    assert 0.0 < counts.dedup_saving < 1.0
    assert load_counts(tmp_path / "missing.md") == MeasuredCounts()


@pytest.mark.parametrize(
    "cell, value", [("2,394 / 2,394 / 0", 2394.0), ("5.80", 5.8), ("-", None), ("", None)]
)
def test_number_reads_the_first_number_of_a_cell(cell: str, value: float | None) -> None:
    assert number(cell) == value


def test_provider_prices_are_the_spend_guards_own() -> None:
    prices = PriceTable()
    assert prices.high("fal.flux_schnell") == DEFAULT_PRICES["fal"]["fal-ai/flux/schnell"].cost(1024, 1024)
    assert prices.high("replicate.flux_dev") == DEFAULT_PRICES["replicate"]["black-forest-labs/flux-dev"].usd
    assert prices.high("r2.storage_gb_month") == 0.015


def test_every_price_has_a_source_and_a_date() -> None:
    for key, price in DEFAULT_UNIT_PRICES.items():
        assert price.key == key and price.source and price.read_on == "2026-11-30"
        assert 0.0 <= price.low <= price.high


def test_overrides_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"r2.storage_gb_month": 0.02, "lambda.gb_second": {"low": 0.00001}}))
    prices = load_price_table(path)
    assert (prices.low("r2.storage_gb_month"), prices.high("r2.storage_gb_month")) == (0.02, 0.02)
    assert (prices.low("lambda.gb_second"), prices.high("lambda.gb_second")) == (0.00001, 0.0000166667)
    assert prices["r2.storage_gb_month"].source.startswith("override")
    assert PriceTable().high("r2.storage_gb_month") == 0.015  # the defaults are untouched


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nope": 1}, "unknown price"),
        ({"sqs.request": -1}, "non-negative"),
        ({"sqs.request": True}, "non-negative"),
        ({"sqs.request": {"low": 2, "high": 1}}, "low is above high"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable().with_overrides(overrides)


def test_a_file_that_is_not_a_json_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_price_table(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_price_table(path)
