"""The job queue contract: one suite, run on every JobQueue adapter.

- ``inprocess``: :class:`InProcessQueue`; its consumer side is ``take()``;
- ``sqs``: :class:`SqsQueue` on moto, with the lanes of ``tests/lanes_harness.py`` (fake
  credentials, no network); its consumer side receives from each lane's queue, parses the body
  with :func:`parse_message` and deletes what it took, as the event source mapping does.

Then what only the SQS adapter has to prove: every failure a :class:`QueueError` that carries no
secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.adapters.queue.inprocess import InProcessQueue
from chalicelib.adapters.queue.sqs import DEFAULT_DEPTH_TTL_S, SqsQueue, parse_message
from chalicelib.domain.tiers import LANES
from chalicelib.ports import JobQueue, MessageKind, QueueError
from tests.lanes_harness import SqsLanes, sqs_lanes
from tests.local_server import free_port

Taken = tuple[str, MessageKind]

SECRET_ACCESS_KEY = "sqs-secret-0123456789abcdefDO-NOT-LEAK"
SESSION_TOKEN = "sqs-session-token-0123456789DO-NOT-LEAK"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    name: str
    queue: JobQueue
    take_all: Callable[[], list[Taken]]  # the consumer side: every message waiting, in serving order
    settle: Callable[[], None]  # lets a cached depth expire (SQS reads it every few seconds at most)
    durable: bool
    refuses_unknown_lanes: bool


def take_inprocess(queue: InProcessQueue) -> list[Taken]:
    taken: list[Taken] = []
    while (message := queue.take(timeout=0)) is not None:
        taken.append(message)
    return taken


def take_sqs(lanes: SqsLanes) -> list[Taken]:
    """Receive, lane by lane in priority order; each body must name the lane whose queue holds it."""
    taken: list[Taken] = []
    for lane in LANES:
        while batch := lanes.receive(lane):
            for message in batch:
                generation_id, named_lane, kind = parse_message(message["Body"])
                assert named_lane == lane, (generation_id, named_lane, lane)
                taken.append((generation_id, kind))
                lanes.sqs.delete_message(QueueUrl=lanes.urls[lane], ReceiptHandle=message["ReceiptHandle"])
    return taken


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqsLanes]:
    with sqs_lanes(monkeypatch) as lanes:
        # Distinctive values, to prove that no error message carries them.
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
        yield lanes


@pytest.fixture(params=["inprocess", "sqs"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "inprocess":
        queue = InProcessQueue(threads=1)  # never started: the test is its consumer
        return Backend("inprocess", queue, lambda: take_inprocess(queue), lambda: None, False, False)
    lanes: SqsLanes = request.getfixturevalue("sqs")
    clock = FakeClock()

    def settle() -> None:
        clock.now += DEFAULT_DEPTH_TTL_S

    return Backend("sqs", SqsQueue(lanes.urls, clock=clock), lambda: take_sqs(lanes), settle, True, True)


# --------------------------------------------------------------------------------------------
# The contract, for every adapter
# --------------------------------------------------------------------------------------------


def test_a_message_is_taken_back_with_its_id_and_kind(backend: Backend) -> None:
    backend.queue.enqueue("gen_job0001", "free")
    backend.queue.enqueue("gen_cb00001", "premium", "callback")
    backend.queue.enqueue("gen_job0002", "batch", kind="job")
    taken = backend.take_all()
    assert sorted(taken) == [("gen_cb00001", "callback"), ("gen_job0001", "job"), ("gen_job0002", "job")]
    assert backend.take_all() == []  # each message is taken once


def test_the_same_generation_may_wait_as_a_job_and_as_a_callback(backend: Backend) -> None:
    backend.queue.enqueue("gen_both0001", "premium")
    backend.queue.enqueue("gen_both0001", "premium", "callback")
    assert sorted(backend.take_all()) == [("gen_both0001", "callback"), ("gen_both0001", "job")]


def test_lanes_are_served_premium_before_free_before_batch(backend: Backend) -> None:
    lane_of = {
        "gen_b1": "batch",
        "gen_f1": "free",
        "gen_p1": "premium",
        "gen_f2": "free",
        "gen_p2": "premium",
    }
    for generation_id, lane in lane_of.items():
        backend.queue.enqueue(generation_id, lane)
    taken = backend.take_all()
    assert sorted(taken) == sorted((generation_id, "job") for generation_id in lane_of)
    ranks = [LANES.index(lane_of[generation_id]) for generation_id, _ in taken]
    assert ranks == sorted(ranks), taken


def test_depth_counts_the_jobs_waiting_in_each_lane(backend: Backend) -> None:
    assert [backend.queue.depth(lane) for lane in LANES] == [0] * len(LANES)
    backend.queue.enqueue("gen_f1", "free")
    backend.queue.enqueue("gen_f2", "free")
    backend.queue.enqueue("gen_b1", "batch")
    backend.settle()
    assert {lane: backend.queue.depth(lane) for lane in LANES} == {
        "enterprise": 0,
        "premium": 0,
        "free": 2,
        "batch": 1,
    }
    assert len(backend.take_all()) == 3
    backend.settle()
    assert [backend.queue.depth(lane) for lane in LANES] == [0] * len(LANES)


def test_only_a_queue_whose_messages_outlive_the_process_is_durable(backend: Backend) -> None:
    assert backend.queue.durable is backend.durable


def test_an_unknown_lane(backend: Backend) -> None:
    if backend.refuses_unknown_lanes:
        with pytest.raises(QueueError, match="nowhere"):
            backend.queue.enqueue("gen_lost1", "nowhere")
        assert backend.take_all() == []
        assert backend.queue.depth("nowhere") == 0  # depth is a hint: it never raises
        return
    # The embedded queue takes it, and serves it after every known lane.
    backend.queue.enqueue("gen_lost1", "nowhere")
    backend.queue.enqueue("gen_b1", "batch")
    backend.queue.enqueue("gen_p1", "premium")
    assert backend.queue.depth("nowhere") == 1
    assert backend.take_all() == [("gen_p1", "job"), ("gen_b1", "job"), ("gen_lost1", "job")]


# --------------------------------------------------------------------------------------------
# SQS only
# --------------------------------------------------------------------------------------------


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(error.args)):
        assert SECRET_ACCESS_KEY not in text
        assert SESSION_TOKEN not in text
    assert error.__cause__ is None  # raised from None: no botocore request in the traceback
    assert error.__suppress_context__ is True


def test_sqs_a_deleted_lane_queue_is_a_queue_error_and_its_depth_the_last_value(sqs: SqsLanes) -> None:
    clock = FakeClock()
    queue = SqsQueue(sqs.urls, clock=clock)
    queue.enqueue("gen_a1", "premium")
    assert queue.depth("premium") == 1
    sqs.sqs.delete_queue(QueueUrl=sqs.urls["premium"])

    with pytest.raises(QueueError, match="premium") as caught:
        queue.enqueue("gen_a2", "premium")
    assert_no_secret(caught.value)
    with pytest.raises(QueueError) as callback:
        queue.enqueue("gen_a2", "premium", "callback")
    assert_no_secret(callback.value)
    clock.now += 2 * DEFAULT_DEPTH_TTL_S
    assert queue.depth("premium") == 1  # a hint, never a reason to fail a request

    queue.enqueue("gen_f1", "free")  # the other lanes still work
    assert [parse_message(m["Body"]) for m in sqs.receive("free")] == [("gen_f1", "free", "job")]


def test_sqs_an_unreachable_endpoint_fails_fast_with_a_queue_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIATESTING0123456789",
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{free_port()}"
    queue = SqsQueue(
        {lane: f"{endpoint}/123456789012/avatarflow-test-{lane}" for lane in LANES},
        region_name="us-east-1",
        endpoint_url=endpoint,
        connect_timeout=0.5,
        read_timeout=0.5,
        max_attempts=1,
    )
    started = time.monotonic()
    with pytest.raises(QueueError, match="free") as caught:
        queue.enqueue("gen_x1", "free")
    assert time.monotonic() - started < 5
    assert_no_secret(caught.value)
    assert queue.depth("free") == 0  # nothing known yet: the hint is zero, not an error
