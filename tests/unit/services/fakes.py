"""Fakes of the ports for the use-case tests: real behaviour with knobs, recording what they were
asked, and a clock that others can act on while a use case waits on it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.adapters.providers.procedural import ProceduralProvider
from chalicelib.domain.budget import BudgetAlert
from chalicelib.domain.events import Event
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import (
    AlertDeliveryError,
    JobFailed,
    MessageKind,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    QueuedProvider,
    QueueError,
)
from chalicelib.services.messagebus import MessageBus
from tests.fakes import FakeClock, RecordingProvider
from tests.unit.providers.helpers import png_bytes

# Absolute expiries (EXPIREAT) in the store scripts follow the injected clock: it must not lie in
# Redis's past, or every quota counter would vanish at once. 2033-05-18T03:33:20Z, mid-hour.
NOW = 2_000_000_000.0

E = TypeVar("E", bound=Event)


class _QuickRenderer(ProceduralProvider):
    """A small PNG per request instead of the 1024 px drawing: the same pipeline, a fraction of the time."""

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        color = (request.seed % 251, request.variation % 251, len(request.user_prompt) % 251)
        return ProviderResult(png_bytes(64, color), self.name, "quick-v1", 0.0, 12.0)


class QuickProvider(RecordingProvider):
    """:class:`RecordingProvider` (call counts, an error, a cost) drawing a small PNG; ``crash`` raises
    any exception, ``gate`` holds each call until it is set (a job still running)."""

    def __init__(
        self,
        *,
        name: str = "procedural",
        error: ProviderError | None = None,
        cost_usd: float = 0.0,
        crash: Exception | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        super().__init__(error=error, cost_usd=cost_usd)
        self.name = name
        self.crash = crash
        self.gate = gate
        self._inner = _QuickRenderer()

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        if self.crash is not None:
            self.calls[(request.style_id, request.user_prompt, request.variation)] += 1
            raise self.crash
        result = super().generate(request, within_s=within_s)
        return dataclasses.replace(result, provider=self.name)


class FakeQueue:
    """:class:`chalicelib.ports.JobQueue` that keeps every message; ``fail`` refuses them."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.messages: list[tuple[str, str, MessageKind]] = []
        self.depths: dict[str, int] = {}
        self.fail = False

    def enqueue(self, generation_id: str, lane: str, kind: MessageKind = "job") -> None:
        if self.fail:
            raise QueueError("the queue is down")
        self.messages.append((generation_id, lane, kind))

    def depth(self, lane: str) -> int:
        return self.depths.get(lane, 0)

    def position(self, generation_id: str, lane: str) -> int | None:
        """1-based among the job messages still kept for ``lane``; None if it has none there."""
        waiting = [gid for gid, at, kind in self.messages if at == lane and kind == "job"]
        return waiting.index(generation_id) + 1 if generation_id in waiting else None

    def jobs(self, kind: MessageKind = "job") -> list[str]:
        return [gid for gid, _, k in self.messages if k == kind]


def result_png(provider: str, cost_usd: float = 0.01) -> ProviderResult:
    return ProviderResult(png_bytes(64, (10, 200, 90)), provider, f"{provider}-model", cost_usd, 0.0)


@dataclass
class FakeQueuedProvider:
    """:class:`chalicelib.ports.QueuedProvider`: ``answers`` are what polls (and webhooks without a
    status) read, in order, the last one repeated: a result, None (pending) or an exception."""

    name: str
    signs_webhooks: bool = True
    qualities: tuple[str, ...] = ("fast", "standard", "pro")
    submit_error: ProviderError | None = None
    answers: list[ProviderResult | Exception | None] = field(default_factory=lambda: [None])
    submitted: list[tuple[ProviderRequest, str | None]] = field(default_factory=list)
    polls: int = 0
    canceled: list[ProviderJob] = field(default_factory=list)

    def supports(self, quality: str) -> bool:
        return quality in self.qualities

    def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
        self.submitted.append((request, webhook_url))
        if self.submit_error is not None:
            raise self.submit_error
        return ProviderJob(self.name, f"{self.name}-job-{len(self.submitted)}")

    def _answer(self) -> ProviderResult | None:
        answer = self.answers[min(self.polls, len(self.answers) - 1)]
        self.polls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def poll(self, job: ProviderJob, *, quality: str, size: int) -> ProviderResult | None:
        return self._answer()

    def delivery_job_id(self, payload: Any) -> str:
        return str(payload.get("id", "")) if isinstance(payload, dict) else ""

    def from_webhook(
        self, job: ProviderJob, payload: Any, *, quality: str, size: int
    ) -> ProviderResult | None:
        status = payload.get("status") if isinstance(payload, dict) else None
        if status == "succeeded":
            return result_png(self.name)
        if status == "failed":
            raise JobFailed(ProviderError("the provider failed the job"))
        return self._answer()

    def cancel(self, job: ProviderJob) -> None:
        self.canceled.append(job)


class FakeProviderQueues:
    """:class:`chalicelib.ports.ProviderQueues` over some fake queue APIs, in route order."""

    def __init__(self, providers: Sequence[FakeQueuedProvider] = ()) -> None:
        self.providers = list(providers)

    def for_quality(self, quality: str) -> list[QueuedProvider]:
        return [p for p in self.providers if p.supports(quality)]

    def get(self, name: str) -> QueuedProvider | None:
        return next((p for p in self.providers if p.name == name), None)

    @property
    def available(self) -> bool:
        return bool(self.providers)


class FakeSender:
    """:class:`chalicelib.ports.WebhookSender`: records each post; ``errors`` are raised first, in order."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []
        self.errors: list[Exception] = []

    def post(self, url: str, body: bytes, headers: Any) -> None:
        self.posts.append((url, body, dict(headers)))
        if self.errors:
            raise self.errors.pop(0)


class FakeAlertChannel:
    """:class:`chalicelib.ports.AlertChannel` that keeps what it was sent, or fails."""

    def __init__(self, name: str = "webhook", *, fails: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.sent: list[BudgetAlert] = []

    def send(self, alert: BudgetAlert, body: bytes, msg_id: str) -> None:
        if self.fails:
            raise AlertDeliveryError(f"{self.name} is down")
        self.sent.append(alert)


class NoWebhookKeys:
    def keys(self, *, refresh: bool = False) -> list[Any]:
        return []


class SteppingClock(FakeClock):
    """A FakeClock that runs ``on_sleep`` hooks when slept: what others do while a use case waits."""

    def __init__(self, now: float = NOW) -> None:
        super().__init__(now)
        self.on_sleep: list[Callable[[], object]] = []

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        for hook in list(self.on_sleep):
            hook()


def event_kinds(base: type[Event] = Event) -> list[type[Event]]:
    """Every event class below ``base`` (subclasses of subclasses too), from the classes
    themselves: a new event is listened to without being added to a list."""
    kinds: list[type[Event]] = []
    for kind in base.__subclasses__():
        kinds.extend((kind, *event_kinds(kind)))
    return kinds


class EventLog:
    """A subscriber of every domain event, in publication order."""

    def __init__(self, bus: MessageBus) -> None:
        self.events: list[Event] = []
        for kind in event_kinds():
            bus.subscribe(kind, self.events.append)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]
