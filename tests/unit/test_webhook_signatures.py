"""Webhook signatures: the Standard Webhooks test vector, fal's ED25519 scheme, the JWKS cache."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chalicelib.adapters.outbound.fal_keys import FalJwks
from chalicelib.domain.webhook_signatures import (
    SignatureError,
    fal_signed_message,
    sign_standard_webhook,
    verify_fal_webhook,
    verify_standard_webhook,
)

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def vector_headers(signature: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {"Webhook-Id": VECTOR_ID, "Webhook-Timestamp": str(VECTOR_TS), "Webhook-Signature": signature}


def test_standard_webhooks_reference_vector() -> None:
    assert sign_standard_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert (
        verify_standard_webhook(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 10) == VECTOR_ID
    )
    # Several signatures (key rotation): one match is enough.
    rotated = vector_headers(f"v1,bm90LWl0 {VECTOR_SIGNATURE}")
    assert verify_standard_webhook(VECTOR_SECRET, rotated, VECTOR_BODY, now=VECTOR_TS) == VECTOR_ID


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (vector_headers(), b'{"test": 2432232315}', VECTOR_TS, "mismatch"),
        (vector_headers(), VECTOR_BODY, VECTOR_TS + 301, "stale"),
        (vector_headers(), VECTOR_BODY, VECTOR_TS - 301, "stale"),
        ({"webhook-id": VECTOR_ID}, VECTOR_BODY, VECTOR_TS, "missing"),
        (vector_headers("v2," + VECTOR_SIGNATURE[3:]), VECTOR_BODY, VECTOR_TS, "mismatch"),
        ({**vector_headers(), "Webhook-Timestamp": "soon"}, VECTOR_BODY, VECTOR_TS, "malformed"),
    ],
)
def test_standard_webhooks_refusals(headers: dict[str, str], body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureError) as refused:
        verify_standard_webhook(VECTOR_SECRET, headers, body, now=now)
    assert refused.value.reason == reason


def test_no_secret_configured_verifies_nothing() -> None:
    with pytest.raises(SignatureError) as refused:
        verify_standard_webhook("", vector_headers(), VECTOR_BODY, now=VECTOR_TS)
    assert refused.value.reason == "unconfigured"


class Jwks:
    def __init__(self, *keys: Ed25519PrivateKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        docs = []
        for key in self.keys:
            raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            docs.append(
                {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
            )
        return httpx.Response(200, json={"keys": docs})


def fal_headers(key: Ed25519PrivateKey, body: bytes, ts: int) -> dict[str, str]:
    signature = key.sign(fal_signed_message("req-9", "user-1", str(ts), body))
    return {
        "x-fal-webhook-request-id": "req-9",
        "x-fal-webhook-user-id": "user-1",
        "x-fal-webhook-timestamp": str(ts),
        "x-fal-webhook-signature": signature.hex(),
    }


def test_fal_signatures_verify_with_a_cached_jwks_refreshed_on_rotation_at_most_every_few_minutes() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server = Jwks(old)
    clock = [0.0]
    jwks = FalJwks(
        "https://jwks.fal.test/jwks.json",
        transport=httpx.MockTransport(server.handler),
        min_refresh_s=300,
        clock=lambda: clock[0],
    )
    body = b'{"status": "OK"}'
    assert verify_fal_webhook(jwks, fal_headers(old, body, 1000), body, now=1000) == "req-9"
    assert verify_fal_webhook(jwks, fal_headers(old, body, 1000), body, now=1000) == "req-9"
    assert server.fetches == 1  # cached

    server.keys = [new]  # fal rotates its key
    clock[0] = 10.0
    with pytest.raises(SignatureError):
        verify_fal_webhook(jwks, fal_headers(new, body, 1000), body, now=1000)
    assert server.fetches == 1  # a refresh is not allowed yet: forged floods cannot amplify
    clock[0] = 400.0
    assert verify_fal_webhook(jwks, fal_headers(new, body, 1000), body, now=1000) == "req-9"
    assert server.fetches == 2

    tampered = fal_headers(new, body, 1000)
    with pytest.raises(SignatureError) as refused:
        verify_fal_webhook(jwks, tampered, b'{"status": "ERROR"}', now=1000)
    assert refused.value.reason == "mismatch"
    with pytest.raises(SignatureError) as stale:
        verify_fal_webhook(jwks, fal_headers(new, body, 1000), body, now=1000 + 301)
    assert stale.value.reason == "stale"
