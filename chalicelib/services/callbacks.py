"""Signed callbacks to enterprise clients: the final Generation, POSTed to the job's ``callback_url``.

- Signed per the Standard Webhooks spec with the API key's own ``whsec_`` secret: ``webhook-id``
  (``msg_<generation id>``, the same on every retry so that the client can deduplicate),
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>``.
- Nothing lost: ``finish.lua`` puts every ended job that has a callback URL on the store's
  ``callback`` timer in the same call that ends it. A delivery is tried at once (by whoever ended
  the job, or a lane message) and, while it fails, again with exponential backoff (30 s, 2 min,
  8 min, ... up to 6 h between tries, ``max_attempts`` in all) by the scheduled reaper.
- The URL is checked like any outbound fetch (``chalicelib.fetch``): https only, no credentials,
  and every address the host resolves to must be public (no private, loopback, link-local or
  metadata address); the connection itself goes through ``GuardedTransport``, which checks the
  address again at connect time (DNS rebinding). Redirects are not followed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

from chalicelib.fetch import FetchRefused, GuardedTransport, Resolver, is_public_address, system_resolver
from chalicelib.ports import GenerationRecord, StateStore
from chalicelib.webhook_signatures import SignatureError, sign_standard_webhook

log = logging.getLogger(__name__)
alerts = logging.getLogger("avatarflow.alerts")

Outcome = Literal["delivered", "retry", "gave_up", "skipped", "busy"]
STATE_TTL_S = 8 * 86400
USER_AGENT = "avatarflow-webhooks/1.0"
TERMINAL = ("succeeded", "failed")


def check_callback_url(url: str, resolver: Resolver) -> None:
    """Refuse (``FetchRefused``) a callback URL we must not call: not https, credentials in it,
    or a host with any non-public address."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchRefused("bad_url", "the callback URL cannot be parsed") from None
    if parsed.scheme != "https":
        raise FetchRefused("scheme", "callbacks go to https URLs only")
    if parsed.userinfo:
        raise FetchRefused("bad_url", "credentials in the callback URL are not accepted")
    host = parsed.raw_host.decode("ascii", errors="replace").strip("[]").lower().rstrip(".")
    if not host:
        raise FetchRefused("bad_url", "the callback URL has no host")
    try:
        addresses = [host] if _is_literal_ip(host) else list(resolver(host))
    except (OSError, UnicodeError, ValueError):
        raise FetchRefused("dns_failure", "the callback host does not resolve") from None
    if not addresses:
        raise FetchRefused("dns_failure", "the callback host does not resolve")
    if any(not is_public_address(address) for address in addresses):
        raise FetchRefused("private_address", "the callback host has a non-public address")


def _is_literal_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def backoff_s(attempts: int, base: float = 30.0, cap: float = 6 * 3600) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 30 s, 2 min, 8 min, ... 6 h."""
    return float(min(cap, base * 4 ** max(0, attempts - 1)))


class CallbackSender:
    """Delivers the callbacks that the store says are due (see the module docstring)."""

    def __init__(
        self,
        store: StateStore,
        render: Callable[[GenerationRecord], Any],
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        timeout: float = 5.0,
        max_attempts: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._render = render  # record -> the Generation model (its JSON is the body)
        self._transport = transport
        self._resolver = resolver or system_resolver
        self._timeout = httpx.Timeout(timeout, connect=min(3.0, timeout))
        self._max_attempts = max_attempts
        self._clock = clock
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        transport=self._transport or GuardedTransport(self._resolver),
                        timeout=self._timeout,
                        follow_redirects=False,
                        trust_env=False,  # an env proxy would bypass the address checks
                        headers={"User-Agent": USER_AGENT},
                    )
        return self._client

    def deliver(self, generation_id: str) -> Outcome:
        """Try one delivery of this job's callback now; reschedule it (backoff) if it fails."""
        lock = f"callback:lock:{generation_id}"
        if not self._store.set_once(lock, "1", int(self._timeout.read or 5) * 3 + 5):
            return "busy"  # another process is delivering it right now
        try:
            return self._deliver(generation_id)
        finally:
            try:
                self._store.delete_key(lock)
            except Exception:
                log.warning("callback lock not released", extra={"job_id": generation_id})

    def _deliver(self, generation_id: str) -> Outcome:
        now = self._clock()
        record = self._store.get_generation(generation_id)
        url = (record or {}).get("callback_url", "")
        if record is None or not url:
            self._store.schedule_job("callback", generation_id, None)
            return "skipped"
        if record.get("status") not in TERMINAL:
            # A follower whose job has not ended yet: look again soon, without counting a try.
            self._store.schedule_job("callback", generation_id, int((now + 60) * 1000))
            return "retry"
        state_key = f"callback:{generation_id}"
        state = json.loads(self._store.get_json(state_key) or "{}")
        if state.get("status") in ("delivered", "gave_up"):
            self._store.schedule_job("callback", generation_id, None)
            return "skipped"
        attempts = int(state.get("attempts", 0)) + 1
        secret = self._secret_for(record)
        problem: str
        if secret is None:
            return self._give_up(generation_id, state_key, attempts, "the API key has no webhook secret")
        try:
            check_callback_url(url, self._resolver)
            body = self._body(record)
            msg_id = f"msg_{generation_id}"
            timestamp = int(now)
            response = self.client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
                },
            )
            if 200 <= response.status_code < 300:
                self._store.set_json(
                    state_key, json.dumps({"status": "delivered", "attempts": attempts}), STATE_TTL_S
                )
                self._store.schedule_job("callback", generation_id, None)
                log.info("callback delivered", extra={"job_id": generation_id, "attempts": attempts})
                return "delivered"
            problem = f"HTTP {response.status_code}"
        except FetchRefused as exc:
            if exc.reason in ("scheme", "bad_url", "private_address"):
                return self._give_up(generation_id, state_key, attempts, f"the URL is refused ({exc.reason})")
            problem = exc.reason
        except SignatureError:
            return self._give_up(
                generation_id, state_key, attempts, "the API key's webhook secret is unusable"
            )
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        if attempts >= self._max_attempts:
            return self._give_up(generation_id, state_key, attempts, problem)
        self._store.set_json(
            state_key, json.dumps({"status": "pending", "attempts": attempts, "last": problem}), STATE_TTL_S
        )
        self._store.schedule_job("callback", generation_id, int((now + backoff_s(attempts)) * 1000))
        log.warning(
            "callback failed; retrying later",
            extra={"job_id": generation_id, "attempts": attempts, "problem": problem},
        )
        return "retry"

    def _body(self, record: GenerationRecord) -> bytes:
        rendered = self._render(record)
        text = rendered.model_dump_json() if hasattr(rendered, "model_dump_json") else str(rendered)
        return text.encode()

    def _secret_for(self, record: GenerationRecord) -> str | None:
        owner = record.get("owner", "")
        if not owner.startswith("k:"):
            return None
        key = self._store.get_api_key(owner[2:])
        return key.webhook_secret if key is not None and key.webhook_secret else None

    def _give_up(self, generation_id: str, state_key: str, attempts: int, problem: str) -> Outcome:
        self._store.set_json(
            state_key, json.dumps({"status": "gave_up", "attempts": attempts, "last": problem}), STATE_TTL_S
        )
        self._store.schedule_job("callback", generation_id, None)
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
