"""Enterprise API keys: issue, look up, list and revoke.

A key is ``afk_live_`` followed by 32 random URL-safe characters (192 bits), shown once when it
is issued. The store never sees it: it keeps ``HMAC-SHA256(pepper, key)`` (a keyed hash, so that
a copy of the store alone cannot even confirm a guessed key) and looks a key up with one GET of
``apikey:{hmac}``. Revocation deletes that lookup in the same call that marks the record revoked.

Each key carries a Standard Webhooks secret (``whsec_`` + base64 of 32 random bytes) with which
the callbacks of its generations are signed; it is kept as is (it must be usable to sign) and is
returned once, at issue, and never by a listing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Identity
from chalicelib.domain.tiers import WINDOW_SECONDS, Window
from chalicelib.ports import ApiKeyRecord, ApiKeyStore

__all__ = ["KEY_PREFIX", "ApiKeyService", "IssuedKey", "hash_key"]

KEY_PREFIX = "afk_live_"
KEY_RANDOM_CHARS = 32
DISPLAY_CHARS = 4  # random characters kept next to the prefix so that an operator can tell keys apart
MAX_KEY_CHARS = 128
WINDOW_ORDER = ("hour", "day", "month")


def hash_key(pepper: bytes, key: str) -> str:
    """The key's name in the store: HMAC-SHA256 under the server's pepper, hex."""
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class IssuedKey:
    """A freshly issued key: the only moment the key and its webhook secret are shown."""

    __slots__ = ("id", "key", "webhook_secret")

    def __init__(self, key_id: str, key: str, webhook_secret: str) -> None:
        self.id = key_id
        self.key = key
        self.webhook_secret = webhook_secret

    def __repr__(self) -> str:  # never the key or the secret in a log line or a traceback
        return f"IssuedKey(id={self.id!r})"


class ApiKeyService:
    """Issues and checks enterprise API keys; ``pepper`` None means API keys are disabled."""

    def __init__(
        self, store: ApiKeyStore, pepper: bytes | None, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._pepper = pepper
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._pepper is not None

    def _require_pepper(self) -> bytes:
        if self._pepper is None:
            raise Forbidden("API keys are disabled: AVATARFLOW_API_KEY_PEPPER is not set.")
        return self._pepper

    def issue(self, name: str, tier: str, limits: Mapping[str, int] | None = None) -> IssuedKey:
        pepper = self._require_pepper()
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_CHARS * 3 // 4)
        key_id = "key_" + secrets.token_urlsafe(12)
        webhook_secret = new_webhook_secret()
        clean_limits = {w: int(limits[w]) for w in WINDOW_ORDER if limits and limits.get(w) is not None}
        self._store.put(
            ApiKeyRecord(
                id=key_id,
                name=name,
                tier=tier,
                limits=clean_limits,
                created_at=_iso(self._clock()),
                prefix=key[: len(KEY_PREFIX) + DISPLAY_CHARS],
                key_hash=hash_key(pepper, key),
                webhook_secret=webhook_secret,
            )
        )
        return IssuedKey(key_id, key, webhook_secret)

    def lookup(self, key: str) -> Identity | None:
        """The identity of a live key, in one store call; None for an unknown or revoked key."""
        if self._pepper is None or not key.startswith("afk_") or len(key) > MAX_KEY_CHARS:
            return None  # not one of ours: no store call for garbage
        record = self._store.by_hash(hash_key(self._pepper, key))
        if record is None or record.revoked:
            return None
        return Identity("api_key", record.id, record.tier, windows=windows_of(record.limits))

    def list_keys(self) -> list[ApiKeyRecord]:
        return self._store.list()

    def revoke(self, key_id: str) -> None:
        if not key_id or len(key_id) > 64 or not self._store.revoke(key_id):
            raise NotFound("No such API key.")

    def webhook_secret(self, key_id: str) -> str | None:
        """The secret that signs the callbacks of this key's generations (None if unknown)."""
        record = self._store.get(key_id) if key_id and len(key_id) <= 64 else None
        return record.webhook_secret if record is not None and record.webhook_secret else None


def windows_of(limits: Mapping[str, int]) -> tuple[Window, ...] | None:
    """A key's own quota windows, or None to use its tier's."""
    windows = tuple(Window(name, int(limits[name])) for name in WINDOW_ORDER if name in limits)
    return tuple(w for w in windows if w.name in WINDOW_SECONDS) or None
