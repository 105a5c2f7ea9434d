"""The FLUX schnell-against-dev experiment on the ``fast`` quality.

A share of the eligible requests (``AVATARFLOW_EXPERIMENT_DEV_SHARE``, 0..1, default 0: off) is
served by FLUX.1 [dev] instead of [schnell]. The arm is a pure function of the caller's identity,
so a user always sees the same arm. Each generation records its arm; the outcome measured is
whether its owner made it their avatar, against what it cost.

An arm's model is part of the result cache's key (``Generation.cache_quality``): the arms never
share a cached result, an identical job in flight or a similar result, else a dev user could be
served schnell's picture (and the reverse), which would blur both the cost and the adoption of
each arm. The schnell arm keeps the key every ``fast`` request has always had, so the cache built
before the experiment still serves it.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

Arm = Literal["schnell", "dev"]

NAME = "flux_dev_for_fast"
ARMS: tuple[Arm, ...] = ("schnell", "dev")
ELIGIBLE_QUALITY = "fast"
# The dev arm is served at the quality whose model is FLUX.1 [dev] (providers and prices as is).
DEV_QUALITY = "standard"


def arm_for(identity_key: str, share: float) -> Arm:
    """The caller's arm: ``dev`` for a stable ``share`` of identities (a hash of the identity,
    salted with the experiment's name, so another experiment splits users differently)."""
    digest = hashlib.sha256(f"{NAME}:{identity_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return "dev" if point < share else "schnell"


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
