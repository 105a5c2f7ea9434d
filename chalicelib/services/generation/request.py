"""``POST /v1/generations``: admit the request in one store call, then answer from the cache,
run the job within the request's wait, or queue it (202).

A request identical to one in flight joins it and waits for the same result; a replayed request
(same ``Idempotency-Key``) gets the same generation, charged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import ContentRejected, InvalidRequest, ProviderUnavailable, RateLimit
from chalicelib.domain.generation import Generation
from chalicelib.domain.identity import Identity
from chalicelib.domain.similarity import SimilarResult
from chalicelib.ports import StoreError
from chalicelib.schemas import models
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.admission import Admission
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.generation.run_in_request import Reservation, RunInRequest
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.generation.waiting import WaitForGeneration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requested:
    """The generation as the request leaves it (succeeded, or still queued or running) and the
    caller's tightest rate window."""

    generation: models.Generation
    rate_limit: RateLimit | None

    @property
    def finished(self) -> bool:
        return self.generation.status == "succeeded"


class RequestGeneration:
    """The use case behind ``POST /v1/generations`` (see the module docstring)."""

    def __init__(
        self,
        *,
        admission: Admission,
        dispatch: Dispatch,
        run_in_request: RunInRequest,
        waiting: WaitForGeneration,
        view: GenerationView,
        gallery: GalleryService,
        policy: GenerationPolicy,
        photo_gate: Callable[[Identity, str], None] | None = None,
    ) -> None:
        self._photo_gate = photo_gate
        self._admission = admission
        self._dispatch = dispatch
        self._run_in_request = run_in_request
        self._waiting = waiting
        self._view = view
        self._gallery = gallery
        self._policy = policy

    def __call__(
        self,
        identity: Identity,
        req: models.GenerationRequest,
        *,
        idempotency_key: str | None = None,
        respond_async: bool = False,
        wait: float | None = None,
    ) -> Requested:
        """Admit, then answer: ``wait`` seconds at most (``Prefer: wait``; None: the default), or
        at once with ``respond_async``. A failed generation raises its error (never charged)."""
        self._check_photo(identity, req)
        wait_s = self._policy.wait_for(wait)
        reservation = self._reserve(identity, req, wait_s, respond_async)
        try:
            admitted = self._admission.admit(
                identity,
                req,
                idempotency_key=idempotency_key,
                claim_lease_ms=self._policy.lease_ms if reservation is not None else None,
            )
        except BaseException:
            if reservation is not None:
                reservation.release()  # refused: the thread slot goes back
            raise
        generation, rate_limit = admitted.generation, admitted.rate_limit
        try:
            if admitted.outcome == "created":
                if reservation is not None:
                    # Claimed for this request by the admit script: run it now.
                    generation = self._run_in_request.run(generation, wait_s, reservation)
                else:
                    self._dispatch.enqueue(generation)
            else:
                if reservation is not None:
                    reservation.release()
                if admitted.outcome == "replayed" and generation.never_started:
                    # The first attempt's reply was lost after the store admitted it (e.g. a timeout
                    # on the way back), so nothing dispatched the job. Queue it now; the claim makes
                    # a duplicate harmless, and the client's retry is not charged again.
                    self._dispatch.enqueue(generation)
                if generation.is_open and not respond_async:
                    # Joined an identical request in flight (or replayed one): wait for it like our own.
                    generation = self._waiting.until_ended(generation, wait_s)
        except ProviderUnavailable as exc:
            exc.rate_limit = exc.rate_limit or rate_limit
            raise
        except StoreError:
            # Admitted and charged: a later step that failed (the store stalled while the job ran,
            # was handed over or waited for) is no reason to say it was not done. The job is
            # answered as it is (202 with its id); its lane, or the dispatch sweep, finishes it.
            log.warning(
                "a step after admission failed; answering the job as open", extra={"job_id": generation.id}
            )
        return self._answer(generation, rate_limit, admitted.similar)

    def _check_photo(self, identity: Identity, req: models.GenerationRequest) -> None:
        """A photo generation: the caller's own ready upload, before anything is charged."""
        if req.photo is None:
            if req.likeness is not None:
                raise InvalidRequest(
                    "likeness applies to a photo generation only.",
                    details=[{"field": "likeness", "message": "needs a photo"}],
                )
            return
        if self._photo_gate is None:
            raise InvalidRequest("Photo generations are not available here.")
        self._photo_gate(identity, req.photo)

    def _reserve(
        self, identity: Identity, req: models.GenerationRequest, wait: float, respond_async: bool
    ) -> Reservation | None:
        """A way to run the job within the wait, reserved before admission so that the admit
        script can claim the job in the same call; None: it will be queued (202)."""
        if respond_async or wait <= 0:
            return None
        if not self._dispatch.sync_allowed(req.quality, self._admission.lane_for(identity)):
            return None
        return self._run_in_request.reserve(req.quality, photo=req.photo is not None)

    def _answer(
        self, generation: Generation, rate_limit: RateLimit | None, similar: tuple[SimilarResult, ...]
    ) -> Requested:
        if generation.error is not None:
            if generation.error.code == "content_rejected":
                raise ContentRejected(
                    "The request was refused by the provider's content policy; it was not charged.",
                    details=[{"field": "prompt", "message": generation.error.message}],
                    rate_limit=rate_limit,
                )
            raise ProviderUnavailable(
                "No image provider could make this avatar right now; it was not charged. Pick one from the "
                "gallery or retry later.",
                retry_after=30,
                suggestions=self._gallery.suggest(generation.style, generation.prompt),
                rate_limit=rate_limit,
            )
        return Requested(self._view.render(generation, similar), rate_limit)
