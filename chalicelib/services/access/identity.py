"""Authenticate a request: JWT bearer token, API key, or anonymous by source IP."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.identity import Identity
from chalicelib.ports import SigningKeys

USER_TIERS = ("free", "premium", "enterprise")
MAX_TOKEN_CHARS = 8192
DEV_TOKEN_TTL_S = 24 * 3600

ApiKeyLookup = Callable[[str], Identity | None]


class Authenticator:
    """Turns request headers into an :class:`Identity` or raises :class:`Unauthorized`."""

    def __init__(
        self, jwt_secret: str, api_key_lookup: ApiKeyLookup | None = None, jwks: SigningKeys | None = None
    ) -> None:
        self._secret = jwt_secret
        self._api_key_lookup = api_key_lookup
        self._jwks = jwks  # RS256 tokens (AVATARFLOW_JWKS_URL); HS256 is always the shared secret

    def authenticate(self, headers: Mapping[str, str], source_ip: str) -> Identity:
        authorization = headers.get("authorization")
        if authorization:
            return self._from_bearer(authorization)
        api_key = headers.get("x-api-key")
        if api_key:
            return self._from_api_key(api_key)
        # Never X-Forwarded-For: the client writes that header; API Gateway's sourceIp it cannot.
        return Identity("anonymous", source_ip or "unknown", "anonymous")

    def _from_bearer(self, authorization: str) -> Identity:
        import jwt  # lazy: PyJWT loads cryptography, a cold-start cost anonymous and API-key calls skip

        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("The bearer token is not valid.")
        try:
            # One algorithm per key, pinned: "none" is refused, and an HS256 token "signed" with
            # the public RSA key is checked against the HS256 secret (and fails), never the JWKS.
            header = jwt.get_unverified_header(token)
            if header.get("alg") == "RS256" and self._jwks is not None:
                key: Any = self._rs256_key(header)
                algorithm = "RS256"
            else:
                key, algorithm = self._secret, "HS256"
            claims = jwt.decode(token, key, algorithms=[algorithm], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The bearer token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The bearer token is not valid.") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 256:
            raise Unauthorized("The bearer token has no usable 'sub' claim.")
        tier = claims.get("tier", "free")
        if tier not in USER_TIERS:
            raise Unauthorized("The bearer token names an unknown tier.")
        return Identity("user", subject, str(tier))

    def _rs256_key(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256 or self._jwks is None:
            raise Unauthorized("The bearer token is not valid.")
        jwk = self._jwks.key(kid)
        if jwk is None:
            raise Unauthorized("The bearer token is signed by an unknown key.")
        return jwk.key

    def _from_api_key(self, api_key: str) -> Identity:
        identity = self._api_key_lookup(api_key) if self._api_key_lookup and len(api_key) < 200 else None
        if identity is None:
            raise Unauthorized("The API key is unknown or revoked.")
        return identity


def issue_dev_token(secret: str, subject: str, tier: str, now: float) -> tuple[str, int]:
    """A user token for the local stage (its "sign in as" control): HS256 with the JWT secret,
    expiring in 24 h. Returns the token and its expiry (epoch seconds)."""
    if tier not in USER_TIERS:
        raise ValueError(f"unknown tier {tier!r}")
    import jwt

    expires_at = int(now) + DEV_TOKEN_TTL_S
    token = jwt.encode(
        {"sub": subject, "tier": tier, "iat": int(now), "exp": expires_at}, secret, algorithm="HS256"
    )
    return token, expires_at
