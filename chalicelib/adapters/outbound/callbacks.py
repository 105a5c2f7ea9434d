"""Client callbacks over HTTPS: :class:`chalicelib.ports.WebhookSender` on httpx.

The URL is checked like any outbound fetch (``chalicelib.adapters.outbound.fetch``): https only, no credentials,
and every address the host resolves to must be public (no private, loopback, link-local or
metadata address); the connection itself goes through ``GuardedTransport``, which checks the
address again at connect time (DNS rebinding). Redirects are not followed; a proxy from the
environment is never used (it would bypass the address checks).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping

import httpx

from chalicelib.adapters.outbound.fetch import (
    FetchRefused,
    GuardedTransport,
    Resolver,
    is_public_address,
    system_resolver,
)
from chalicelib.ports import DeliveryFailed, DeliveryRefused

USER_AGENT = "avatarflow-webhooks/1.0"
PERMANENT = ("scheme", "bad_url", "private_address")  # refusals every later try would meet too


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
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class HttpWebhookSender:
    """POSTs signed callbacks with one pooled client (explicit timeouts, no redirects)."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._transport = transport
        self._resolver = resolver or system_resolver
        self._timeout = httpx.Timeout(timeout, connect=min(3.0, timeout))
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

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            check_callback_url(url, self._resolver)
            response = self.client.post(url, content=body, headers=dict(headers))
        except FetchRefused as exc:
            if exc.reason in PERMANENT:
                raise DeliveryRefused(exc.reason) from None
            raise DeliveryFailed(exc.reason) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")
