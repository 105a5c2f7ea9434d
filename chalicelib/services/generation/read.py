"""Reads of the caller's own things: one generation, the history, the quota left."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.identity import Identity
from chalicelib.domain.tiers import Tier
from chalicelib.ports import Clock, Counters, GenerationStore
from chalicelib.schemas import models
from chalicelib.services.generation.admission import window_charges
from chalicelib.services.generation.views import GenerationView

MAX_ID_CHARS = 64


class ReadGenerations:
    """``GET /v1/generations/{id}``, ``GET /v1/generations`` and ``GET /v1/me/quota``: one store call each."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        counters: Counters,
        tiers: Mapping[str, Tier],
        view: GenerationView,
        clock: Clock,
    ) -> None:
        self._generations = generations
        self._counters = counters
        self._tiers = tiers
        self._view = view
        self._clock = clock

    def get(self, identity: Identity, generation_id: str) -> models.Generation:
        """One generation of the caller's; another identity's answers 404 like a missing one."""
        found = self._generations.get(generation_id) if len(generation_id) <= MAX_ID_CHARS else None
        if found is None or found.owner != identity.key:
            raise NotFound("No such generation.")
        return self._view.render(found)

    def history(self, identity: Identity, limit: int, cursor: str | None) -> models.GenerationPage:
        """The caller's generations, newest first, with an opaque cursor."""
        found, next_cursor = self._generations.history(identity.key, limit, decode_cursor(cursor))
        return models.GenerationPage(
            items=[self._view.render(g) for g in found],
            next_cursor=encode_cursor(next_cursor) if next_cursor else None,
        )

    def quota(self, identity: Identity) -> models.Quota:
        """The caller's remaining generations in each window of their tier."""
        tier = self._tiers[identity.tier]
        charges = window_charges(identity, tier, self._clock.time())
        counts = self._counters.quota_counts([c.key for c in charges])
        windows = [
            models.QuotaWindow(window=c.name, limit=c.limit, remaining=max(0, c.limit - n), reset=c.reset_at)
            for c, n in zip(charges, counts, strict=True)
        ]
        return models.Quota(
            tier=tier.name,
            limits=windows,
            qualities=[q for q in ("fast", "standard", "pro") if q in tier.qualities],
            sizes=sorted(tier.sizes),
        )


def encode_cursor(cursor: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"{cursor[0]}:{cursor[1]}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, _, gen_id = raw.partition(":")
        if not gen_id.startswith("gen_") or len(gen_id) > MAX_ID_CHARS:
            raise ValueError
        return int(score), gen_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}]
        ) from None
