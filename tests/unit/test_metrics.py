"""EMF lines: the shape CloudWatch extracts metrics from, where they go per stage, and no raising."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.observability import metrics
from chalicelib.observability.logs import METRICS_LOGGER
from chalicelib.services.routing.router import Attempt

UNITS = {"Seconds", "Milliseconds", "Count", "None"}


def assert_valid_emf(doc: dict[str, Any]) -> None:
    """The ``_aws`` block lists exactly the metrics present (with a unit), and every dimension it
    names is a top-level string member."""
    aws = doc["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 1_600_000_000_000
    (directive,) = aws["CloudWatchMetrics"]
    assert directive["Namespace"] == "avatarflow"
    names = [m["Name"] for m in directive["Metrics"]]
    assert all(m["Unit"] in UNITS for m in directive["Metrics"])
    assert len(names) == len(set(names))
    dimension_names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
    assert all(isinstance(doc[name], str) for name in dimension_names)
    members = set(doc) - {"_aws"}
    assert members == set(names) | dimension_names
    assert all(isinstance(doc[name], int | float) for name in names)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def captured(name: str, level: int) -> Iterator[_Capture]:
    """What one logger handles (its own handler: the avatarflow loggers do not propagate)."""
    logger = logging.getLogger(name)
    handler, before = _Capture(), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def test_document_shape_names_every_metric_and_dimension() -> None:
    doc = metrics.document(
        {"GenerationLatency": (812.5, "Milliseconds"), "Spend": (0.003, "None")},
        {"Provider": "fal"},
        timestamp_ms=1_700_000_000_000,
    )
    assert_valid_emf(doc)
    assert doc == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "avatarflow",
                    "Dimensions": [["Provider"]],
                    "Metrics": [
                        {"Name": "GenerationLatency", "Unit": "Milliseconds"},
                        {"Name": "Spend", "Unit": "None"},
                    ],
                }
            ],
        },
        "Provider": "fal",
        "GenerationLatency": 812.5,
        "Spend": 0.003,
    }


def test_a_metric_without_dimensions_has_one_empty_dimension_set() -> None:
    doc = metrics.document({"CacheHit": (1, "Count")})
    assert_valid_emf(doc)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]


def test_events_in_the_test_stage_go_to_the_metrics_logger(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(METRICS_LOGGER, logging.INFO) as handler:
        metrics.generation_completed("procedural", 41.0, 0.0)
        metrics.admitted("cached")
        metrics.admitted("joined")
        metrics.admitted("created")  # neither a hit nor a refusal: nothing
        metrics.admitted("rate_limited")
        metrics.on_provider_attempted(Attempt("fal", 120.0, "retryable"))
        metrics.on_provider_attempted(Attempt("replicate", skipped="open"))  # not called: not an error
        metrics.on_provider_attempted(Attempt("together", 300.0))  # made the image
    assert capsys.readouterr().out == ""
    docs = [json.loads(line) for line in handler.lines]
    for doc in docs:
        assert_valid_emf(doc)
    summary = [
        (
            [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]],
            {k: v for k, v in doc.items() if isinstance(v, str)},
        )
        for doc in docs
    ]
    assert summary == [
        (["GenerationLatency", "Spend"], {"Provider": "procedural"}),
        (["CacheHit"], {}),
        (["CacheHit"], {}),
        (["QuotaRejection"], {"Code": "rate_limited"}),
        (["ProviderError"], {"Provider": "fal", "Kind": "retryable"}),
    ]
    assert docs[0]["GenerationLatency"] == 41.0 and docs[0]["Spend"] == 0.0


def test_in_lambda_stages_each_event_is_one_line_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AVATARFLOW_STAGE", "prod")
    metrics.admitted("quota_exceeded")
    metrics.provider_error("openai", "auth")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    docs = [json.loads(line) for line in lines]
    for doc in docs:
        assert_valid_emf(doc)
    assert docs[0]["Code"] == "quota_exceeded" and docs[0]["QuotaRejection"] == 1
    assert (docs[1]["Provider"], docs[1]["Kind"], docs[1]["ProviderError"]) == ("openai", "auth", 1)


def test_threads_never_interleave_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AVATARFLOW_STAGE", "prod")
    threads, per_thread = 8, 200
    start = threading.Barrier(threads)

    def emit(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            metrics.generation_completed(f"p{n}", float(i), 0.001 * i)

    workers = [threading.Thread(target=emit, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == threads * per_thread
    docs = [json.loads(line) for line in lines]  # every line whole: none cut by another thread
    for doc in docs:
        assert_valid_emf(doc)
    assert {doc["Provider"] for doc in docs} == {f"p{n}" for n in range(threads)}


def test_a_metric_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATARFLOW_STAGE", "prod")

    class Broken:
        def write(self, _text: str) -> int:
            raise OSError("stdout is gone")

        def flush(self) -> None:
            return

    monkeypatch.setattr("sys.stdout", Broken())
    with captured("chalicelib.observability.metrics", logging.DEBUG) as handler:
        metrics.admitted("cached")  # a write that fails
        metrics.generation_completed("fal", float("nan"), 0.0)  # a value JSON cannot carry
        metrics.on_provider_attempted(object())  # type: ignore[arg-type]  # not an attempt at all
    assert handler.lines == ["metric not emitted"] * 3
