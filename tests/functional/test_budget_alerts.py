"""Budget alerts: 50 / 80 / 100 % of the daily and monthly budget, once each, signed or via SNS."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from chalicelib.adapters.outbound.alerts import SnsChannel, WebhookChannel, check_alert_url
from chalicelib.bootstrap import SystemClock
from chalicelib.domain.budget import Budget
from chalicelib.domain.periods import period_ids, spend_keys
from chalicelib.domain.webhook_signatures import verify_standard_webhook
from chalicelib.services.operations.budget_alerts import BudgetAlerts
from tests.conftest import auth
from tests.fakes import RecordingProvider
from tests.ops_support import operated_app

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
URL = "https://alerts.example/budget"


class Receiver:
    """A webhook receiver behind httpx.MockTransport, answering from a script of statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 204)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def fired(self) -> list[tuple[str, int]]:
        return [(p["data"]["period"], p["data"]["threshold_percent"]) for p in self.payloads()]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def alerts_for(store: Any, receiver: Receiver, sleeps: Sleeps | None = None, **budget: float) -> BudgetAlerts:
    channel = WebhookChannel(
        URL, SECRET, transport=httpx.MockTransport(receiver), sleep=sleeps if sleeps is not None else Sleeps()
    )
    return BudgetAlerts(
        counters=store.counters,
        kv=store.kv,
        budget=Budget(**budget) if budget else Budget(),
        channels=[channel],
        clock=SystemClock(),
    )


def spend(store: Any, day: float | None = None, month: float | None = None) -> None:
    day_key, month_key = spend_keys(time.time())
    if day is not None:
        store.kv.set(day_key, repr(day))
    if month is not None:
        store.kv.set(month_key, repr(month))


def test_each_threshold_fires_once_per_period(store: Any) -> None:
    receiver = Receiver()
    alerts = alerts_for(store, receiver)
    spend(store, day=12.0, month=10.0)  # 48 % of 25: nothing yet
    assert alerts.check() == []
    spend(store, day=12.5)  # exactly 50 %
    assert [(a.period, a.threshold) for a in alerts.check()] == [("day", 50)]
    assert alerts.check() == []  # once
    spend(store, day=20.0)
    alerts.check()
    spend(store, day=26.0)
    alerts.check()
    alerts.check()
    assert receiver.fired() == [("day", 50), ("day", 80), ("day", 100)]
    spend(store, month=460.0)  # 92 %: 50 and 80 at once, each once
    alerts.check()
    alerts.check()
    assert receiver.fired()[3:] == [("month", 50), ("month", 80)]
    # another checker (another Lambda) sharing the store sends nothing twice
    assert alerts_for(store, receiver).check() == []
    assert len(receiver.requests) == 5


def test_no_alert_below_half_the_budget(store: Any) -> None:
    receiver = Receiver()
    spend(store, day=12.49, month=249.0)
    assert alerts_for(store, receiver).check() == []
    assert receiver.requests == []


def test_the_webhook_is_signed_per_standard_webhooks(store: Any) -> None:
    receiver = Receiver()
    spend(store, day=21.0)
    alerts_for(store, receiver).check()
    first, second = receiver.requests
    for request in receiver.requests:
        msg_id = verify_standard_webhook(SECRET, dict(request.headers), request.content)
        assert msg_id == request.headers["webhook-id"]
        assert request.headers["webhook-signature"].startswith("v1,")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert request.headers["content-type"] == "application/json"
    assert first.headers["webhook-id"] != second.headers["webhook-id"]
    payload = json.loads(second.content)
    day_id, _ = period_ids(time.time())
    assert payload["type"] == "budget.threshold_reached"
    assert payload["data"] == {
        "period": "day",
        "period_id": day_id,
        "threshold_percent": 80,
        "state": "warning",
        "spent_usd": 21.0,
        "budget_usd": 25.0,
    }
    tampered = dict(second.headers)
    with pytest.raises(Exception, match="no signature matches"):
        verify_standard_webhook(SECRET, tampered, second.content.replace(b"80", b"81"))


def test_retries_with_backoff_then_gives_up_and_tries_again_later(store: Any) -> None:
    receiver = Receiver([503, 502])
    sleeps = Sleeps()
    spend(store, day=13.0)
    assert len(alerts_for(store, receiver, sleeps).check()) == 1
    assert len(receiver.requests) == 3 and sleeps == [0.5, 1.0]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # the receiver can deduplicate

    down = Receiver([500, 500, 500])
    spend(store, month=300.0)
    assert alerts_for(store, down).check() == []  # every attempt failed: not marked as sent
    assert len(down.requests) == 3
    _, month_id = period_ids(time.time())
    assert (
        0
        < int(store.keyspace.client.command("TTL", store.keyspace.key(f"alert:budget:month:{month_id}:50")))
        <= 300
    )
    store.kv.delete(f"alert:budget:month:{month_id}:50")  # the retry marker runs out
    assert [a.threshold for a in alerts_for(store, Receiver()).check()] == [50]


def test_a_refusing_receiver_is_not_retried(store: Any) -> None:
    receiver = Receiver([400])
    spend(store, day=13.0)
    assert alerts_for(store, receiver).check() == []
    assert len(receiver.requests) == 1


def test_https_only_except_loopback() -> None:
    check_alert_url("https://alerts.example/x")
    check_alert_url("http://127.0.0.1:8080/x")
    check_alert_url("http://localhost/x")
    check_alert_url("http://[::1]:9/x")
    for bad in (
        "http://alerts.example/x",
        "ftp://a/b",
        "https://user:pw@alerts.example/x",
        "not a url",
        "http://10.0.0.1/",
    ):
        with pytest.raises(ValueError):
            check_alert_url(bad)
    with pytest.raises(ValueError):
        WebhookChannel(URL, "not base64 !")


def test_misconfigured_channels_are_left_out_loudly(tmp_path: Path, store: Any) -> None:
    from chalicelib.bootstrap.operations import build_alert_channels
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, budget_alert_url="http://alerts.example/x", budget_alert_secret=SECRET)
    alerts_log = logging.getLogger("avatarflow.alerts")
    records: list[logging.LogRecord] = []
    handler = _ListHandler(records)
    alerts_log.addHandler(handler)
    try:
        assert [c.name for c in build_alert_channels(settings)] == []
        no_secret = make_settings(tmp_path, budget_alert_url=URL)
        assert [c.name for c in build_alert_channels(no_secret)] == []
        good = make_settings(tmp_path, budget_alert_url=URL, budget_alert_secret=SECRET)
        assert [c.name for c in build_alert_channels(good)] == ["webhook"]
    finally:
        alerts_log.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert any("https" in m for m in messages) and any("SECRET" in m for m in messages)
    assert not any(SECRET in m for m in messages)


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# -- end to end: the app, a local receiver, a costly job, the hourly schedule -------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def local_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/budget", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_costly_job_triggers_the_check_and_the_schedule_catches_up(
    tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider, local_receiver: Any
) -> None:
    url, received = local_receiver
    settings = {
        "budget_alert_url": url,
        "budget_alert_secret": SECRET,
        "daily_budget_usd": 0.01,
        "monthly_budget_usd": 1000.0,
    }
    with operated_app(tmp_path, store, objects, provider, **settings) as (client, container):
        provider.cost_usd = 0.006  # 60 % of the daily budget
        made = client.http.post(
            "/v1/generations",
            headers=auth("spender", "premium"),
            body=json.dumps({"style": "flat", "variation": 5}),
        )
        assert made.status_code == 200
        assert (
            container.operations.budget_alerts is not None and container.operations.budget_alerts.wait_idle()
        )
        assert len(received) == 1
        headers, body = received[0]
        verify_standard_webhook(SECRET, headers, body)
        assert json.loads(body)["data"]["threshold_percent"] == 50
        # spend that no job reported (e.g. a Lambda frozen before its check): the schedule sends it
        spend(store, day=0.02)
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        result = client.lambda_.invoke("budget_check", event)
        assert result.payload == {
            "fired": [{"period": "day", "threshold_percent": 80}, {"period": "day", "threshold_percent": 100}]
        }
        assert [json.loads(b)["data"]["threshold_percent"] for _, b in received] == [50, 80, 100]
        assert client.lambda_.invoke("budget_check", event).payload == {"fired": []}


def test_sns_topic_under_moto(store: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from moto import mock_aws

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        sns = boto3.client("sns", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        topic = sns.create_topic(Name="avatarflow-budget")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="budget-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        alerts = BudgetAlerts(
            counters=store.counters,
            kv=store.kv,
            budget=Budget(),
            channels=[SnsChannel(topic)],
            clock=SystemClock(),
        )
        spend(store, day=20.0)
        assert [a.threshold for a in alerts.check()] == [50, 80]
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        notes = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
        assert sorted(n["data"]["threshold_percent"] for n in notes) == [50, 80]
        assert {json.loads(m["Body"])["Subject"] for m in messages} == {
            "avatarflow: 50% of the daily budget reached",
            "avatarflow: 80% of the daily budget reached",
        }
    with pytest.raises(ValueError):
        SnsChannel("arn:aws:sqs:eu-west-1:123:not-a-topic")
