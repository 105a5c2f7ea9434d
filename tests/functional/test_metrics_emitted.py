"""The EMF metrics a request produces, through chalice.test.Client (test stage: the metrics logger)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.observability.logs import METRICS_LOGGER
from tests.conftest import auth


class _Metrics(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.docs: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.docs.append(json.loads(record.getMessage()))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if name in doc]

    def names(self) -> list[str]:
        return [m["Name"] for doc in self.docs for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


@pytest.fixture
def emitted() -> Iterator[_Metrics]:
    logger = logging.getLogger(METRICS_LOGGER)
    handler, level = _Metrics(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def post(client: Any, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps(body))


def test_a_miss_then_a_hit_emit_latency_then_cache_hit(client: Any, emitted: _Metrics) -> None:
    headers = auth("metrics-user", "free")
    body = {"style": "flat", "prompt": "a lighthouse", "variation": 3}
    assert post(client, body, headers).status_code == 200
    second = post(client, body, headers)
    assert second.status_code == 200 and second.json_body["cached"] is True

    assert emitted.names() == ["GenerationLatency", "Spend", "CacheHit"]
    (latency,) = emitted.named("GenerationLatency")
    assert latency["Provider"] == "procedural"
    assert latency["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Provider"]]
    assert latency["GenerationLatency"] >= 0 and latency["Spend"] == 0.0
    (hit,) = emitted.named("CacheHit")
    assert hit["CacheHit"] == 1


def test_a_quota_rejection_emits_its_code(client: Any, emitted: _Metrics) -> None:
    headers = {"Content-Type": "application/json"}  # anonymous: 3 an hour
    for variation in range(3):
        assert post(client, {"style": "pixel", "variation": variation}, headers).status_code == 200
    refused = post(client, {"style": "pixel", "variation": 99}, headers)
    assert refused.status_code == 429 and refused.json_body["error"]["code"] == "quota_exceeded"

    (rejection,) = emitted.named("QuotaRejection")
    assert rejection["Code"] == "quota_exceeded" and rejection["QuotaRejection"] == 1
    assert rejection["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Code"]]
    assert emitted.names().count("GenerationLatency") == 3
