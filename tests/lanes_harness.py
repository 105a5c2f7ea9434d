"""SQS lanes on moto, and an emulation of Lambda's SQS event source mapping for the lane handlers.

Each lane queue has a DLQ (redrive ``maxReceiveCount``) and a visibility timeout of 0, so that a
message left undeleted (a partial batch failure) can be received again at once. ``deliver``
receives real messages, builds the Lambda event from them itself (every record with its OWN
``messageId`` and its real ``ApproximateReceiveCount``: Chalice's test event generator reuses one
id), invokes the lane handler through ``chalice.test.Client`` (the event is the stack's,
``stack/lane_worker.py``) and deletes exactly the records the
handler did not report in ``batchItemFailures``, as ``ReportBatchItemFailures`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from stack.lane_worker import sqs_event

REGION = "us-east-1"
LANES = ("enterprise", "premium", "free", "batch")


@dataclass
class SqsLanes:
    sqs: Any
    urls: dict[str, str]
    dlqs: dict[str, str]
    arns: dict[str, str]

    def settings(self) -> dict[str, str]:
        return {f"queue_url_{lane}": url for lane, url in self.urls.items()}

    def receive(self, lane: str, *, dlq: bool = False) -> list[dict[str, Any]]:
        reply = self.sqs.receive_message(
            QueueUrl=(self.dlqs if dlq else self.urls)[lane],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return list(reply.get("Messages", []))

    def depth(self, lane: str, *, dlq: bool = False) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=(self.dlqs if dlq else self.urls)[lane],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def event(self, lane: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return sqs_event(messages, self.arns[lane], REGION)

    def deliver(
        self, client: Any, lane: str, messages: list[dict[str, Any]] | None = None
    ) -> tuple[set[str], list[dict[str, Any]]]:
        """One invocation of the lane's handler; returns (failed message ids, messages)."""
        batch = self.receive(lane) if messages is None else messages
        if not batch:
            return set(), []
        payload = client.lambda_.invoke(f"lane_{lane}", self.event(lane, batch)).payload
        failed = {item["itemIdentifier"] for item in payload["batchItemFailures"]}
        assert failed <= {m["MessageId"] for m in batch}, payload
        for message in batch:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.urls[lane], ReceiptHandle=message["ReceiptHandle"])
        return failed, batch

    def drain(self, client: Any, lane: str, rounds: int = 10) -> int:
        """Deliver until the lane is empty; returns the number of invocations."""
        for n in range(rounds):
            _, batch = self.deliver(client, lane)
            if not batch:
                return n
        return rounds


def bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages]


@contextmanager
def sqs_lanes(monkeypatch: pytest.MonkeyPatch, *, max_receive_count: int = 3) -> Iterator[SqsLanes]:
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        urls, dlqs, arns = {}, {}, {}
        for lane in LANES:
            dlq = sqs.create_queue(QueueName=f"avatarflow-test-{lane}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            url = sqs.create_queue(
                QueueName=f"avatarflow-test-{lane}",
                Attributes={
                    "VisibilityTimeout": "0",
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
                    ),
                },
            )["QueueUrl"]
            urls[lane], dlqs[lane] = url, dlq
            arns[lane] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        yield SqsLanes(sqs, urls, dlqs, arns)
