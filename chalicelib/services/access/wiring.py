"""The access use cases from their ports: who is calling, and the enterprise API keys."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.ports import ApiKeyStore, SigningKeys
from chalicelib.services.access.api_keys import ApiKeyService
from chalicelib.services.access.identity import Authenticator


@dataclass(frozen=True)
class AccessUseCases:
    """Every request's identity (``authenticator``) and the admin routes' API keys."""

    authenticator: Authenticator
    api_keys: ApiKeyService


def wire_access(
    api_keys: ApiKeyStore, *, pepper: bytes | None, jwt_secret: str, jwks: SigningKeys | None
) -> AccessUseCases:
    """API keys authenticate only where a pepper is configured (``ApiKeyService.enabled``);
    ``jwks`` verifies RS256 user tokens (HS256 needs only ``jwt_secret``)."""
    service = ApiKeyService(api_keys, pepper)
    return AccessUseCases(
        authenticator=Authenticator(jwt_secret, service.lookup if service.enabled else None, jwks=jwks),
        api_keys=service,
    )
