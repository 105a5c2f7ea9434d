"""`make stack` in small: the production topology on one machine survives a crashed lane worker.

Two API processes behind the round-robin front, one lane worker per lane, the production adapters
over their wire protocols (Upstash REST + redis-server, SQS + S3 on moto's server, fal and
Replicate stand-ins with webhooks); 200 generation requests from 40 identities, and the free lane's
worker killed with SIGKILL during the burst (the supervisor starts it again). The checks are the
spike's (bench/stack_spike.py); the timings are scaled down (visibility timeout 20 s, job lease 10 s)
so that the killed worker's batch comes back within the test. Stopping the stack leaves no process.
Zero duplicate provider calls, even for a job the killed worker was submitting: the submit's intent
is on record before the call, so its webhook adopts the provider's job whose handle was never
written, and its redelivery waits for that webhook for the provider's usual time.
"""

from __future__ import annotations

import pytest

from bench.stack_spike import SpikeParams, run
from bench.stack_spike_report import verdict

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

    failed = {check for check, ok in verdict(result).items() if not ok}
    assert not failed, {k: result[k] for k in ("lost_detail", "duplicates", "dlq_depths", "double_charged")}
    assert result["duplicates"] == {}  # zero duplicate provider calls, the killed worker's jobs included
    assert [c["name"] for c in result["crashes"]] == ["lane-free-1"]  # killed, and running again
    assert result["accepted"] >= 150  # quota refusals aside, the burst was served
    assert result["status_counts"].get(500, 0) == 0
    assert result["provider_calls"] == result["distinct_requests"]
    assert result["distinct_requests"] > 0
    assert result["leftover_processes"] == []
