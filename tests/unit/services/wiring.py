"""The use cases wired by ``services/generation/wiring.py`` as in production, on the embedded Redis, with a fake
clock, a recording provider, fake queues and a subscriber of every domain event: no HTTP layer,
no network, no sleeping. Tests get them from the ``build`` and ``use_cases`` fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.adapters.imaging.pipeline import PillowPipeline
from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.budget import Budget
from chalicelib.domain.events import GenerationFinished
from chalicelib.domain.generation import Generation
from chalicelib.domain.identity import Identity
from chalicelib.domain.periods import stats_prefixes
from chalicelib.domain.tiers import load_tiers
from chalicelib.ports import BreakerPolicy
from chalicelib.schemas.models import GenerationRequest
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.admission import window_charges
from chalicelib.services.generation.callbacks import CallbackScheduler
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.generation.wiring import (
    GenerationPorts,
    GenerationRules,
    GenerationSteps,
    GenerationUseCases,
    Webhooks,
    wire_generations,
)
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.operations.budget_alerts import BudgetAlerts
from tests.conftest import FILES_BASE
from tests.fakes import RecordingProvider
from tests.unit.services.fakes import (
    EventLog,
    FakeAlertChannel,
    FakeProviderQueues,
    FakeQueue,
    FakeQueuedProvider,
    FakeSender,
    NoWebhookKeys,
    QuickProvider,
    SteppingClock,
)

PUBLIC_URL = "https://api.avatarflow.test"

USER = Identity("user", "user-1", "free")
OTHER_USER = Identity("user", "user-2", "free")
ANONYMOUS = Identity("anonymous", "203.0.113.7", "anonymous")
PREMIUM = Identity("user", "premium-1", "premium")
API_KEY = Identity("api_key", "key_test1", "enterprise")


def request(
    style: str = "anime", prompt: str = "a cat", variation: int = 0, **more: Any
) -> GenerationRequest:
    return GenerationRequest(style=style, prompt=prompt, variation=variation, **more)


@dataclass(frozen=True)
class UseCases(GenerationUseCases, GenerationSteps):
    """Every use case (those of :class:`GenerationUseCases` and its :class:`GenerationSteps`, as
    ``wire_generations`` made them, side by side), the ports and fakes behind them, and a few
    state readers for assertions."""

    store: RedisStateStore
    images: LocalObjectStore
    images_dir: Path
    clock: SteppingClock
    provider: QuickProvider | RecordingProvider
    queue: FakeQueue
    queues: FakeProviderQueues
    sender: FakeSender
    bus: MessageBus
    events: EventLog
    policy: GenerationPolicy
    gallery: GalleryService
    view: GenerationView
    budget_alerts: BudgetAlerts

    def admit(self, identity: Identity = USER, **req: Any) -> Generation:
        """A created generation (queued, charged), asserted to be new."""
        admitted = self.admission.admit(identity, request(**req))
        assert admitted.outcome == "created", admitted.outcome
        return admitted.generation

    def admitted_for_the_request(self, identity: Identity = USER, **req: Any) -> Generation:
        """A created generation claimed by the admit script for the request that will run it."""
        admitted = self.admission.admit(identity, request(**req), claim_lease_ms=self.policy.lease_ms)
        assert admitted.outcome == "created" and admitted.generation.status == "running"
        return admitted.generation

    def claimed(self, identity: Identity = USER, **req: Any) -> Generation:
        """A created generation, claimed (running) as a worker would."""
        generation = self.admit(identity, **req)
        claimed = self.store.generations.claim(generation.id, self.now_ms, self.policy.lease_ms)
        assert claimed is not None
        return claimed

    def request_for(self, generation: Generation) -> GenerationRequest:
        """The request an identical one would send (same style, prompt, variation, size, quality)."""
        return GenerationRequest(
            style=generation.style,
            prompt=generation.prompt,
            variation=generation.variation,
            size=generation.size,  # type: ignore[arg-type]
            quality=generation.quality,  # type: ignore[arg-type]
        )

    def record(self, generation_id: str) -> Generation:
        """The generation as the store holds it now."""
        found = self.store.generations.get(generation_id)
        assert found is not None, generation_id
        return found

    def quota_used(self, identity: Identity = USER) -> list[int]:
        """The identity's quota counters now, one per window of its tier (hour, day, ...)."""
        tier = load_tiers(None)[identity.tier]
        charges = window_charges(identity, tier, self.clock.time())
        return self.store.counters.quota_counts([c.key for c in charges])

    def day_stat(self, name: str) -> float:
        """Today's stats counter ``stats:day:<day>:<name>``."""
        return self.store.counters.values([stats_prefixes(self.clock.time())[0] + name])[0]

    def stored_keys(self) -> set[str]:
        """Every object key the jobs stored (``img/...``)."""
        return {str(p.relative_to(self.images_dir)) for p in self.images_dir.rglob("*") if p.is_file()}

    @property
    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)


Build = Callable[..., UseCases]


def wire(
    store: RedisStateStore,
    objects: LocalObjectStore,
    images_dir: Path,
    *,
    provider: QuickProvider | RecordingProvider | None = None,
    queued: Sequence[FakeQueuedProvider] = (),
    public_url: str | None = PUBLIC_URL,
    durable: bool = False,
    replicate_secret: str = "",
    alert_channels: Sequence[FakeAlertChannel] = (),
    budget: Budget | None = None,
    callback_attempts: int = 8,
    **policy: Any,
) -> UseCases:
    """The use cases as ``build_container`` wires them, with: the ``SteppingClock`` at :data:`NOW`, the
    ``provider`` (a :class:`QuickProvider` by default), a :class:`FakeQueue` (``durable`` or not),
    ``queued`` provider queue APIs (webhook mode when there are some and a ``public_url``), a
    :class:`FakeSender` for client callbacks, ``alert_channels`` and ``budget`` for the budget
    alerts, and any :class:`GenerationPolicy` field as a keyword (``rate_per_minute=2``, ...).
    The message bus has the callback scheduler, as in production, and an :class:`EventLog`."""
    clock = SteppingClock()
    settings = GenerationPolicy(budget=budget or Budget(), **policy)
    provider = provider if provider is not None else QuickProvider()
    queue = FakeQueue(durable=durable)
    queues = FakeProviderQueues(queued)
    sender = FakeSender()
    tiers = load_tiers(None)
    images = LocalObjectStore(images_dir, FILES_BASE)
    view = GenerationView(images, queue, clock=clock)
    gallery = GalleryService(ObjectGalleryStore(objects), kv=store.kv)  # the seeded gallery: suggestions
    budget_alerts = BudgetAlerts(
        counters=store.counters,
        kv=store.kv,
        budget=settings.budget,
        channels=alert_channels,
        clock=clock,
    )
    bus = MessageBus({GenerationFinished: [CallbackScheduler(queue).on_finished]})
    events = EventLog(bus)
    cases = wire_generations(
        GenerationPorts(
            store=store,
            objects=images,
            pipeline=PillowPipeline(),
            queue=queue,
            provider=provider,
            provider_queues=queues,
            bus=bus,
            clock=clock,
        ),
        GenerationRules(policy=settings, tiers=tiers, breaker_policy=BreakerPolicy(failure_threshold=1)),
        Webhooks(
            sender=sender,
            fal_keys=NoWebhookKeys(),
            replicate_secret=replicate_secret,
            public_url=public_url,
            callback_attempts=callback_attempts,
        ),
        gallery=gallery,
        view=view,
    )
    return UseCases(
        store=store,
        images=images,
        images_dir=images_dir,
        clock=clock,
        provider=provider,
        queue=queue,
        queues=queues,
        sender=sender,
        bus=bus,
        events=events,
        policy=settings,
        gallery=gallery,
        view=view,
        budget_alerts=budget_alerts,
        **vars(cases.steps),
        **{name: case for name, case in vars(cases).items() if name != "view"},
    )
