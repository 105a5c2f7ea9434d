"""The tier table: limits, qualities, sizes and queue lane per tier (defaults; configurable)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "month": 30 * 86400}


@dataclass(frozen=True)
class Window:
    """A fixed quota window: ``limit`` generations per ``name`` (hour, day or month)."""

    name: str
    limit: int

    @property
    def seconds(self) -> int:
        return WINDOW_SECONDS[self.name]


@dataclass(frozen=True)
class Tier:
    name: str
    windows: tuple[Window, ...]
    qualities: tuple[str, ...]
    sizes: tuple[int, ...]
    lane: str
    batch_lane: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_TIERS: dict[str, Tier] = {
    "anonymous": Tier("anonymous", (Window("hour", 3), Window("day", 3)), ("fast",), (512,), "free"),
    "free": Tier("free", (Window("hour", 5), Window("day", 5)), ("fast",), (512,), "free"),
    "premium": Tier(
        "premium", (Window("hour", 50), Window("month", 500)), ("fast", "standard"), (512, 1024), "premium"
    ),
    "enterprise": Tier(
        "enterprise", (), ("fast", "standard", "pro"), (512, 1024), "enterprise", batch_lane="batch"
    ),
}

# In priority order. Enterprise has a lane of its own, above premium: its own SQS queue, DLQ and
# reserved concurrency, and in the in-process worker a thread of its own (a premium spike cannot
# hold it up).
LANES: tuple[str, ...] = ("enterprise", "premium", "free", "batch")


def load_tiers(overrides_json: str | None) -> dict[str, Tier]:
    """The default tier table with overrides from ``AVATARFLOW_TIERS``.

    The override is JSON: ``{"free": {"windows": {"hour": 10, "day": 20}, "sizes": [512]}}``;
    keys left out keep their defaults.
    """
    tiers = dict(DEFAULT_TIERS)
    if not overrides_json:
        return tiers
    raw = json.loads(overrides_json)
    if not isinstance(raw, dict):
        raise ValueError("AVATARFLOW_TIERS must be a JSON object keyed by tier name")
    for name, spec in raw.items():
        if name not in tiers or not isinstance(spec, dict):
            raise ValueError(f"AVATARFLOW_TIERS: unknown tier or bad entry {name!r}")
        base = tiers[name]
        lane = str(spec.get("lane", base.lane))
        if lane not in LANES:
            raise ValueError(f"AVATARFLOW_TIERS: tier {name!r} names unknown lane {lane!r}")
        windows = base.windows
        if "windows" in spec:
            windows = tuple(Window(w, int(n)) for w, n in spec["windows"].items() if w in WINDOW_SECONDS)
        tiers[name] = Tier(
            name,
            windows,
            tuple(spec.get("qualities", base.qualities)),
            tuple(int(s) for s in spec.get("sizes", base.sizes)),
            lane,
            base.batch_lane,
        )
    return tiers
