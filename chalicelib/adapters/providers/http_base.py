"""Shared httpx plumbing for the provider adapters.

One lazily built :class:`httpx.Client` per adapter (reused across calls and threads), explicit
timeouts, vendor answers mapped onto the :class:`chalicelib.ports.ProviderError` hierarchy, and
image loading through :mod:`chalicelib.adapters.outbound.fetch` (``data:`` URIs and raw base64 decoded locally).

Secrets: the key and the client come from :class:`chalicelib.adapters.keyed_http.KeyedHttpClient`
(the key in a masked :class:`Secret`, sent only in the client's default headers). Error messages
carry the provider name, the HTTP status and the vendor's own short message with the key scrubbed
out, never headers or URLs (image URLs and webhook URLs can be signed). Transport exceptions are
re-raised ``from None`` so that a traceback does not drag the request along.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx

from chalicelib.adapters.keyed_http import (
    DEFAULT_CONNECT_TIMEOUT,
    USER_AGENT,
    KeyedHttpClient,
    Secret,
    make_timeout,
)
from chalicelib.adapters.outbound.fetch import (
    DEFAULT_MAX_BYTES,
    FetchRefused,
    Resolver,
    decode_base64,
    decode_data_uri,
    fetch_image,
)
from chalicelib.adapters.providers.answers import (
    BILLING_MARKERS,
    CONTENT_POLICY_MARKERS,
    as_dict,
    error_message,
    parse_retry_after,
)
from chalicelib.adapters.providers.pricing import PriceTable
from chalicelib.ports import (
    ContentRejected,
    ImageProvider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",  # re-exported from keyed_http, like USER_AGENT, Secret, make_timeout
    "USER_AGENT",
    "Clock",
    "HttpProvider",
    "Secret",
    "Sleep",
    "make_timeout",
]

Sleep = Callable[[float], None]
Clock = Callable[[], float]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("provider_deadline", default=None)


class HttpProvider(KeyedHttpClient, ImageProvider):
    """Base of the HTTP adapters: client, error mapping, image loading, results."""

    default_allowed_hosts: tuple[str, ...] = ()
    default_read_timeout: float = 60.0

    def __init__(
        self,
        api_key: str,
        *,
        models: Mapping[str, str],
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        extra_allowed_hosts: Collection[str] = (),
        resolver: Resolver | None = None,
        prices: PriceTable | None = None,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
        fetch_timeout: float = 15.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(api_key, timeout=timeout, transport=transport)
        self._models = dict(models)
        self._allowed_hosts = (*self.default_allowed_hosts, *extra_allowed_hosts)
        self._resolver = resolver
        self._prices = prices or PriceTable()
        self._max_image_bytes = max_image_bytes
        self._fetch_timeout = fetch_timeout
        self._sleep = sleep
        self._clock = clock

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
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = params
        if headers:
            kwargs["headers"] = headers
        timeout = self._remaining_timeout(timeout)
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableProviderError(f"{self.name}: timed out ({type(exc).__name__})") from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL):
            # Unreachable or misconfigured (a base URL without a scheme): failing on every call.
            raise ProviderDown(f"{self.name}: cannot connect to the API") from None
        except httpx.HTTPError as exc:
            raise RetryableProviderError(f"{self.name}: transport error ({type(exc).__name__})") from None

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
        """The typed error for a non-2xx answer."""
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
            return RetryableProviderError(summary, retry_after=parse_retry_after(response.headers, text))
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
        try:
            if ref.startswith("data:"):
                return decode_data_uri(ref, max_bytes=self._max_image_bytes)
            if raw_base64 and not ref.startswith(("https://", "http://")):
                return decode_base64(ref, max_bytes=self._max_image_bytes)
            return fetch_image(
                ref,
                allowed_hosts=self._allowed_hosts,
                max_bytes=self._max_image_bytes,
                timeout=self._fetch_timeout,
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
        """Make the image; with ``within_s``, no HTTP call of it waits past that many seconds."""
        token = _deadline.set(None if within_s is None else self._clock() + within_s)
        try:
            return self._generate(request)
        finally:
            _deadline.reset(token)

    def _generate(self, request: ProviderRequest) -> ProviderResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def _remaining_timeout(self, timeout: httpx.Timeout | None) -> httpx.Timeout | None:
        """The call's timeout, cut to what is left of the generation's deadline (if it has one)."""
        deadline = _deadline.get()
        if deadline is None:
            return timeout
        left = deadline - self._clock()
        if left <= 0:
            raise RetryableProviderError(f"{self.name}: no time left before the deadline")
        base = timeout or self._timeout
        return httpx.Timeout(
            connect=min(base.connect or left, left),
            read=min(base.read or left, left),
            write=min(base.write or left, left),
            pool=min(base.pool or left, left),
        )
