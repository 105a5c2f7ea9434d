"""SQS lane workers: one Lambda per lane (enterprise, premium, free, batch), each reading its own
queue with its own reserved concurrency (a premium spike cannot take enterprise's).

Queue NAMES (Chalice needs them when the app is imported, to build the event source mappings):

- ``AVATARFLOW_QUEUE_NAME_ENTERPRISE``, default ``avatarflow-<stage>-enterprise``
- ``AVATARFLOW_QUEUE_NAME_PREMIUM``, default ``avatarflow-<stage>-premium``
- ``AVATARFLOW_QUEUE_NAME_FREE``, default ``avatarflow-<stage>-free``
- ``AVATARFLOW_QUEUE_NAME_BATCH``, default ``avatarflow-<stage>-batch``

where ``<stage>`` is ``AVATARFLOW_STAGE``. The API sends to the same queues by URL
(``AVATARFLOW_QUEUE_URL_*``). The infra template creates each queue with a DLQ (redrive
``maxReceiveCount`` at least ``AVATARFLOW_LANE_MAX_RECEIVES``), a visibility timeout above the
worker's timeout, and turns on ``ReportBatchItemFailures`` on the event source mappings (Chalice
cannot): each handler answers ``{"batchItemFailures": [{"itemIdentifier": messageId}]}`` for the
records to redeliver, and only those.

Redelivery is harmless: the job's claim (``claim.lua``) lets one worker hold it, so a message
delivered twice calls the provider once and charges once. A job whose provider keeps failing is
released and redelivered until its N-th receive (``ApproximateReceiveCount``), where the worker
fails it (refunded) instead: it ends ``failed`` before the DLQ; the DLQ (and the reaper, for a
job whose worker never got that far) is the backstop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.bootstrap import get_container
from chalicelib.observability.logs import log_context

__all__ = ["handle_records", "lane_queue_name", "lanes"]

log = logging.getLogger(__name__)

lanes = Blueprint(__name__)

BATCH_SIZES = {"enterprise": 5, "premium": 5, "free": 10, "batch": 10}
MAX_PARALLEL = 4  # records of one batch processed side by side (each may wait on a provider)


def lane_queue_name(lane: str, env: Mapping[str, str] | None = None) -> str:
    """The SQS queue name of a lane, from the environment (read at import time)."""
    env = os.environ if env is None else env
    stage = env.get("AVATARFLOW_STAGE", "local") or "local"
    return env.get(f"AVATARFLOW_QUEUE_NAME_{lane.upper()}") or f"avatarflow-{stage}-{lane}"


def _handle_one(raw: Mapping[str, Any]) -> bool:
    """True if the record is done (delete it), False if it should be redelivered."""
    from chalicelib.adapters.queue.sqs import parse_message  # lazy: not on the API's cold start

    try:
        job_id, _lane, kind = parse_message(str(raw.get("body", "")))
    except ValueError:
        # Not one of ours: let it go to the DLQ for a human to look at.
        log.error("malformed lane message", extra={"message_id": raw.get("messageId")})
        return False
    attributes = raw.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        receive_count = 1
    with log_context(job_id=job_id):
        try:
            return get_container().generation.lanes.handle(job_id, kind, receive_count) == "done"
        except Exception:
            log.exception("lane message failed", extra={"job_id": job_id, "receive_count": receive_count})
            return False


def handle_records(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Process a batch of lane messages; report the ones to redeliver (partial batch failure)."""
    records = [record.to_dict() for record in event]
    if len(records) <= 1:
        outcomes = [_handle_one(raw) for raw in records]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(records))) as pool:
            outcomes = list(pool.map(_handle_one, records))
    failures = [
        {"itemIdentifier": str(raw.get("messageId", ""))}
        for raw, done in zip(records, outcomes, strict=True)
        if not done
    ]
    return {"batchItemFailures": failures}


@lanes.on_sqs_message(
    queue=lane_queue_name("enterprise"), batch_size=BATCH_SIZES["enterprise"], name="lane_enterprise"
)
def lane_enterprise(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    return handle_records(event)


@lanes.on_sqs_message(
    queue=lane_queue_name("premium"), batch_size=BATCH_SIZES["premium"], name="lane_premium"
)
def lane_premium(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    return handle_records(event)


@lanes.on_sqs_message(queue=lane_queue_name("free"), batch_size=BATCH_SIZES["free"], name="lane_free")
def lane_free(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    return handle_records(event)


@lanes.on_sqs_message(queue=lane_queue_name("batch"), batch_size=BATCH_SIZES["batch"], name="lane_batch")
def lane_batch(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    return handle_records(event)
