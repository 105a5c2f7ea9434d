"""bench/sync_wake.py's verdict and report: the issue's targets (p50 100 ms, p99 250 ms after the
job's end), the issue's before (p50 5.56 s) refused."""

from __future__ import annotations

from typing import Any

from bench.sync_wake import report, verdict


def measures(p50: float, p99: float, measured: int = 30) -> dict[str, Any]:
    return {
        "requests": 30,
        "api": 2,
        "latency_ms": "500-900",
        "statuses": {200: measured},
        "measured": measured,
        "unmeasured": 30 - measured,
        "after_end_p50": p50,
        "after_end_p99": p99,
        "after_end_max": p99,
        "job_p50": 700.0,
    }


def test_the_issues_before_fails_and_its_targets_pass() -> None:
    assert not any(verdict(measures(5560.0, 5900.0)).values())  # issue 23: p50 5.56 s over 30 requests
    assert all(verdict(measures(100.0, 250.0)).values())
    assert verdict(measures(90.0, 251.0)) == {
        "p50 after the end <= 100 ms": True,
        "p99 after the end <= 250 ms": False,
    }
    assert not any(verdict(measures(0.0, 0.0, measured=0)).values())  # nothing measured proves nothing


def test_the_report_names_the_command_and_the_numbers() -> None:
    text = report(measures(82.0, 174.0), ".venv/bin/python -m bench.sync_wake --requests 30")
    assert "`.venv/bin/python -m bench.sync_wake --requests 30`" in text
    assert "| answer after the job's end, p50 | 82 ms |" in text
    assert "| answer after the job's end, p99 | 174 ms |" in text
    assert "all checks passed" in text
