"""fal's webhook public keys (its JWKS), fetched with httpx and cached: a
:class:`chalicelib.ports.WebhookKeys` for ``webhook_signatures.verify_fal_webhook``."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from chalicelib.domain.webhook_signatures import SignatureError

__all__ = ["FAL_JWKS_URL", "FalJwks"]

log = logging.getLogger(__name__)

FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"


class FalJwks:
    """fal's webhook public keys, fetched with httpx and cached.

    A signature that no cached key verifies triggers one refresh (key rotation), at most once per
    ``min_refresh_s``: a flood of forged webhooks cannot turn into a flood of JWKS fetches.
    """

    def __init__(
        self,
        url: str = FAL_JWKS_URL,
        *,
        ttl_s: float = 24 * 3600,
        min_refresh_s: float = 300,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl_s
        self._min_refresh = min_refresh_s
        self._timeout = httpx.Timeout(timeout, connect=min(3.0, timeout))
        self._transport = transport
        self._clock = clock
        self._keys: list[Any] = []
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def keys(self, *, refresh: bool = False) -> list[Any]:
        """Ed25519 public keys (``cryptography`` objects); refreshed when stale or asked to."""
        now = self._clock()
        with self._lock:
            stale = self._fetched_at is None or now - self._fetched_at > self._ttl
            allowed = self._fetched_at is None or now - self._fetched_at > self._min_refresh
            if stale or (refresh and allowed):
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
                    log.warning("fal JWKS unavailable: %s", type(exc).__name__)
                    if not self._keys:
                        raise SignatureError("keys_unavailable", "fal's JWKS cannot be read") from None
            return list(self._keys)

    def _fetch(self) -> list[Any]:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        with httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=False) as client:
            response = client.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            doc = json.loads(response.content)
        keys = []
        for jwk in doc["keys"]:
            if jwk.get("kty") != "OKP" or jwk.get("crv", "Ed25519") != "Ed25519" or not jwk.get("x"):
                continue
            x = str(jwk["x"])
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
        if not keys:
            raise ValueError("the JWKS holds no Ed25519 key")
        return keys
