"""The in-process message bus: handlers by exact event type, in registration order; a failing
handler is logged and the others still run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.events import (
    Event,
    GenerationAdmitted,
    ProviderAttempted,
    SpendRecorded,
)
from chalicelib.services.messagebus import MessageBus


@dataclass(frozen=True)
class SpecialAdmitted(GenerationAdmitted):
    """A subclass: the bus matches the exact type, so it is not a GenerationAdmitted to handlers."""


class Recorder:
    def __init__(self, name: str, log: list[tuple[str, Any]]) -> None:
        self.name = name
        self.log = log

    def __call__(self, event: Any) -> None:
        self.log.append((self.name, event))


@pytest.fixture
def bus_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(logging.getLogger("chalicelib"), "propagate", True)
    caplog.set_level(logging.INFO, logger="chalicelib")
    return caplog


def test_each_event_goes_to_the_handlers_of_its_type_only() -> None:
    seen: list[tuple[str, Any]] = []
    bus = MessageBus(
        {
            GenerationAdmitted: [Recorder("admitted", seen)],
            SpendRecorded: [Recorder("spend", seen)],
        }
    )
    admitted = GenerationAdmitted("created")
    spend = SpendRecorded("fal", "free", 0.003)
    bus.publish(admitted, spend, ProviderAttempted("fal"))
    assert seen == [("admitted", admitted), ("spend", spend)]


def test_the_exact_type_is_matched_not_a_base_class() -> None:
    seen: list[tuple[str, Any]] = []
    bus = MessageBus({GenerationAdmitted: [Recorder("admitted", seen)], Event: [Recorder("any", seen)]})
    special = SpecialAdmitted("joined")
    bus.publish(special)
    assert seen == []
    bus.subscribe(SpecialAdmitted, Recorder("special", seen))
    bus.publish(special)
    assert seen == [("special", special)]


def test_handlers_run_in_registration_order_and_events_in_publication_order() -> None:
    seen: list[tuple[str, Any]] = []
    bus = MessageBus({GenerationAdmitted: [Recorder("first", seen), Recorder("second", seen)]})
    bus.subscribe(GenerationAdmitted, Recorder("third", seen))
    one, two = GenerationAdmitted("created"), GenerationAdmitted("cached")
    bus.publish(one, two)
    assert seen == [
        ("first", one),
        ("second", one),
        ("third", one),
        ("first", two),
        ("second", two),
        ("third", two),
    ]


def test_the_handlers_given_are_copied_not_shared() -> None:
    seen: list[tuple[str, Any]] = []
    handlers = [Recorder("first", seen)]
    bus = MessageBus({GenerationAdmitted: handlers})
    handlers.append(Recorder("late", seen))
    bus.publish(GenerationAdmitted("created"))
    assert [name for name, _ in seen] == ["first"]


def test_a_failing_handler_is_logged_and_the_others_still_run(bus_logs: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, Any]] = []

    def explode(event: Any) -> None:
        raise RuntimeError("the alert channel is down")

    bus = MessageBus({SpendRecorded: [Recorder("before", seen), explode, Recorder("after", seen)]})
    spend = SpendRecorded("fal", "premium", 0.04)
    bus.publish(spend, spend)  # neither the publisher nor the next event is stopped
    assert seen == [("before", spend), ("after", spend), ("before", spend), ("after", spend)]
    failures = [r for r in bus_logs.records if r.getMessage() == "event handler failed"]
    assert len(failures) == 2
    assert getattr(failures[0], "event", None) == "SpendRecorded"
    assert "explode" in str(getattr(failures[0], "handler", ""))
    assert failures[0].exc_info is not None and "alert channel is down" in str(failures[0].exc_info[1])


def test_publishing_without_handlers_does_nothing() -> None:
    MessageBus().publish(GenerationAdmitted("created"), ProviderAttempted("fal", skipped="open"))
    assert ProviderAttempted("fal").ok
    assert not ProviderAttempted("fal", skipped="open").ok
    assert not ProviderAttempted("fal", error_kind="retryable").ok
