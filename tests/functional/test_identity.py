"""Identity per the contract: JWT HS256 users, anonymous by source IP; bad tokens are 401."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_SECRET, token


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def quota_with(client: Any, authorization: str) -> Any:
    return client.http.get("/v1/me/quota", headers={"Authorization": authorization})


FUTURE = int(time.time()) + 3600

BAD_TOKENS = {
    "forged signature": jwt.encode(
        {"sub": "u", "exp": FUTURE}, "not-the-secret-but-long-enough-0123456789", "HS256"
    ),
    "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'u', 'exp': FUTURE, 'tier': 'premium'})}.",
    "expired": token("u", expires_in=-60),
    "no sub": jwt.encode({"exp": FUTURE}, JWT_SECRET, "HS256"),
    "empty sub": jwt.encode({"sub": "", "exp": FUTURE}, JWT_SECRET, "HS256"),
    "no exp": jwt.encode({"sub": "u"}, JWT_SECRET, "HS256"),
    "unknown tier": token("u", tier="god"),
    "anonymous tier claimed": token("u", tier="anonymous"),
    "garbage": "not.a.jwt",
    "huge": "a" * 20_000,
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_tokens_are_401(client: Any, name: str) -> None:
    response = quota_with(client, f"Bearer {BAD_TOKENS[name]}")
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_other_schemes_are_401(client: Any, authorization: str) -> None:
    assert quota_with(client, authorization).status_code == 401


def test_valid_token_carries_tier(client: Any) -> None:
    response = quota_with(client, f"Bearer {token('premium-user', tier='premium')}")
    assert response.status_code == 200
    body = response.json_body
    assert body["tier"] == "premium"
    assert {w["window"]: w["limit"] for w in body["limits"]} == {"hour": 50, "month": 500}


def test_tier_defaults_to_free(client: Any) -> None:
    assert quota_with(client, f"Bearer {token('u2', tier=None)}").json_body["tier"] == "free"


def test_unknown_api_key_is_401(client: Any) -> None:
    response = client.http.get("/v1/me/quota", headers={"X-API-Key": "afk_live_unknown"})
    assert response.status_code == 401


def test_no_credentials_is_anonymous(client: Any) -> None:
    body = client.http.get("/v1/me/quota").json_body
    assert body["tier"] == "anonymous"
    assert {w["window"]: w["limit"] for w in body["limits"]} == {"hour": 3, "day": 3}
