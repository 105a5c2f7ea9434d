"""One lane worker of the stack: what Lambda's SQS event source mapping does for a lane function.

``python -m stack.lane_worker --lane '{...}'`` (a lane of ``stack/declarations.py`` with its queue
``url`` and ``arn``) long-polls the queue, gathers up to the declared batch size within the declared
batching window, invokes the lane's registered handler (``chalicelib.workers.lanes.lane_<lane>``)
with Lambda's event (``Records[]`` with ``messageId``, ``receiptHandle``, ``body``,
``attributes.ApproximateReceiveCount``, ``md5OfBody``, ``eventSource``, ``eventSourceARN``,
``awsRegion``) and a Lambda context (the function's timeout, enforced: past it the process exits,
as Lambda ends a timed-out container), then, as ``ReportBatchItemFailures``
does: deletes every record not named in ``batchItemFailures``; leaves the whole batch when the
handler raises or names a record that was not in the batch. What is left comes back after the
queue's visibility timeout, with its receive count one higher, until the redrive policy moves it
to the DLQ.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from stack.processes import announce_ready

log = logging.getLogger("stack.lane_worker")

LONG_POLL_S = 20  # the event source mapping's long poll
MAX_RECEIVE = 10  # SQS's limit per ReceiveMessage


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for received ``messages`` (each record with its own ``messageId``)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": dict(m.get("MessageAttributes", {})),
                "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def records_to_delete(messages: Sequence[dict[str, Any]], response: Any) -> list[dict[str, Any]]:
    """The messages that ``ReportBatchItemFailures`` deletes after the handler answered ``response``:
    all but the failures it names; none if it names an id not in the batch (Lambda then fails
    the whole batch)."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return list(messages)  # no failures reported: the batch succeeded
    failures = response["batchItemFailures"]
    ids = {m["MessageId"] for m in messages}
    failed = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
    if not failed <= ids or None in failed or "" in failed:
        return []
    return [m for m in messages if m["MessageId"] not in failed]


def load_handler(handler: str) -> Callable[[dict[str, Any], Any], Any]:
    """The function Lambda would load for a handler string (``module.attribute``)."""
    module, _, name = handler.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _timed_out(function: str) -> None:
    sys.stderr.write(f"{function}: Task timed out (the function's timeout); the container ends\n")
    sys.stderr.flush()
    os._exit(124)


class LaneWorker:
    """The poll-invoke-delete loop for one lane queue."""

    def __init__(self, lane: dict[str, Any], sqs: Any, region: str) -> None:
        self.lane = lane
        self.sqs = sqs
        self.region = region
        self.handler = load_handler(lane["handler"])
        self.busy = False

    def receive(self) -> list[dict[str, Any]]:
        """A batch as the mapping gathers it: up to the batch size within the batching window."""
        size = int(self.lane["batch_size"])
        window = float(self.lane["batch_window_s"])
        deadline = time.monotonic() + window
        batch: list[dict[str, Any]] = []
        wait = LONG_POLL_S
        while len(batch) < size:
            reply = self.sqs.receive_message(
                QueueUrl=self.lane["url"],
                MaxNumberOfMessages=min(MAX_RECEIVE, size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch.extend(reply.get("Messages", []))
            left = deadline - time.monotonic()
            if not batch or left <= 0:
                break
            wait = max(0, min(LONG_POLL_S, int(left)))
        return batch

    def invoke(self, batch: list[dict[str, Any]]) -> tuple[int, int]:
        """One invocation; returns (deleted, left for redelivery)."""
        from chalice.local import LambdaContext

        context = LambdaContext(
            self.lane["function"], 1024, max_runtime_ms=int(self.lane["lambda_timeout_s"]) * 1000
        )
        context.aws_request_id = str(uuid.uuid4())
        # Lambda ends an invocation at the function's timeout, container and all: the batch comes
        # back after the visibility timeout (and the supervisor starts a new worker).
        watchdog = threading.Timer(
            float(self.lane["lambda_timeout_s"]), _timed_out, args=(self.lane["function"],)
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            response = self.handler(sqs_event(batch, self.lane["arn"], self.region), context)
        except Exception:
            log.exception("lane handler failed: the whole batch is left for redelivery")
            return 0, len(batch)
        finally:
            watchdog.cancel()
        done = records_to_delete(batch, response)
        for start in range(0, len(done), MAX_RECEIVE):
            chunk = done[start : start + MAX_RECEIVE]
            self.sqs.delete_message_batch(
                QueueUrl=self.lane["url"],
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        # Lambda's REPORT line of an invocation, with the batch's outcome (the worker's log).
        print(
            f"REPORT RequestId: {context.aws_request_id} Records: {len(batch)} Deleted: {len(done)}",
            flush=True,
        )
        return len(done), len(batch) - len(done)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                batch = self.receive()
            except Exception:
                log.exception("receive failed")
                stop.wait(1.0)
                continue
            if batch:
                self.busy = True
                try:
                    self.invoke(batch)
                finally:
                    self.busy = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.lane_worker", description=__doc__.split("\n")[0])
    parser.add_argument("--lane", required=True, help="the lane, as JSON (declarations + url + arn)")
    args = parser.parse_args(argv)
    lane = json.loads(args.lane)
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    sqs = boto3.client(
        "sqs",
        region_name=region,
        config=Config(read_timeout=LONG_POLL_S + 10, retries={"total_max_attempts": 3, "mode": "standard"}),
    )  # the endpoint: AWS_ENDPOINT_URL_SQS, set by the supervisor
    worker = LaneWorker(lane, sqs, region)
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()
        if not worker.busy:
            raise SystemExit(0)  # idle in a long poll: nothing in flight

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    announce_ready(lane=lane["lane"], pid=os.getpid())
    with contextlib.suppress(SystemExit):  # raised by the signal handler while idle
        worker.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
