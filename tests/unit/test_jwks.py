"""RS256 user tokens through a JWKS (served locally with httpx.MockTransport); HS256 unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.outbound.jwks import JwksCache
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.access.identity import Authenticator

SECRET = "hs256-secret-for-unit-tests-0123456789abcdef"
JWKS_URL = "https://issuer.example/.well-known/jwks.json"


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


class Issuer:
    """An identity provider: RSA keys by kid, a JWKS document, and tokens signed with them."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.requests = 0
        self.status = 200

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        numbers = self.keys[kid].public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert str(request.url) == JWKS_URL
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, json={"keys": [self.jwk(kid) for kid in self.published]})

    def token(self, kid: str, sub: str = "rs-user", expires_in: int = 600, **claims: Any) -> str:
        payload = {"sub": sub, "exp": int(time.time()) + expires_in, **claims}
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def public_pem(self, kid: str) -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    made = Issuer()
    made.add_key("k1")
    made.add_key("k2", publish=False)  # rotated in later
    made.add_key("rogue", publish=False)  # never published
    return made


@pytest.fixture
def fresh(issuer: Issuer) -> Issuer:
    issuer.published = ["k1"]
    issuer.requests = 0
    issuer.status = 200
    return issuer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(fresh: Issuer, clock: Clock) -> Authenticator:
    cache = JwksCache(JWKS_URL, transport=httpx.MockTransport(fresh.handler), clock=clock)
    return Authenticator(SECRET, jwks=cache)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_rs256_token_is_verified_against_the_jwks_and_cached(auth: Authenticator, fresh: Issuer) -> None:
    identity = auth.authenticate(bearer(fresh.token("k1", tier="premium")), "1.2.3.4")
    assert (identity.kind, identity.subject, identity.tier) == ("user", "rs-user", "premium")
    for _ in range(5):
        auth.authenticate(bearer(fresh.token("k1")), "1.2.3.4")
    assert fresh.requests == 1


def test_the_set_is_fetched_again_after_its_ttl(auth: Authenticator, fresh: Issuer, clock: Clock) -> None:
    auth.authenticate(bearer(fresh.token("k1")), "ip")
    clock.now += 599
    auth.authenticate(bearer(fresh.token("k1")), "ip")
    assert fresh.requests == 1
    clock.now += 2
    auth.authenticate(bearer(fresh.token("k1")), "ip")
    assert fresh.requests == 2


def test_an_unknown_kid_refetches_once_then_accepts_a_rotated_key(
    auth: Authenticator, fresh: Issuer, clock: Clock
) -> None:
    auth.authenticate(bearer(fresh.token("k1")), "ip")
    clock.now += 60
    fresh.published.append("k2")  # the issuer rotates
    assert auth.authenticate(bearer(fresh.token("k2", sub="rotated")), "ip").subject == "rotated"
    assert fresh.requests == 2


def test_made_up_kids_cannot_cause_a_fetch_storm(auth: Authenticator, fresh: Issuer, clock: Clock) -> None:
    auth.authenticate(bearer(fresh.token("k1")), "ip")
    clock.now += 60
    for i in range(20):
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(_with_kid(fresh, f"made-up-{i}")), "ip")
    assert fresh.requests == 2  # one refetch for the first unknown kid, then none within 30 s


def _with_kid(issuer: Issuer, kid: str) -> str:
    payload = {"sub": "x", "exp": int(time.time()) + 60}
    return jwt.encode(payload, issuer.keys["rogue"], algorithm="RS256", headers={"kid": kid})


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
    auth: Authenticator, fresh: Issuer
) -> None:
    forged = jwt.encode(
        {"sub": "forger", "exp": int(time.time()) + 60},
        fresh.keys["rogue"],
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(forged), "ip")


def test_hs_rs_confusion_is_refused(auth: Authenticator, fresh: Issuer) -> None:
    # An HS256 token "signed" with the public RSA key as the HMAC secret, naming the JWKS kid.
    pem = fresh.public_pem("k1")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "evil", "exp": int(time.time()) + 60}).encode())
    signing_input = header.rstrip(b"=") + b"." + payload.rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer((signing_input + b"." + signature).decode()), "ip")


def test_alg_none_is_refused(auth: Authenticator) -> None:
    unsigned = jwt.encode({"sub": "nobody", "exp": int(time.time()) + 60}, "", algorithm="none")
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(unsigned), "ip")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "k1"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(
        json.dumps({"sub": "x", "exp": int(time.time()) + 60}).encode()
    ).rstrip(b"=")
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer((header + b"." + payload + b".").decode()), "ip")


def test_expired_rs256_and_missing_kid_are_refused(auth: Authenticator, fresh: Issuer) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        auth.authenticate(bearer(fresh.token("k1", expires_in=-10)), "ip")
    no_kid = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, fresh.keys["k1"], algorithm="RS256")
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(no_kid), "ip")


def test_hs256_tokens_keep_working_beside_the_jwks(auth: Authenticator, fresh: Issuer) -> None:
    token = jwt.encode(
        {"sub": "hs-user", "exp": int(time.time()) + 60, "tier": "free"}, SECRET, algorithm="HS256"
    )
    assert auth.authenticate(bearer(token), "ip").subject == "hs-user"
    assert fresh.requests == 0  # no JWKS fetch for an HS256 token


def test_rs256_without_a_jwks_url_is_refused(fresh: Issuer) -> None:
    with pytest.raises(Unauthorized):
        Authenticator(SECRET).authenticate(bearer(fresh.token("k1")), "ip")


def test_an_unreachable_jwks_refuses_new_tokens_and_keeps_serving_the_last_good_set(
    fresh: Issuer, clock: Clock
) -> None:
    cache = JwksCache(JWKS_URL, transport=httpx.MockTransport(fresh.handler), clock=clock)
    auth = Authenticator(SECRET, jwks=cache)
    fresh.status = 503
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(fresh.token("k1")), "ip")
    clock.now += 31
    fresh.status = 200
    assert auth.authenticate(bearer(fresh.token("k1")), "ip").subject == "rs-user"
    clock.now += 700  # stale, and the issuer is down again: the last good set still verifies
    fresh.status = 500
    assert auth.authenticate(bearer(fresh.token("k1")), "ip").subject == "rs-user"


def test_network_errors_and_garbage_documents_are_bounded(clock: Clock) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    cache = JwksCache(JWKS_URL, transport=httpx.MockTransport(broken), clock=clock)
    assert cache.key("k1") is None
    assert cache.key("k1") is None
    assert cache.fetches == 1  # not again within the refetch interval

    big = JwksCache(
        JWKS_URL,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b" " * 300_000)),
        clock=clock,
    )
    assert big.key("k1") is None
    odd = JwksCache(
        JWKS_URL,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(
                200, json={"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}, "x", 3]}
            )
        ),
        clock=clock,
    )
    assert odd.key("k1") is None  # a symmetric key in a JWKS is never used
