"""Shared httpx plumbing for the provider adapters.

One lazily built :class:`httpx.Client` per adapter (reused across calls and threads), explicit
timeouts, vendor answers mapped onto the :class:`chalicelib.ports.ProviderError` hierarchy, and
image loading through :mod:`chalicelib.adapters.outbound.fetch` (``data:`` URIs and raw base64 decoded locally).

Time. ``generate(request, within_s=...)`` sets the generation's deadline; every HTTP call, poll
sleep and image download of it ends by then, or raises :class:`RetryableProviderError` (a timeout).
Each call is also bounded in *total* (not per read) by its connect plus read timeout, inside a
generation or not: the client's transport cuts every socket operation to what is left
(:class:`chalicelib.adapters.outbound.bounded.DeadlineBackend`: a drip of one byte every few
seconds, in the headers or the body, ends there), and each phase's timeout is cut to it too.

Size. Answers are read as streams (``bounded.read_capped``), never past ``max_answer_bytes`` (8 MiB
by default: an inline image of a few MB fits; a 40 MB answer is refused after 8 MiB): a bigger
answer is :class:`ProviderDown` (the breaker counts it, the router goes on). gzip/deflate answers
are inflated chunk by chunk under the same cap. An error answer (non-2xx) is read up to 64 KiB.

Secrets: the keys and the client come from :class:`chalicelib.adapters.keyed_http.KeyedHttpClient`
(a :class:`~chalicelib.adapters.key_pool.KeyPool`, each key sent only by the client's auth; a
refused or throttled key is set aside and the call goes again with another one). Error messages
carry the provider name, the HTTP status and the vendor's own short message with the key scrubbed
out, never headers or URLs (image URLs and webhook URLs can be signed). Transport exceptions are
re-raised ``from None`` so that a traceback does not drag the request along.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from typing import Any

import httpx

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.keyed_http import (
    DEFAULT_CONNECT_TIMEOUT,
    USER_AGENT,
    KeyedHttpClient,
    Secret,
    make_timeout,
)
from chalicelib.adapters.outbound.bounded import BodyRefused, DeadlineTransport, call_deadline, read_capped
from chalicelib.adapters.outbound.fetch import FetchRefused, decode_base64, decode_data_uri, fetch_image
from chalicelib.adapters.providers.answers import (
    BILLING_MARKERS,
    CONTENT_POLICY_MARKERS,
    as_dict,
    error_message,
    parse_retry_after,
)
from chalicelib.adapters.providers.options import DEFAULT_MAX_ANSWER_BYTES, Clock, ProviderOptions, Sleep
from chalicelib.ports import (
    ContentRejected,
    ImageProvider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    ProviderThrottled,
    RetryableProviderError,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",  # re-exported from keyed_http, like USER_AGENT, Secret, make_timeout
    "DEFAULT_MAX_ANSWER_BYTES",
    "USER_AGENT",
    "Clock",
    "HttpProvider",
    "ProviderOptions",
    "Secret",
    "Sleep",
    "make_timeout",
]

ERROR_BODY_BYTES = 64 * 1024  # what is read of an error answer: its message is at the start
_ACCEPT_ENCODING = "gzip, deflate"  # what read_capped inflates under the cap (never brotli/zstd)
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("provider_deadline", default=None)
# The vendor's id of the last call (a response header) or job of the generation under way: an error
# raised without one is given it, so that the failure is logged with an id the vendor can look up.
_vendor_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "provider_vendor_request_id", default=None
)
# Where vendors put their request id (OpenAI and Together: x-request-id; fal: x-fal-request-id).
REQUEST_ID_HEADERS = ("x-request-id", "x-fal-request-id", "request-id")


class HttpProvider(KeyedHttpClient, ImageProvider):
    """Base of the HTTP adapters: client, error mapping, image loading, results."""

    default_allowed_hosts: tuple[str, ...] = ()
    default_read_timeout: float = 60.0
    default_base_url: str = ""
    default_models: Mapping[str, str] = {}
    default_steps: Mapping[str, int] = {}  # model -> inference steps sent with it (none: the model's own)

    def __init__(
        self,
        api_key: str | KeyPool,
        options: ProviderOptions | None = None,
        *,
        steps: Mapping[str, int] | None = None,
    ) -> None:
        """``options``: what every HTTP adapter shares (:class:`ProviderOptions`); None: the defaults.
        ``steps``: inference steps per model (None or empty: the vendor's ``default_steps``)."""
        o = options or ProviderOptions()
        super().__init__(api_key, timeout=o.timeout_for(self.default_read_timeout), transport=o.transport)
        self.options = o
        self._base_url = (o.base_url or self.default_base_url).rstrip("/")
        self._models = dict(o.models or self.default_models)
        self._steps = dict(steps or self.default_steps)
        self._allowed_hosts = (*self.default_allowed_hosts, *o.extra_allowed_hosts)
        self._resolver = o.resolver
        self._prices = o.prices
        self._max_image_bytes = o.max_image_bytes
        self._max_answer_bytes = o.max_answer_bytes
        self._fetch_timeout = o.download_timeout
        self._sleep: Sleep = o.sleep
        self._clock: Clock = o.clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, models={self._models!r})"

    # -- configuration ---------------------------------------------------------------------

    @property
    def vendors(self) -> tuple[str, ...]:
        return (self.name,)

    def supports(self, quality: str) -> bool:
        """True if this adapter has a model for ``quality`` (fast, standard, pro)."""
        return quality in self._models

    def model_for(self, quality: str) -> str:
        model = self._models.get(quality)
        if model is None:
            raise ProviderBadRequest(f"{self.name}: quality {quality!r} is not offered here")
        return model

    # -- HTTP (the client, close() and _scrub() are KeyedHttpClient's) ----------------------

    def client_transport(self) -> httpx.BaseTransport:
        """The injected transport (tests), else httpx's own over the deadline-bounded sockets."""
        return self._transport or DeadlineTransport()

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """One call, bounded in total and read whole under the answer cap (see the module doc)."""
        left = self._time_left()
        timeout = self._remaining_timeout(timeout, left)
        total = None if timeout.read is None else (timeout.connect or 0.0) + timeout.read
        if left is not None:
            total = left if total is None else min(total, left)
        try:
            request = self.client.build_request(
                method,
                url,
                json=json_body,
                params=params or None,
                headers={"Accept-Encoding": _ACCEPT_ENCODING, **(headers or {})},
                timeout=timeout,
            )
            with call_deadline(total) as deadline:
                response = self.client.send(request, stream=True)
                try:
                    ok = response.is_success
                    limit = self._max_answer_bytes if ok else ERROR_BODY_BYTES
                    body = read_capped(response, limit, deadline, inflate=True, truncate=not ok)
                finally:
                    response.close()
        except BodyRefused as exc:
            raise self._body_error(exc) from None
        except httpx.TimeoutException as exc:
            raise RetryableProviderError(f"{self.name}: timed out ({type(exc).__name__})") from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL):
            # Unreachable or misconfigured (a base URL without a scheme): failing on every call.
            raise ProviderDown(f"{self.name}: cannot connect to the API") from None
        except httpx.HTTPError as exc:
            raise RetryableProviderError(f"{self.name}: transport error ({type(exc).__name__})") from None
        self.note_vendor_request_id(
            next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), "")
        )
        reason = response.extensions.get("reason_phrase")
        return httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS],
            content=body,
            request=request,
            extensions={"reason_phrase": reason} if isinstance(reason, bytes) else {},
        )

    def _body_error(self, exc: BodyRefused) -> ProviderError:
        if exc.reason == "timeout":
            return RetryableProviderError(f"{self.name}: timed out (the answer took too long)")
        if exc.reason == "too_large":
            return ProviderDown(f"{self.name}: the answer is larger than {self._max_answer_bytes} bytes")
        return ProviderDown(f"{self.name}: the answer could not be read ({exc})")

    def _call_json(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> dict[str, Any]:
        response = self._send(
            method, url, json_body=json_body, params=params, headers=headers, timeout=timeout
        )
        if not response.is_success:
            raise self.error_for(response)
        return self._parse_json(response)

    def _parse_json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            # A 200 that is not JSON is typically a proxy or CDN page: likely transient.
            raise RetryableProviderError(
                f"{self.name}: the answer was not JSON (HTTP {response.status_code})"
            ) from None
        return as_dict(payload, self.name, "the answer")

    # -- error mapping ---------------------------------------------------------------------

    def is_content_rejection(self, status: int, payload: Any, text: str) -> bool:
        """True if a 4xx answer refuses the prompt or the output on content grounds."""
        lowered = text.lower()
        return any(marker in lowered for marker in CONTENT_POLICY_MARKERS)

    def is_billing_problem(self, status: int, payload: Any, text: str) -> bool:
        """True if the answer says the account is out of credit or quota."""
        lowered = text.lower()
        return any(marker in lowered for marker in BILLING_MARKERS)

    def error_for(self, response: httpx.Response) -> ProviderError:
        """The typed error for a non-2xx answer, with the vendor's request id if it sent one."""
        error = self._error_for(response)
        error.vendor_request_id = next(
            (response.headers[h][:128] for h in REQUEST_ID_HEADERS if h in response.headers), None
        )
        return error

    def _error_for(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        text = response.text
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        message = self._scrub(error_message(payload, text)) or response.reason_phrase
        summary = f"{self.name}: HTTP {status}: {message}"
        if status in (401, 403):
            return ProviderAuthError(summary)
        if status == 402 or (status in (400, 429) and self.is_billing_problem(status, payload, text)):
            return ProviderAuthError(summary)
        if status == 429:
            return ProviderThrottled(summary, retry_after=parse_retry_after(response.headers, text))
        if status in (400, 422) and self.is_content_rejection(status, payload, text):
            return ContentRejected(summary)
        if status in (408, 409, 425) or status >= 500:
            return RetryableProviderError(summary, retry_after=parse_retry_after(response.headers))
        if status == 404:
            # The model or endpoint is not there: every call would fail the same way.
            return ProviderDown(summary)
        return ProviderBadRequest(summary)

    # -- images and results ----------------------------------------------------------------

    def load_image(self, ref: str, *, raw_base64: bool = False) -> bytes:
        """The bytes behind a ``data:`` URI, an https URL (allowlisted) or, if allowed, raw base64."""
        left = self._time_left()  # the download ends by the generation's deadline too
        try:
            if ref.startswith("data:"):
                return decode_data_uri(ref, max_bytes=self._max_image_bytes)
            if raw_base64 and not ref.startswith(("https://", "http://")):
                return decode_base64(ref, max_bytes=self._max_image_bytes)
            return fetch_image(
                ref,
                allowed_hosts=self._allowed_hosts,
                max_bytes=self._max_image_bytes,
                timeout=self._fetch_timeout if left is None else min(self._fetch_timeout, left),
                transport=self._transport,
                resolver=self._resolver,
                user_agent=USER_AGENT,
            )
        except FetchRefused as exc:
            raise self._fetch_error(exc) from None

    def _fetch_error(self, exc: FetchRefused) -> ProviderError:
        summary = f"{self.name}: the image could not be loaded ({exc.reason})"
        if exc.reason in ("timeout", "connection"):
            return RetryableProviderError(summary)
        if exc.reason == "http_status":
            return RetryableProviderError(f"{summary}: HTTP {exc.status_code}")
        # The provider pointed us somewhere we will not go, or gave us something that is not an
        # image: this provider is misbehaving, let the router go elsewhere.
        return ProviderDown(summary)

    def make_result(
        self, image: bytes, model: str, width: int, height: int, started: float
    ) -> ProviderResult:
        return ProviderResult(
            image=image,
            provider=self.name,
            model=model,
            cost_usd=self._prices.cost_usd(self.name, model, width, height),
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        """Make the image; with ``within_s``, no HTTP call of it waits past that many seconds.
        A :class:`ProviderError` raised carries the vendor's request id where it gave one."""
        token = _deadline.set(None if within_s is None else self._clock() + within_s)
        id_token = _vendor_request_id.set(None)
        try:
            return self._generate(request)
        except ProviderError as exc:
            if exc.vendor_request_id is None:
                exc.vendor_request_id = _vendor_request_id.get()
            raise
        finally:
            _vendor_request_id.reset(id_token)
            _deadline.reset(token)

    def note_vendor_request_id(self, value: object) -> None:
        """Remember the vendor's id of the call or job under way (see :meth:`generate`)."""
        if isinstance(value, str) and value:
            _vendor_request_id.set(value[:128])

    def _generate(self, request: ProviderRequest) -> ProviderResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- the generation's deadline ---------------------------------------------------------

    def _time_left(self) -> float | None:
        """Seconds left before the generation's deadline (None: no deadline, not in ``generate``);
        raises a timeout once it has passed."""
        deadline = _deadline.get()
        if deadline is None:
            return None
        left = deadline - self._clock()
        if left <= 0:
            raise RetryableProviderError(f"{self.name}: no time left before the deadline")
        return left

    def _remaining_timeout(self, timeout: httpx.Timeout | None, left: float | None) -> httpx.Timeout:
        """The call's timeout, each phase cut to ``left`` (what is left of the deadline, if any)."""
        base = timeout or self._timeout
        if left is None:
            return base
        return httpx.Timeout(
            connect=min(base.connect or left, left),
            read=min(base.read or left, left),
            write=min(base.write or left, left),
            pool=min(base.pool or left, left),
        )
