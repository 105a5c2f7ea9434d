"""Authenticate a request: JWT bearer token, API key, or anonymous by source IP."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jwt

from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.identity import Identity

USER_TIERS = ("free", "premium", "enterprise")
MAX_TOKEN_CHARS = 8192

ApiKeyLookup = Callable[[str], Identity | None]


class Authenticator:
    """Turns request headers into an :class:`Identity` or raises :class:`Unauthorized`."""

    def __init__(self, jwt_secret: str, api_key_lookup: ApiKeyLookup | None = None) -> None:
        self._secret = jwt_secret
        self._api_key_lookup = api_key_lookup

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
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("The bearer token is not valid.")
        try:
            # algorithms pinned: "none" and RS/HS confusion are refused by PyJWT itself.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"]},
            )
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

    def _from_api_key(self, api_key: str) -> Identity:
        identity = self._api_key_lookup(api_key) if self._api_key_lookup and len(api_key) < 200 else None
        if identity is None:
            raise Unauthorized("The API key is unknown or revoked.")
        return identity
