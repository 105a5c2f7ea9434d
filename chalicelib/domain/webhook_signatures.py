"""Webhook signatures: the ones we check (providers calling us) and the ones we make (client callbacks).

Confirmed against (via the reference search):

- Standard Webhooks (github.com/standard-webhooks/standard-webhooks, spec "Verifying webhook
  authenticity"), which Replicate uses (replicate.com/docs/topics/webhooks/verify-webhook):
  headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds), ``webhook-signature`` (a
  space-separated list of ``v1,<base64>``); the signature is HMAC-SHA256 over
  ``"<id>.<timestamp>.<raw body>"`` keyed with the base64-decoded part of the ``whsec_`` secret;
  timestamps more than 5 minutes from now are refused. Replicate's secret is the same for every
  webhook of the account (``GET /v1/webhooks/default/secret``): ``REPLICATE_WEBHOOK_SECRET``.
- fal (docs.fal.ai model-endpoints/webhooks, "Verifying webhook signatures", and public
  verifiers that follow it): headers ``X-Fal-Webhook-Request-Id``, ``X-Fal-Webhook-User-Id``,
  ``X-Fal-Webhook-Timestamp`` (Unix seconds), ``X-Fal-Webhook-Signature`` (hex); the ED25519
  signature is over ``request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + sha256_hex(body)``
  and verifies with one of the keys (``x``: base64url raw public key) of the JWKS at
  ``https://rest.alpha.fal.ai/.well-known/jwks.json`` (cached; fal suggests up to a day).

Every check is against the RAW body bytes (re-serialising JSON changes them) and compares in
constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)


class WebhookKeys(Protocol):
    """A provider's public keys (fal's JWKS): the port ``ports.outbound.WebhookKeys`` has this shape.

    Declared here too because the domain imports nothing above it.
    """

    def keys(self, *, refresh: bool = False) -> list[Any]: ...


TOLERANCE_S = 300

SignatureFailure = Literal["missing", "malformed", "stale", "mismatch", "keys_unavailable", "unconfigured"]


class SignatureError(Exception):
    """A webhook that must not be trusted; ``reason`` says why (never echoed to the caller)."""

    def __init__(self, reason: SignatureFailure, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason: SignatureFailure = reason


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _check_timestamp(raw: str, now: float, tolerance: float) -> int:
    try:
        timestamp = int(raw.strip())
    except ValueError:
        raise SignatureError("malformed", "the timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError("stale", "the timestamp is too far from now")
    return timestamp


# --------------------------------------------------------------------------------------------
# Standard Webhooks (Replicate's, and our own callbacks)
# --------------------------------------------------------------------------------------------


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (a secret without the prefix is taken as is)."""
    raw = secret.strip()
    if raw.startswith("whsec_"):
        raw = raw[len("whsec_") :]
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("unconfigured", "the webhook secret is not whsec_<base64>") from None


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (``v1,<base64>``) for a delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_S,
) -> str:
    """Check a Standard Webhooks delivery; returns its ``webhook-id`` or raises SignatureError."""
    if not secret:
        raise SignatureError("unconfigured", "no webhook secret is configured")
    h = _lower(headers)
    msg_id, raw_ts, signatures = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not msg_id or not raw_ts or not signatures:
        raise SignatureError("missing", "a webhook-* header is missing")
    if len(msg_id) > 256 or len(signatures) > 4096:
        raise SignatureError("malformed", "a webhook-* header is too long")
    timestamp = _check_timestamp(raw_ts, time.time() if now is None else now, tolerance)
    expected = sign_standard_webhook(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return msg_id
    raise SignatureError("mismatch", "no signature matches")


# --------------------------------------------------------------------------------------------
# fal (ED25519 with keys from a JWKS)
# --------------------------------------------------------------------------------------------


def fal_signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


def verify_fal_webhook(
    jwks: WebhookKeys,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_S,
) -> str:
    """Check a fal delivery; returns its (signed) request id or raises SignatureError."""
    from cryptography.exceptions import InvalidSignature

    h = _lower(headers)
    request_id = h.get("x-fal-webhook-request-id", "")
    user_id = h.get("x-fal-webhook-user-id", "")
    raw_ts = h.get("x-fal-webhook-timestamp", "")
    signature_hex = h.get("x-fal-webhook-signature", "")
    if not request_id or not raw_ts or not signature_hex:
        raise SignatureError("missing", "an X-Fal-Webhook-* header is missing")
    _check_timestamp(raw_ts, time.time() if now is None else now, tolerance)
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        raise SignatureError("malformed", "the signature is not hex") from None
    if len(signature) != 64:
        raise SignatureError("malformed", "an ED25519 signature has 64 bytes")
    message = fal_signed_message(request_id, user_id, raw_ts.strip(), body)
    for refresh in (False, True):
        for key in jwks.keys(refresh=refresh):
            try:
                key.verify(signature, message)
                return request_id
            except InvalidSignature:
                continue
    raise SignatureError("mismatch", "no fal key verifies the signature")


# --------------------------------------------------------------------------------------------
# Per-job secrets (providers that sign nothing: RunPod)
# --------------------------------------------------------------------------------------------


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_job_secret(expected_hash: str, presented: str | None) -> None:
    if not expected_hash:
        raise SignatureError("unconfigured", "the job has no callback secret")
    if not presented or len(presented) > 256:
        raise SignatureError("missing", "the callback secret is missing")
    if not hmac.compare_digest(secret_hash(presented), expected_hash):
        raise SignatureError("mismatch", "the callback secret does not match")
