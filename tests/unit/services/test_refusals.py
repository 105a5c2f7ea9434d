"""The refusal counter: per identity and clock hour, one store call, and a store failure that
still refuses the prompt (as a 422: the count is unknown, so the limit is not applied)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.ports import Counter, StoreError
from chalicelib.services.generation.refusals import Refusals, RefusalWindow
from tests.fakes import FakeClock

HOUR = 1_800_000_000 // 3600 * 3600  # the start of a clock hour


class RecordingCounters:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[list[Counter]] = []
        self.totals: dict[str, float] = {}

    def add_and_read(self, counters: Sequence[Counter]) -> list[float]:
        if self.fail:
            raise StoreError("connection refused")
        self.calls.append(list(counters))
        for counter in counters:
            self.totals[counter.key] = self.totals.get(counter.key, 0.0) + counter.amount
        return [self.totals[c.key] for c in counters]


def test_the_window_is_the_clock_hour_of_the_identity() -> None:
    assert RefusalWindow.of("u:ann", HOUR) == RefusalWindow(f"refused:u:ann:{HOUR // 3600}", HOUR + 3600)
    assert RefusalWindow.of("u:ann", HOUR + 3599.9).key == f"refused:u:ann:{HOUR // 3600}"
    assert RefusalWindow.of("u:ann", HOUR + 3600).key == f"refused:u:ann:{HOUR // 3600 + 1}"


def test_each_refusal_is_one_call_that_counts_the_identity_and_the_stats() -> None:
    counters, clock = RecordingCounters(), FakeClock(HOUR + 600)
    refusals = Refusals(counters, clock, limit=10)  # type: ignore[arg-type]
    counts = [refusals.record("u:ann")[0] for _ in range(11)]
    assert counts == list(range(1, 12))
    assert len(counters.calls) == 11
    identity, day, month, hour = counters.calls[0]
    assert identity.key == f"refused:u:ann:{HOUR // 3600}"
    assert identity.ttl == 3000 + 60  # to the hour's end, and a minute
    assert all(
        c.key.endswith("admit:content_rejected") for c in (day, month, hour)
    )  # the stats and the trends
    assert [refusals.exceeded(n) for n in (9, 10, 11)] == [False, False, True]


def test_a_limit_of_zero_never_blocks() -> None:
    refusals = Refusals(RecordingCounters(), FakeClock(HOUR), limit=0)  # type: ignore[arg-type]
    assert not refusals.exceeded(1_000)


def test_a_store_failure_counts_nothing_and_blocks_nothing() -> None:
    refusals = Refusals(RecordingCounters(fail=True), FakeClock(HOUR + 10), limit=10)  # type: ignore[arg-type]
    count, window = refusals.record("u:ann")
    assert count == 0 and window.reset_at == HOUR + 3600
    assert not refusals.exceeded(count)
