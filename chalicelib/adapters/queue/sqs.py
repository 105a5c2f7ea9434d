"""The production job queue: one SQS queue per lane (premium, free, batch), each with its DLQ.

A message names the job, nothing more: ``{"job": "<generation id>", "lane": "<lane>"}`` (plus
``"kind": "callback"`` for a client callback to retry). The job itself lives in the state store,
so a message delivered twice finds the job claimed or ended (see ``claim.lua``) and does nothing
twice. The lane workers are ``chalicelib/workers/lanes.py``; the queues, their DLQs (redrive
``maxReceiveCount``) and ``ReportBatchItemFailures`` on the event source mappings come from the
infra template.

boto3 is imported lazily (cold start) and the client has explicit timeouts and a bounded number
of retries: a stuck SQS endpoint must not hold a request for the SDK's default minute.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.aws import LazyAwsClient
from chalicelib.domain.tiers import LANES
from chalicelib.ports import MessageKind, QueueError

log = logging.getLogger(__name__)

DEFAULT_DEPTH_TTL_S = 5.0
MAX_DELAY_S = 900  # SQS's limit for DelaySeconds
_REGION_IN_URL = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/", re.IGNORECASE)


def region_of(queue_url: str) -> str | None:
    """The AWS region named in an SQS queue URL (``https://sqs.<region>.amazonaws.com/...``)."""
    match = _REGION_IN_URL.match(queue_url)
    return match.group(1) if match else None


def message_body(generation_id: str, lane: str, kind: str = "job") -> str:
    body = {"job": generation_id, "lane": lane}
    if kind != "job":
        body["kind"] = kind
    return json.dumps(body, separators=(",", ":"))


def parse_message(body: str) -> tuple[str, str, MessageKind]:
    """(job id, lane, kind) of a lane message; ``ValueError`` if it is not one of ours."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("the message body is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("the message body is not an object")
    job, lane, kind = doc.get("job"), doc.get("lane", "free"), doc.get("kind", "job")
    if not (isinstance(job, str) and job.startswith("gen_") and len(job) <= 64):
        raise ValueError("the message names no job")
    if not isinstance(lane, str) or kind not in ("job", "callback"):
        raise ValueError("the message has a malformed lane or kind")
    return job, lane, kind


class SqsQueue:
    """:class:`chalicelib.ports.JobQueue` on SQS, one queue URL per lane.

    ``depth(lane)`` reads ``ApproximateNumberOfMessages`` and keeps it for ``depth_ttl`` seconds
    (the sync-or-async decision asks on every request; SQS bills every call). A failed read
    answers the last known value (0 if none): depth is a hint, never a reason to fail a request.
    """

    durable = True  # messages survive this process: the sync path may hand a running job over

    def __init__(
        self,
        queue_urls: Mapping[str, str],
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        max_attempts: int = 3,
        depth_ttl: float = DEFAULT_DEPTH_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = [lane for lane in LANES if not queue_urls.get(lane)]
        if missing:
            raise ValueError(f"SQS lanes need a queue URL each; missing: {', '.join(missing)}")
        self._urls = dict(queue_urls)
        self._aws = LazyAwsClient(
            "sqs",
            region=region_name or region_of(self._urls[LANES[0]]),
            endpoint_url=endpoint_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            client=client,
        )
        self._depth_ttl = depth_ttl
        self._clock = clock
        self._depths: dict[str, tuple[float, int]] = {}

    def __repr__(self) -> str:
        return f"SqsQueue(lanes={sorted(self._urls)!r})"

    @property
    def client(self) -> Any:
        return self._aws.get()

    def url_for(self, lane: str) -> str:
        url = self._urls.get(lane)
        if url is None:
            raise QueueError(f"no SQS queue for lane {lane!r}")
        return url

    def enqueue(self, generation_id: str, lane: str, kind: MessageKind = "job") -> None:
        self.send(generation_id, lane, kind=kind)

    def send(
        self, generation_id: str, lane: str, *, kind: MessageKind = "job", delay_seconds: int = 0
    ) -> None:
        """Send one message; ``delay_seconds`` (0..900) holds it back (retries with backoff)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.send_message(
                QueueUrl=self.url_for(lane),
                MessageBody=message_body(generation_id, lane, kind),
                DelaySeconds=max(0, min(MAX_DELAY_S, int(delay_seconds))),
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"SQS send to the {lane} lane failed: {type(exc).__name__}") from None

    def position(self, generation_id: str, lane: str) -> int | None:
        """SQS tells no message's place: the lane's approximate depth stands for it (None if empty)."""
        depth = self.depth(lane)
        return depth if depth > 0 else None

    def depth(self, lane: str) -> int:
        now = self._clock()
        cached = self._depths.get(lane)
        if cached is not None and now - cached[0] < self._depth_ttl:
            return cached[1]
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_queue_attributes(
                QueueUrl=self.url_for(lane), AttributeNames=["ApproximateNumberOfMessages"]
            )
            depth = int(reply.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
        except (BotoCoreError, ClientError, QueueError, ValueError, TypeError):
            log.warning("SQS depth of the %s lane unreadable", lane, exc_info=True)
            depth = cached[1] if cached is not None else 0
        self._depths[lane] = (now, depth)
        return depth
