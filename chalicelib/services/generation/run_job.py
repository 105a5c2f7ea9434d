"""Running a job in this process: claim it, ask the provider for the image, end it.

Used by the lanes (in-process or SQS workers) and by the request itself when it waits for the
result (``run_in_request``). The claim (``claim.lua``) lets one worker hold a job at a time, so a
message delivered twice calls the provider once.
"""

from __future__ import annotations

import logging

from chalicelib.domain.errors import DomainError, InvalidRequest
from chalicelib.domain.generation import Generation
from chalicelib.domain.styles import get_style
from chalicelib.domain.uploads import DEFAULT_LIKENESS
from chalicelib.observability.logs import log_context
from chalicelib.ports import Clock, GenerationStore, ImageProvider, ProviderError, ProviderRequest
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.progress import publish_phase
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)

NOT_RETRIED = ("content_rejected", "bad_request")  # provider errors that another try would repeat


def provider_request(generation: Generation) -> ProviderRequest:
    """What the provider is asked to make for a job."""
    style = get_style(generation.style)
    if style is None:
        raise InvalidRequest("unknown style")
    return ProviderRequest(
        style_id=style.id,
        prompt=style.prompt_for(generation.prompt),
        user_prompt=generation.prompt,
        variation=generation.variation,
        seed=generation.seed,
        size=generation.size,
        quality=generation.model_quality,  # the experiment's dev arm: FLUX.1 [dev]
        photo=generation.photo,
        likeness=generation.likeness if generation.likeness is not None else DEFAULT_LIKENESS,
    )


class RunJob:
    """Claims and runs jobs here; a failure fails the job (refunded) or releases it for a retry."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        provider: ImageProvider,
        finish: FinishGeneration,
        clock: Clock,
        lease_ms: int,
        bus: MessageBus,
    ) -> None:
        self._generations = generations
        self._bus = bus
        self._provider = provider
        self._finish = finish
        self._clock = clock
        self._lease_ms = lease_ms

    def run(self, generation_id: str, *, force: bool = False) -> Generation | None:
        """Claim the job, make the image, store every size, and end it (or fail and refund).
        Returns the generation as it ended here; None if it was not claimable (running elsewhere,
        or ended) or something else ended it first."""
        with log_context(job_id=generation_id):
            now_ms = int(self._clock.time() * 1000)
            generation = self._generations.claim(generation_id, now_ms, self._lease_ms, force=force)
            return self.run_claimed(generation) if generation is not None else None

    def execute(self, generation: Generation, *, final: bool = True) -> bool:
        """Make the image of a claimed job here and end it. A failure fails the job (refunded)
        unless ``final`` is False and a retry may pass: the job is then released, to be claimed
        again when its lane redelivers it, and False is returned."""
        done, _ = self._execute(generation, final=final)
        return done

    def run_claimed(self, generation: Generation) -> Generation | None:
        """Run a job the caller already holds (claimed when it was admitted) to its end. Returns
        the generation as it ended here, or None if something else ended it first."""
        _, ended = self._execute(generation, final=True)
        return ended

    def _execute(self, generation: Generation, *, final: bool) -> tuple[bool, Generation | None]:
        with log_context(job_id=generation.id):
            try:
                request = provider_request(generation)
                publish_phase(self._bus, generation, "generating", self._clock)
                result = self._provider.generate(request)
                with log_context(provider=result.provider):
                    return True, self._finish.succeed(generation, result)
            except ProviderError as exc:
                if not final and exc.kind not in NOT_RETRIED:
                    log.warning(
                        "provider failed; retrying later", extra={"job_id": generation.id, "kind": exc.kind}
                    )
                    return not self._generations.release(generation.id), None
                return True, self._finish.fail_for(generation, exc, provider=self._provider.name)
            except DomainError as exc:
                return True, self._finish.fail_for(generation, exc)
            except Exception as exc:
                if not final:
                    log.warning(
                        "job attempt crashed; retrying later", exc_info=True, extra={"job_id": generation.id}
                    )
                    return not self._generations.release(generation.id), None
                log.exception("job crashed", extra={"job_id": generation.id})
                return True, self._finish.fail_for(generation, exc)
