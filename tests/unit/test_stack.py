"""The stack's pieces that need no process: what it reads from infra/, and the event source
mapping's rules (tests/e2e/test_stack.py runs the whole topology)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.tiers import LANES
from chalicelib.workers.lanes import BATCH_SIZES
from stack import declarations
from stack.lane_worker import records_to_delete, sqs_event
from stack.schedules import scheduled_event


def test_the_lanes_and_schedules_are_read_from_the_template_and_the_app() -> None:
    read = declarations.read_declarations("dev")
    template = declarations.load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {lane.lane for lane in read.lanes} == set(LANES)
    for lane in read.lanes:
        queue = template["Resources"][variables[lane.url_env]["Ref"]]["Properties"]
        assert lane.visibility_timeout_s == queue["VisibilityTimeout"]
        assert lane.max_receive_count == queue["RedrivePolicy"]["maxReceiveCount"]
        assert lane.url_env == f"AVATARFLOW_QUEUE_URL_{lane.lane.upper()}"
        assert (lane.queue_name, lane.dlq_name) == (
            f"avatarflow-dev-{lane.lane}",
            f"avatarflow-dev-{lane.lane}-dlq",
        )
        assert lane.visibility_timeout_s > lane.lambda_timeout_s  # the template's rule (6x)
        assert lane.batch_size == BATCH_SIZES[lane.lane]
        assert lane.handler == f"chalicelib.workers.lanes.lane_{lane.lane}"
    assert read.lane_max_receives == 5
    assert {s.function: s.rate_s for s in read.schedules} == {
        "reaper": 120,
        "gallery_refresh": 86400,
        "budget_check": 3600,
    }
    assert read.bucket == "avatarflow-dev-images"


def test_a_lane_declared_in_the_template_is_one_the_stack_must_run(monkeypatch: pytest.MonkeyPatch) -> None:
    template = declarations.load_template()
    extended: dict[str, Any] = copy.deepcopy(template)
    extended["Globals"]["Function"]["Environment"]["Variables"]["AVATARFLOW_QUEUE_URL_EXTRA"] = {
        "Ref": "ExtraQueue"
    }
    extended["Resources"]["ExtraQueue"] = copy.deepcopy(template["Resources"]["FreeQueue"])
    extended["Resources"]["ExtraQueue"]["Properties"]["QueueName"] = {"Fn::Sub": "avatarflow-${Stage}-extra"}
    monkeypatch.setattr(declarations, "load_template", lambda: extended)
    with pytest.raises(ValueError, match="no SQS handler in the app reads avatarflow-dev-extra"):
        declarations.read_declarations("dev")


def test_the_photo_checks_queue_is_the_template_functions_not_a_lane() -> None:
    """The photo checks' queue is consumed by the template's container function (PhotoChecks): it
    is no lane but one of the template's functions, which the stack runs from its declaration
    (handler, batch size, timeout), with the photos' own bucket the Globals name."""
    template = declarations.load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AVATARFLOW_QUEUE_URL_PHOTOS"] == {"Ref": "PhotoChecksQueue"}
    read = declarations.read_declarations("dev")
    assert "AVATARFLOW_QUEUE_URL_PHOTOS" not in {lane.url_env for lane in read.lanes}
    assert declarations._template_consumer(template["Resources"], "PhotoChecksQueue") == "PhotoChecks"
    assert declarations._template_consumer(template["Resources"], "FreeQueue") is None
    [checks] = read.functions
    function = template["Resources"]["PhotoChecks"]["Properties"]
    queue = template["Resources"]["PhotoChecksQueue"]["Properties"]
    assert (checks.lane, checks.url_env, checks.function) == (
        "photos",
        "AVATARFLOW_QUEUE_URL_PHOTOS",
        "PhotoChecks",
    )
    assert (
        checks.handler == "chalicelib.workers.photo_checks.handler" == function["ImageConfig"]["Command"][0]
    )
    assert (checks.queue_name, checks.dlq_name) == (
        "avatarflow-dev-photo-checks",
        "avatarflow-dev-photo-checks-dlq",
    )
    assert checks.visibility_timeout_s == queue["VisibilityTimeout"] == 360
    assert checks.max_receive_count == queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert checks.lambda_timeout_s == function["Timeout"] == 60
    assert checks.batch_size == 5 and checks.batch_window_s == 0
    assert checks.max_concurrency == template["Mappings"]["PhotoChecksConcurrency"]["dev"]["Functions"]
    assert read.buckets == {"AVATARFLOW_PHOTOS_BUCKET": "avatarflow-dev-photos"}
    assert read.bucket not in read.buckets.values()


def message(n: int) -> dict[str, Any]:
    return {
        "MessageId": f"m{n}",
        "ReceiptHandle": f"r{n}",
        "Body": f'{{"n": {n}}}',
        "Attributes": {"ApproximateReceiveCount": "2"},
    }


def test_the_event_is_lambdas_and_report_batch_item_failures_deletes_the_rest() -> None:
    batch = [message(1), message(2), message(3)]
    event = sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert [r["messageId"] for r in event["Records"]] == ["m1", "m2", "m3"]
    assert event["Records"][0]["attributes"] == {"ApproximateReceiveCount": "2"}
    assert event["Records"][0]["eventSource"] == "aws:sqs"
    assert len(event["Records"][0]["md5OfBody"]) == 32
    assert records_to_delete(batch, {"batchItemFailures": []}) == batch
    assert records_to_delete(batch, None) == batch
    assert records_to_delete(batch, {"batchItemFailures": [{"itemIdentifier": "m2"}]}) == [batch[0], batch[2]]
    # An id that is not in the batch, or an empty one, fails the whole batch (Lambda's rule).
    assert records_to_delete(batch, {"batchItemFailures": [{"itemIdentifier": "m9"}]}) == []
    assert records_to_delete(batch, {"batchItemFailures": [{"itemIdentifier": ""}]}) == []


def test_the_schedules_get_eventbridges_event() -> None:
    event = scheduled_event("reaper", "us-east-1")
    assert (event["detail-type"], event["source"], event["detail"]) == ("Scheduled Event", "aws.events", {})
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/avatarflow-reaper"]
