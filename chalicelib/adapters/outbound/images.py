"""Picture downloads for the gallery refresh: :class:`chalicelib.ports.ImageFetcher` over the
SSRF-safe fetch (allowlisted https hosts, every address public, size cap, one total deadline)."""

from __future__ import annotations

import httpx

from chalicelib.adapters.outbound.fetch import DEFAULT_MAX_BYTES, FetchRefused, Resolver, fetch_image
from chalicelib.ports import DeliveryRefused


class HttpImageFetcher:
    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._resolver = resolver
        self._transport = transport
        self._timeout = timeout
        self._max_bytes = max_bytes

    def fetch(self, url: str, *, allowed_hosts: tuple[str, ...]) -> bytes:
        try:
            return fetch_image(
                url,
                allowed_hosts=allowed_hosts,
                max_bytes=self._max_bytes,
                timeout=self._timeout,
                transport=self._transport,
                resolver=self._resolver,
            )
        except FetchRefused as exc:
            raise DeliveryRefused(exc.reason, str(exc)) from None
