"""bench/realtime.py stays runnable: a small run delivers every final message, in order."""

from __future__ import annotations

from bench.realtime import PHASES, report, run


def test_a_small_realtime_bench_delivers_every_phase_to_every_watcher() -> None:
    result = run(watchers=6, generations=2, timeout=60)
    watches = result["watches"]
    assert all(w.error is None for w in watches), [w.error for w in watches]
    assert all(w.finish_to_message_ms is not None and w.finish_to_message_ms >= 0 for w in watches)
    for watch in watches:
        assert [p for i, p in enumerate(watch.phases) if i == 0 or p != watch.phases[i - 1]] == list(PHASES)
    text = report(result, "python -m bench.realtime --watchers 6 --generations 2")
    assert "every watcher got its final message" in text and "6 of 6" in text
