"""The SQS lanes adapter against moto: one queue per lane, typed errors, a cached depth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.queue.sqs import SqsQueue, parse_message, region_of
from chalicelib.ports import QueueError

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def urls(sqs: Any) -> dict[str, str]:
    return {
        lane: sqs.create_queue(QueueName=f"avatarflow-test-{lane}")["QueueUrl"]
        for lane in ("enterprise", "premium", "free", "batch")
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def test_each_lane_has_its_own_queue_and_the_message_names_the_job(sqs: Any, urls: dict[str, str]) -> None:
    queue = SqsQueue(urls)
    queue.enqueue("gen_premium1", "premium")
    queue.enqueue("gen_batch1", "batch")
    premium = receive(sqs, urls["premium"])
    assert [json.loads(m["Body"]) for m in premium] == [{"job": "gen_premium1", "lane": "premium"}]
    assert parse_message(premium[0]["Body"]) == ("gen_premium1", "premium", "job")
    assert [parse_message(m["Body"])[0] for m in receive(sqs, urls["batch"])] == ["gen_batch1"]
    assert receive(sqs, urls["free"]) == []


def test_a_callback_message_carries_its_kind(sqs: Any, urls: dict[str, str]) -> None:
    SqsQueue(urls).send("gen_cb1", "batch", kind="callback", delay_seconds=0)
    (message,) = receive(sqs, urls["batch"])
    assert parse_message(message["Body"]) == ("gen_cb1", "batch", "callback")


def test_depth_is_read_from_sqs_and_cached_for_a_few_seconds(urls: dict[str, str]) -> None:
    clock = Clock()
    queue = SqsQueue(urls, depth_ttl=5.0, clock=clock)
    assert queue.depth("free") == 0
    queue.enqueue("gen_a", "free")
    queue.enqueue("gen_b", "free")
    assert queue.depth("free") == 0  # still the cached answer
    clock.now += 6
    assert queue.depth("free") == 2
    assert queue.depth("premium") == 0


def test_a_failed_send_is_a_typed_error_and_a_failed_depth_read_is_the_last_value(
    sqs: Any, urls: dict[str, str]
) -> None:
    clock = Clock()
    queue = SqsQueue(urls, clock=clock)
    queue.enqueue("gen_a", "premium")
    clock.now += 10
    assert queue.depth("premium") == 1
    sqs.delete_queue(QueueUrl=urls["premium"])
    with pytest.raises(QueueError):
        queue.enqueue("gen_b", "premium")
    clock.now += 10
    assert queue.depth("premium") == 1  # a hint, never a reason to fail a request
    with pytest.raises(QueueError):
        queue.enqueue("gen_c", "nowhere")


def test_the_client_has_explicit_timeouts_and_bounded_retries(urls: dict[str, str]) -> None:
    queue = SqsQueue(urls, connect_timeout=1.5, read_timeout=4.0, max_attempts=2)
    config = queue.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 4.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}  # the first call included
    assert queue.client.meta.region_name == REGION


def test_every_lane_needs_a_url_and_the_region_comes_from_it() -> None:
    with pytest.raises(ValueError, match="batch"):
        SqsQueue({"premium": "https://sqs.eu-west-1.amazonaws.com/1/p", "free": "https://x/f"})
    assert region_of("https://sqs.eu-west-1.amazonaws.com/123456789012/avatarflow-prod-free") == "eu-west-1"
    assert region_of("http://localhost:4566/000000000000/q") is None


@pytest.mark.parametrize(
    "body", ["", "not json", "[]", '{"lane": "free"}', '{"job": "nope"}', '{"job": "gen_' + "x" * 80 + '"}']
)
def test_a_message_that_is_not_ours_is_refused(body: str) -> None:
    with pytest.raises(ValueError):
        parse_message(body)
