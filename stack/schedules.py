"""The stack's EventBridge: each scheduled function of the app on a timer.

``python -m stack.schedules --schedules '[...]' [--every reaper=10]`` invokes each schedule's
registered handler (``chalicelib.workers.reaper.reap``, ...) at its declared ``rate(...)`` (or the
``--every`` override, in seconds) with EventBridge's scheduled event and a Lambda context with the
function's timeout. A run that is still going when the next is due is skipped, as the functions'
reserved concurrency of 1 makes EventBridge's invocation wait. Prints ``STACK-READY {"pid"}``.

``--at-start gallery_refresh`` runs that function once before this process is ready (the stack
seeds its gallery so, as a deployment's first scheduled run does), then on its rate as the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import uuid
from typing import Any

from stack.lane_worker import load_handler
from stack.processes import announce_ready

log = logging.getLogger("stack.schedules")
ACCOUNT = "123456789012"


def scheduled_event(function: str, region: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """EventBridge's event for a scheduled rule (the rule named after the function)."""
    now = now or dt.datetime.now(dt.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/avatarflow-{function}"],
        "detail": {},
    }


def invoke(schedule: dict[str, Any]) -> Any:
    """One run of a scheduled function, as EventBridge invokes it; None if it raised (logged)."""
    from chalice.local import LambdaContext

    handler = load_handler(schedule["handler"])
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    context = LambdaContext(
        schedule["function"], 1024, max_runtime_ms=int(schedule["lambda_timeout_s"]) * 1000
    )
    try:
        result = handler(scheduled_event(schedule["function"], region), context)
    except Exception:
        log.exception("scheduled function failed", extra={"function": schedule["function"]})
        return None
    log.info("schedule ran", extra={"function": schedule["function"], "result": result})
    return result


def run_schedule(schedule: dict[str, Any], every_s: float, first_s: float, stop: threading.Event) -> None:
    wait = first_s
    while not stop.wait(wait):
        invoke(schedule)
        wait = every_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.schedules", description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", required=True, help="the schedules, as JSON")
    parser.add_argument("--every", action="append", default=[], help="FUNCTION=SECONDS (override)")
    parser.add_argument("--first", type=float, default=None, help="seconds until each first run")
    parser.add_argument("--at-start", action="append", default=[], help="FUNCTION: run once before ready")
    args = parser.parse_args(argv)
    overrides = {name: float(value) for name, _, value in (e.partition("=") for e in args.every)}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    schedules = json.loads(args.schedules)
    for schedule in schedules:
        if schedule["function"] in args.at_start:
            print(f"{schedule['function']} at start: {invoke(schedule)}", flush=True)
    threads = []
    for schedule in schedules:
        every = overrides.get(schedule["function"], float(schedule["rate_s"]))
        first = every if args.first is None else args.first
        thread = threading.Thread(
            target=run_schedule, args=(schedule, every, first, stop), name=schedule["function"], daemon=True
        )
        thread.start()
        threads.append(thread)
    announce_ready(pid=os.getpid())
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
