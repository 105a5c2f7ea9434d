"""The generation use cases wired to each other and to their ports, in one place.

``wiring.build_container`` calls it with the adapters the settings select; the use-case tests
(``tests/unit/services/wiring.py``) call it with fakes, so that they run the production wiring.

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
class GenerationUseCases:
    """Every use case of a generation's life, from its request to its callback."""

    finish: FinishGeneration
    dispatch: Dispatch
    run_job: RunJob
    submit: SubmitToProvider
    collect: CollectResult
    admission: Admission
    reads: ReadGenerations
    callbacks: DeliverCallback
    at_provider: RunAtProvider
    run_in_request: RunInRequest
    waiting: WaitForGeneration
    request: RequestGeneration
    lanes: LaneWorker
    webhooks: ReceiveWebhook
    reaper: Reaper
    batches: BatchService


@dataclass(frozen=True)
class Collaborators:
    """What the use cases are made of: the ports, the bus and the shared read-side services."""

    store: StateStore
    objects: ObjectStore
    pipeline: ImagePipeline
    queue: JobQueue
    provider: ImageProvider
    provider_queues: ProviderQueues
    bus: MessageBus
    clock: Clock
    policy: GenerationPolicy
    tiers: Mapping[str, Tier]
    gallery: GalleryService
    view: GenerationView
    sender: WebhookSender
    fal_keys: WebhookKeys
    replicate_secret: str
    public_url: str | None
    breaker_policy: BreakerPolicy
    callback_attempts: int = 8
    # Checks a photo generation's upload before admission (services/photos/gate.py); None: photos refused.
    photo_gate: Callable[[Identity, str], None] | None = None


def wire_generations(c: Collaborators) -> GenerationUseCases:
    """The use cases, each given exactly the ports it needs."""
    store, clock, bus, policy = c.store, c.clock, c.bus, c.policy
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
        public_url=c.public_url,
        breaker_policy=c.breaker_policy,
        job_deadline_s=policy.job_deadline_s,
    )
    collect = CollectResult(
        kv=store.kv, finish=finish, dispatch=dispatch, bus=bus, clock=clock, max_attempts=policy.max_attempts
    )
    admission = Admission(
        generations=generations,
        tiers=c.tiers,
        gallery=c.gallery,
        policy=policy,
        bus=bus,
        clock=clock,
        refusals=Refusals(store.counters, clock, policy.refused_prompts_per_hour),
    )
    reads = ReadGenerations(
        generations=generations, counters=store.counters, tiers=c.tiers, view=c.view, clock=clock
    )
    callbacks = DeliverCallback(
        generations=generations,
        kv=store.kv,
        timers=store.timers,
        api_keys=store.api_keys,
        sender=c.sender,
        view=c.view,
        clock=clock,
        max_attempts=c.callback_attempts,
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
        finish=finish,
        dispatch=dispatch,
        run_job=run_job,
        submit=submit,
        collect=collect,
        admission=admission,
        reads=reads,
        callbacks=callbacks,
        at_provider=at_provider,
        run_in_request=run_in_request,
        waiting=waiting,
        request=RequestGeneration(
            admission=admission,
            dispatch=dispatch,
            run_in_request=run_in_request,
            waiting=waiting,
            view=c.view,
            gallery=c.gallery,
            policy=policy,
            photo_gate=c.photo_gate,
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
            fal_keys=c.fal_keys,
            replicate_secret=c.replicate_secret,
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
