"""Signed callbacks to enterprise clients: the final Generation, POSTed to the job's ``callback_url``.

- Signed per the Standard Webhooks spec with the API key's own ``whsec_`` secret: ``webhook-id``
  (``msg_<generation id>``, the same on every retry so that the client can deduplicate),
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>``.
- Nothing lost: ``finish.lua`` puts every ended job that has a callback URL on the store's
  ``callback`` timer in the same call that ends it. A delivery is tried at once (a lane message
  sent when the job ends: :meth:`CallbackScheduler.on_finished`) and, while it fails, again with
  exponential backoff (30 s, 2 min, 8 min, ... up to 6 h between tries, ``max_attempts`` in all) by
  the scheduled reaper.
- The URL is checked by the sender like any outbound call (https only, no credentials, public
  addresses only, checked again at connect time); redirects are not followed.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

from chalicelib.domain.events import GenerationFinished
from chalicelib.domain.generation import Generation
from chalicelib.domain.webhook_signatures import SignatureError, sign_standard_webhook
from chalicelib.ports import (
    ApiKeyStore,
    Clock,
    DeliveryFailed,
    DeliveryRefused,
    GenerationStore,
    JobQueue,
    JobTimers,
    KeyValueStore,
    WebhookSender,
)
from chalicelib.services.generation.views import GenerationView

log = logging.getLogger(__name__)
alerts = logging.getLogger("avatarflow.alerts")

CallbackOutcome = Literal["delivered", "retry", "gave_up", "skipped", "busy"]
STATE_TTL_S = 8 * 86400
LOCK_TTL_S = 20
NOT_ENDED_RECHECK_S = 60


def backoff_s(attempts: int, base: float = 30.0, cap: float = 6 * 3600) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 30 s, 2 min, 8 min, ... 6 h."""
    return float(min(cap, base * 4 ** max(0, attempts - 1)))


class CallbackScheduler:
    """Handler of :class:`GenerationFinished`: a job with a callback URL is delivered soon, by a
    lane worker (its timer in the store is the backstop if this message is lost)."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def on_finished(self, event: GenerationFinished) -> None:
        generation = event.generation
        if not generation.callback_url:
            return
        try:
            self._queue.enqueue(generation.id, generation.lane, "callback")
        except Exception:
            log.warning("callback not queued; the reaper delivers it", extra={"job_id": generation.id})


class DeliverCallback:
    """Delivers the callbacks that the store says are due (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        timers: JobTimers,
        api_keys: ApiKeyStore,
        sender: WebhookSender,
        view: GenerationView,
        clock: Clock,
        max_attempts: int = 8,
    ) -> None:
        self._generations = generations
        self._kv = kv
        self._timers = timers
        self._api_keys = api_keys
        self._sender = sender
        self._view = view
        self._clock = clock
        self._max_attempts = max_attempts

    def deliver(self, generation_id: str) -> CallbackOutcome:
        """Try one delivery of this job's callback now; reschedule it (backoff) if it fails."""
        lock = f"callback:lock:{generation_id}"
        if not self._kv.set_once(lock, "1", LOCK_TTL_S):
            return "busy"  # another process is delivering it right now
        try:
            return self._deliver(generation_id)
        finally:
            try:
                self._kv.delete(lock)
            except Exception:
                log.warning("callback lock not released", extra={"job_id": generation_id})

    def _deliver(self, generation_id: str) -> CallbackOutcome:
        now = self._clock.time()
        generation = self._generations.get(generation_id)
        if generation is None or not generation.callback_url:
            self._timers.schedule("callback", generation_id, None)
            return "skipped"
        if not generation.is_terminal:
            # A follower whose job has not ended yet: look again soon, without counting a try.
            self._timers.schedule("callback", generation_id, int((now + NOT_ENDED_RECHECK_S) * 1000))
            return "retry"
        state_key = f"callback:{generation_id}"
        state = json.loads(self._kv.get(state_key) or "{}")
        if state.get("status") in ("delivered", "gave_up"):
            self._timers.schedule("callback", generation_id, None)
            return "skipped"
        attempts = int(state.get("attempts", 0)) + 1
        secret = self._secret_for(generation)
        if secret is None:
            return self._give_up(generation_id, state_key, attempts, "the API key has no webhook secret")
        body = self._view.render(generation).model_dump_json().encode()
        msg_id = f"msg_{generation_id}"
        timestamp = int(now)
        try:
            headers = {
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
            }
            self._sender.post(generation.callback_url, body, headers)
        except DeliveryRefused as exc:
            return self._give_up(generation_id, state_key, attempts, f"the URL is refused ({exc.reason})")
        except SignatureError:
            return self._give_up(
                generation_id, state_key, attempts, "the API key's webhook secret is unusable"
            )
        except DeliveryFailed as exc:
            problem = str(exc)
            if attempts >= self._max_attempts:
                return self._give_up(generation_id, state_key, attempts, problem)
            self._kv.set(
                state_key,
                json.dumps({"status": "pending", "attempts": attempts, "last": problem}),
                STATE_TTL_S,
            )
            self._timers.schedule("callback", generation_id, int((now + backoff_s(attempts)) * 1000))
            log.warning(
                "callback failed; retrying later",
                extra={"job_id": generation_id, "attempts": attempts, "problem": problem},
            )
            return "retry"
        self._kv.set(state_key, json.dumps({"status": "delivered", "attempts": attempts}), STATE_TTL_S)
        self._timers.schedule("callback", generation_id, None)
        log.info("callback delivered", extra={"job_id": generation_id, "attempts": attempts})
        return "delivered"

    def _secret_for(self, generation: Generation) -> str | None:
        if not generation.owner.startswith("k:"):
            return None
        key = self._api_keys.get(generation.owner[2:])
        return key.webhook_secret if key is not None and key.webhook_secret else None

    def _give_up(self, generation_id: str, state_key: str, attempts: int, problem: str) -> CallbackOutcome:
        self._kv.set(
            state_key, json.dumps({"status": "gave_up", "attempts": attempts, "last": problem}), STATE_TTL_S
        )
        self._timers.schedule("callback", generation_id, None)
        alerts.error(
            "a client callback was given up",
            extra={
                "alert": "callback_gave_up",
                "job_id": generation_id,
                "attempts": attempts,
                "problem": problem,
            },
        )
        return "gave_up"
