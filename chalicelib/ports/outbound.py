"""Outbound HTTP the use cases need, each behind an adapter: client callbacks, picture downloads,
identity providers' signing keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class DeliveryRefused(Exception):
    """The destination is not one we may call (not https, credentials in the URL, a non-public
    address): every try would be refused the same way. ``reason`` is a short code."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class DeliveryFailed(Exception):
    """This try failed (unreachable, timeout, a non-2xx answer); a later one may pass."""


class WebhookSender(Protocol):
    """POSTs a signed client callback to its URL (checked against SSRF, no redirects)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Deliver or raise :class:`DeliveryRefused` / :class:`DeliveryFailed`."""
        ...


class ImageFetcher(Protocol):
    """Downloads a picture from a source's own hosts (SSRF-safe, size-capped, bounded in time)."""

    def fetch(self, url: str, *, allowed_hosts: tuple[str, ...]) -> bytes:
        """The picture's bytes; raises :class:`DeliveryRefused` for anything not to be fetched."""
        ...


class SigningKeys(Protocol):
    """An identity provider's public signing keys (a JWKS), by key id."""

    def key(self, kid: str) -> Any | None:
        """The verification key for ``kid`` (None if the set has no such key)."""
        ...


class WebhookKeys(Protocol):
    """A provider's public keys for its webhook signatures (fal's JWKS)."""

    def keys(self, *, refresh: bool = False) -> list[Any]:
        """The keys; ``refresh`` asks for a fresh copy (a key rotation), as the adapter allows."""
        ...
