"""`make stack` in small: the production topology on one machine survives a crashed lane worker.

Two API processes behind the round-robin front, one lane worker per lane, the production adapters
over their wire protocols (Upstash REST + redis-server, SQS + S3 on moto's server, fal and
Replicate stand-ins with webhooks); 200 generation requests from 40 identities, and the free lane's
worker killed with SIGKILL during the burst (the supervisor starts it again). The checks are the
spike's (bench/stack_spike.py); the timings are scaled down (visibility timeout 20 s, job lease 10 s)
so that the killed worker's batch comes back within the test. Stopping the stack leaves no process.
A job the killed worker was submitting may be submitted once more (see the test).
"""

from __future__ import annotations

import pytest

from bench.stack_spike import SpikeParams, run, verdict
from chalicelib.workers.lanes import MAX_PARALLEL

pytestmark = pytest.mark.e2e


def test_a_burst_with_a_killed_lane_worker_loses_nothing_and_charges_once() -> None:
    params = SpikeParams(
        requests=200,
        identities=40,
        threads=16,
        api=2,
        workers_per_lane=1,
        crash_worker=True,
        crash_api=False,
        latency_ms="100-400",
        # The spike's scaled timings. A lease shorter than a job is really held (claim, submit,
        # record: seconds on a loaded machine) lets a redelivery take it over and submit it twice:
        # the deployment's lease is the lane functions' timeout, which Lambda enforces.
        visibility_timeout_s=20,
        lease_s=10,
        reaper_every_s=3,
        job_deadline_s=120,
        drain_timeout_s=120.0,
        keep_logs=False,
    )
    result = run(params, log=lambda line: None)

    # A worker killed between a provider's answer to a submit and the store write that keeps its
    # handle leaves a job that was submitted but looks unsubmitted: its redelivery submits it again.
    # Until submits carry an intent the webhook can adopt (docs/operations.md, "Known limits"),
    # that is at most one more call for each job the killed invocation was submitting at once.
    duplicated = result["duplicates"]
    assert all(calls == 2 for calls in duplicated.values()), duplicated
    assert len(duplicated) <= MAX_PARALLEL, duplicated
    failed = {check for check, ok in verdict(result).items() if not ok} - {"zero duplicate provider calls"}
    assert not failed, {k: result[k] for k in ("lost_detail", "duplicates", "dlq_depths", "double_charged")}
    assert [c["name"] for c in result["crashes"]] == ["lane-free-1"]  # killed, and running again
    assert result["accepted"] >= 150  # quota refusals aside, the burst was served
    assert result["status_counts"].get(500, 0) == 0
    assert result["provider_calls"] == result["distinct_requests"] + len(duplicated)
    assert result["distinct_requests"] > 0
    assert result["leftover_processes"] == []
