"""Faults on `make stack`, small (issue 23, item 8; bench/stack_faults.py measures them larger).

One stack; a short burst per fault with the fault in its middle: the redis-server stopped for 5 s
(SIGSTOP/SIGCONT), killed (the supervisor starts it again), the queue service stopped for 5 s. No timing is asserted (the machine is shared): after each
fault no accepted job is lost, no quota counter holds more (or less) than the jobs charged on it,
and the stack answers again. Ghost jobs (a request answered with an error that still made a job)
are measured by the benchmark, not asserted here.
"""

from __future__ import annotations

import pytest

from bench.stack_faults import FaultParams, fault_verdict, run_faults

pytestmark = pytest.mark.e2e

# The silent provider is measured by the benchmark only: on this branch its jobs wait for the job
# deadline (docs/benchmarks.md), which a test cannot wait for.
TESTED = ("store-stop", "store-kill", "queue-stop")


def test_each_fault_loses_no_job_charges_once_and_the_stack_answers_again() -> None:
    params = FaultParams(
        faults=TESTED,
        requests=40,
        identities=10,
        threads=8,
        api=1,
        workers_per_lane=1,
        drain_timeout_s=150.0,
        keep_logs=False,
    )
    result = run_faults(params, log=lambda line: None)

    assert [phase["fault"] for phase in result["phases"]] == list(TESTED)
    for phase in result["phases"]:
        detail = {k: phase[k] for k in ("fault", "status_counts", "lost", "lost_statuses", "double_charged")}
        assert phase["requests"] == params.requests, detail
        assert phase["accepted"] > 0, detail  # the burst was served, around the fault
        checks = fault_verdict(phase)
        assert checks["zero double charges"], detail
        assert checks["the stack answers again"], detail
        assert phase["status_counts"].get(500, 0) == 0, detail
        if phase["fault"] in ("store-stop", "store-kill"):
            # Issue 23 items 2-3, fixed on another branch: a job admitted while the store is away
            # can miss its dispatch (no lane ever claims it), or be left by a request that gave
            # up waiting on it (answered 202 although it asked to wait); either waits for the job
            # deadline. Only such jobs may be lost here until those fixes land; then this is zero.
            allowed = phase["lost_unclaimed"] + phase["lost_wait_given_up"]
            assert len(phase["lost"]) <= allowed, detail
        else:
            assert checks["zero lost jobs"], detail
    store_kill = next(p for p in result["phases"] if p["fault"] == "store-kill")
    assert store_kill["fault_s"] > 0  # killed, then running again (wait_restarted)
    assert result["leftover_processes"] == []
