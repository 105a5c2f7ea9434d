"""The generation use cases wired to each other and to their ports, in one place (ports only:
no adapter is imported here; ``bootstrap`` chooses them).

``bootstrap/wiring.build_container`` calls it with the adapters the settings select; the use-case
tests (``tests/unit/services/wiring.py``) call it with fakes, so that they run the production wiring.

Reading order, from a request to a provider: ``RequestGeneration`` admits (``Admission``), then
dispatches (``Dispatch``): it runs the job within the wait (``RunInRequest``: ``RunJob`` on a
thread, or ``RunAtProvider`` in webhook mode) or queues it; the lanes run it later
(``LaneWorker``). Every end goes through ``FinishGeneration``, which publishes the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.domain.identity import Identity
from chalicelib.domain.tiers import Tier
from chalicelib.ports import (
    BreakerPolicy,
    Clock,
    ImagePipeline,
    ImageProvider,
    JobQueue,
    ObjectStore,
    ProviderQueues,
    StateStore,
    WebhookKeys,
    WebhookSender,
)
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.admission import Admission
from chalicelib.services.generation.avatars import AvatarService
from chalicelib.services.generation.batches import BatchService
from chalicelib.services.generation.callbacks import DeliverCallback
from chalicelib.services.generation.collect import CollectResult
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.lanes import LaneWorker
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.generation.provider_health import ProviderHealthCheck
from chalicelib.services.generation.read import ReadGenerations
from chalicelib.services.generation.reap import Reaper
from chalicelib.services.generation.refusals import Refusals
from chalicelib.services.generation.request import RequestGeneration
from chalicelib.services.generation.run_at_provider import RunAtProvider
from chalicelib.services.generation.run_in_request import RunInRequest
from chalicelib.services.generation.run_job import RunJob
from chalicelib.services.generation.submit import SubmitToProvider
from chalicelib.services.generation.sweep import DispatchUndispatched
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.generation.waiting import WaitForGeneration
from chalicelib.services.generation.webhooks import ReceiveWebhook
from chalicelib.services.messagebus import MessageBus


@dataclass(frozen=True)
class GenerationSteps:
    """The steps of a generation's life that the entry points are made of (and the tests drive)."""

    finish: FinishGeneration
    dispatch: Dispatch
    run_job: RunJob
    submit: SubmitToProvider
    collect: CollectResult
    callbacks: DeliverCallback
    at_provider: RunAtProvider
    run_in_request: RunInRequest
    waiting: WaitForGeneration


@dataclass(frozen=True)
class GenerationUseCases:
    """What the routes and workers call, from a request to its callback; ``steps`` are the parts."""

    steps: GenerationSteps
    admission: Admission
    request: RequestGeneration
    reads: ReadGenerations
    batches: BatchService
    avatars: AvatarService
    lanes: LaneWorker
    webhooks: ReceiveWebhook
    reaper: Reaper
    view: GenerationView


@dataclass(frozen=True)
class GenerationPorts:
    """The ports the generation use cases are made of, and the bus they publish on."""

    store: StateStore
    objects: ObjectStore
    pipeline: ImagePipeline
    queue: JobQueue
    provider: ImageProvider
    provider_queues: ProviderQueues
    bus: MessageBus
    clock: Clock


@dataclass(frozen=True)
class Webhooks:
    """Webhooks both ways: the clients' callbacks out (``sender``, ``callback_attempts``) and the
    providers' webhooks in (``public_url`` they call back; fal's keys and Replicate's secret)."""

    sender: WebhookSender
    fal_keys: WebhookKeys
    replicate_secret: str
    public_url: str | None
    callback_attempts: int = 8


@dataclass(frozen=True)
class GenerationRules:
    """The policy, the tiers and the breakers' rules; ``photo_gate`` checks a photo generation's
    upload before admission (services/photos/gate.py; None: photo generations are refused)."""

    policy: GenerationPolicy
    tiers: Mapping[str, Tier]
    breaker_policy: BreakerPolicy
    photo_gate: Callable[[Identity, str], None] | None = None


def wire_generations(
    c: GenerationPorts,
    rules: GenerationRules,
    hooks: Webhooks,
    *,
    gallery: GalleryService,
    view: GenerationView,
) -> GenerationUseCases:
    """The use cases, each given exactly the ports it needs; ``gallery`` (suggestions, cache
    hits) and ``view`` (what a client sees of a generation) are the shared read side."""
    store, clock, bus, policy = c.store, c.clock, c.bus, rules.policy
    generations = store.generations
    finish = FinishGeneration(
        generations=generations,
        objects=c.objects,
        pipeline=c.pipeline,
        bus=bus,
        clock=clock,
        cache_ttl_s=policy.cache_ttl_s,
        holders=store.holders,
    )
    dispatch = Dispatch(
        generations=generations,
        queue=c.queue,
        policy=policy,
        provider_healthy=ProviderHealthCheck(store.breakers, c.provider, clock=clock),
    )
    run_job = RunJob(
        generations=generations,
        provider=c.provider,
        finish=finish,
        bus=bus,
        clock=clock,
        lease_ms=policy.lease_ms,
    )
    submit = SubmitToProvider(
        generations=generations,
        breakers=store.breakers,
        queues=c.provider_queues,
        bus=bus,
        clock=clock,
        public_url=hooks.public_url,
        breaker_policy=rules.breaker_policy,
        job_deadline_s=policy.job_deadline_s,
    )
    collect = CollectResult(
        kv=store.kv, finish=finish, dispatch=dispatch, bus=bus, clock=clock, max_attempts=policy.max_attempts
    )
    admission = Admission(
        generations=generations,
        tiers=rules.tiers,
        gallery=gallery,
        policy=policy,
        bus=bus,
        clock=clock,
        refusals=Refusals(store.counters, clock, policy.refused_prompts_per_hour),
    )
    reads = ReadGenerations(
        generations=generations, counters=store.counters, tiers=rules.tiers, view=view, clock=clock
    )
    callbacks = DeliverCallback(
        generations=generations,
        kv=store.kv,
        timers=store.timers,
        api_keys=store.api_keys,
        sender=hooks.sender,
        view=view,
        clock=clock,
        max_attempts=hooks.callback_attempts,
    )
    at_provider = RunAtProvider(
        generations=generations, submit=submit, collect=collect, dispatch=dispatch, finish=finish, clock=clock
    )
    run_in_request = RunInRequest(
        generations=generations,
        run_job=run_job,
        at_provider=at_provider,
        dispatch=dispatch,
        bus=bus,
        threads=policy.sync_threads,
    )
    waiting = WaitForGeneration(generations=generations)
    return GenerationUseCases(
        steps=GenerationSteps(
            finish=finish,
            dispatch=dispatch,
            run_job=run_job,
            submit=submit,
            collect=collect,
            callbacks=callbacks,
            at_provider=at_provider,
            run_in_request=run_in_request,
            waiting=waiting,
        ),
        admission=admission,
        reads=reads,
        view=view,
        avatars=AvatarService(
            generations=generations,
            kv=store.kv,
            objects=c.objects,
            gallery=gallery,
            bus=bus,
            holders=store.holders,
        ),
        request=RequestGeneration(
            admission=admission,
            dispatch=dispatch,
            run_in_request=run_in_request,
            waiting=waiting,
            view=view,
            gallery=gallery,
            policy=policy,
            photo_gate=rules.photo_gate,
        ),
        lanes=LaneWorker(
            generations=generations,
            run_job=run_job,
            submit=submit,
            finish=finish,
            callbacks=callbacks,
            bus=bus,
            policy=policy,
            clock=clock,
        ),
        webhooks=ReceiveWebhook(
            generations=generations,
            kv=store.kv,
            submit=submit,
            collect=collect,
            fal_keys=hooks.fal_keys,
            replicate_secret=hooks.replicate_secret,
            clock=clock,
        ),
        reaper=Reaper(
            generations=generations,
            timers=store.timers,
            queue=c.queue,
            submit=submit,
            collect=collect,
            finish=finish,
            callbacks=callbacks,
            clock=clock,
            sweep=DispatchUndispatched(
                generations=generations,
                timers=store.timers,
                queue=c.queue,
                kv=store.kv,
                job_deadline_s=policy.job_deadline_s,
                clock=clock,
            ),
        ),
        batches=BatchService(
            generations=generations,
            kv=store.kv,
            queue=c.queue,
            admission=admission,
            finish=finish,
            reads=reads,
            clock=clock,
            bus=bus,
        ),
    )
