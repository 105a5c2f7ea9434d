"""Faults on `make stack`, small (issue 23, item 8; bench/stack_faults.py measures them larger).

One stack; a short burst per fault with the fault in its middle: the redis-server stopped for 5 s
(SIGSTOP/SIGCONT), killed (the supervisor starts it again), the queue service stopped for 5 s, fal
answering nothing for the whole phase (the router fails over). No timing is asserted (the machine
is shared): after each fault no accepted job is lost, no quota counter holds more (or less) than
the jobs charged on it, no request answered with an error left a job behind (no ghost job: a 503
means nothing happened, items 1-2; a job admitted while the store was away is dispatched by the
sweep, item 3), and the stack answers again.
"""

from __future__ import annotations

import pytest

from bench.stack_faults import FAULTS, FaultParams, fault_verdict, run_faults

pytestmark = pytest.mark.e2e


def test_each_fault_loses_no_job_leaves_no_ghost_charges_once_and_the_stack_answers_again() -> None:
    params = FaultParams(
        faults=FAULTS,
        requests=40,
        identities=10,
        threads=8,
        api=1,
        workers_per_lane=1,
        drain_timeout_s=150.0,
        keep_logs=False,
    )
    result = run_faults(params, log=lambda line: None)

    assert [phase["fault"] for phase in result["phases"]] == list(FAULTS)
    for phase in result["phases"]:
        detail = {
            k: phase[k]
            for k in (
                "fault",
                "status_counts",
                "lost",
                "lost_statuses",
                "double_charged",
                "ghosts",
                "ghost_statuses",
            )
        }
        assert phase["requests"] == params.requests, detail
        assert phase["accepted"] > 0, detail  # the burst was served, around the fault
        checks = fault_verdict(phase)
        assert checks["zero lost jobs"], detail
        assert checks["zero double charges"], detail
        assert checks["the stack answers again"], detail
        assert phase["ghosts"] == [], detail  # an error answer left nothing behind
        assert phase["status_counts"].get(500, 0) == 0, detail
        # Only the store's absence is a 503 (nothing happened); every other answer is an admission.
        assert set(phase["status_counts"]) <= {200, 202, 503}, detail
        if phase["fault"] != "store-stop" and phase["fault"] != "store-kill":
            assert phase["status_counts"].get(503, 0) == 0, detail
    store_kill = next(p for p in result["phases"] if p["fault"] == "store-kill")
    assert store_kill["fault_s"] > 0  # killed, then running again (wait_restarted)
    # The silent provider's phase runs last (FAULTS' order): fal's webhook keys are cached by then
    # (its JWKS is silent too), as a deployment's are after its first fal webhook.
    silent = next(p for p in result["phases"] if p["fault"] == "provider-silent")
    assert silent["accepted"] == params.requests, silent["status_counts"]  # failed over, all served
    assert result["leftover_processes"] == []
