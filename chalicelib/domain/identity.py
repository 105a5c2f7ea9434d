"""Who is calling: a website user, an enterprise API client, or an anonymous visitor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalicelib.domain.tiers import Window

IdentityKind = Literal["user", "api_key", "anonymous"]


@dataclass(frozen=True)
class Identity:
    kind: IdentityKind
    subject: str  # user id, API key id, or source IP
    tier: str
    # Per-identity quota windows (an API key's own caps) instead of the tier's; None = the tier's.
    windows: tuple[Window, ...] | None = None

    @property
    def key(self) -> str:
        """The identity's name in the state store; one namespace per kind so they never collide."""
        prefix = {"user": "u", "api_key": "k", "anonymous": "ip"}[self.kind]
        return f"{prefix}:{self.subject}"
