"""What one generation costs, by provider and model: a small price table with JSON overrides.

Defaults (USD), from the vendors' price pages at the time of writing:

- fal: FLUX.1 [schnell] $0.003 / megapixel (fal.ai model page "Price: $0.003 per megapixels"),
  FLUX.1 [dev] $0.025 / megapixel, FLUX1.1 [pro] (``fal-ai/flux-pro/v1.1``) $0.04 / megapixel
  (as listed for fal by price aggregators, e.g. lumenfall.ai "$0.040 /image via fal.ai" for its
  1-megapixel images; one third-party page quotes $0.055: override it with
  ``AVATARFLOW_PROVIDER_PRICES`` if your fal invoice says otherwise);
- Replicate: flux-schnell $0.003 / image, flux-dev $0.025 / image;
- Together: FLUX.1 [schnell] $0.0027 / megapixel;
- OpenAI: gpt-image-1 per image by quality and size (OpenAI's pricing page, as copied by
  burncloud.com and findllms.com, checked 2026-12-07): low $0.011 (1024x1024) / $0.016 (1024x1536,
  1536x1024), medium $0.042 / $0.063, high $0.167 / $0.25. Keyed ``"<model> <quality> <WxH>"``;
  any other OpenAI model is counted at the dearest of these ($0.25) until it is priced here. DALL-E
  3 is gone from the API (and from this table);
- Hugging Face Inference Providers (hf-inference): FLUX.1 [schnell] $0.003 / megapixel, FLUX.1
  [dev] $0.025 / megapixel, the same as fal's (HF bills the routed provider's own rate, or compute
  time on hf-inference; an estimate that over-counts rather than under-counts: override it);
- RunPod: your own endpoint, billed per GPU second: configure it (default 0.0).

A megapixel is 1024 x 1024 pixels and, by default, a per-megapixel price is charged for whole
megapixels rounded up: the spend guard would rather over-count than under-count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

MEGAPIXEL = 1024 * 1024
WILDCARD = "*"  # a provider-wide price for any model not listed


@dataclass(frozen=True)
class Price:
    """A price in USD, per image or per megapixel."""

    usd: float
    per: Literal["image", "megapixel"] = "image"
    round_up: bool = True  # per-megapixel prices: bill whole megapixels

    def cost(self, width: int, height: int) -> float:
        if self.per == "image":
            return self.usd
        megapixels = max(width, 0) * max(height, 0) / MEGAPIXEL
        if self.round_up:
            megapixels = max(1, math.ceil(megapixels))
        return self.usd * megapixels


# OpenAI gpt-image-1, USD per image, by quality then size (see the module doc).
GPT_IMAGE_1_PRICES: Mapping[str, Mapping[str, float]] = {
    "low": {"1024x1024": 0.011, "1024x1536": 0.016, "1536x1024": 0.016},
    "medium": {"1024x1024": 0.042, "1024x1536": 0.063, "1536x1024": 0.063},
    "high": {"1024x1024": 0.167, "1024x1536": 0.25, "1536x1024": 0.25},
}

DEFAULT_PRICES: Mapping[str, Mapping[str, Price]] = {
    "fal": {
        "fal-ai/flux/schnell": Price(0.003, "megapixel"),
        "fal-ai/flux/dev": Price(0.025, "megapixel"),
        "fal-ai/flux-pro/v1.1": Price(0.04, "megapixel"),
    },
    "replicate": {
        "black-forest-labs/flux-schnell": Price(0.003),
        "black-forest-labs/flux-dev": Price(0.025),
    },
    "together": {
        "black-forest-labs/FLUX.1-schnell": Price(0.0027, "megapixel"),
    },
    "openai": {
        **{
            f"gpt-image-1 {quality} {size}": Price(usd)
            for quality, prices in GPT_IMAGE_1_PRICES.items()
            for size, usd in prices.items()
        },
        WILDCARD: Price(0.25),  # an unpriced GPT Image model: over-count rather than miss it
    },
    "huggingface": {
        "black-forest-labs/FLUX.1-schnell": Price(0.003, "megapixel"),
        "black-forest-labs/FLUX.1-dev": Price(0.025, "megapixel"),
    },
    "runpod": {
        WILDCARD: Price(0.0),
    },
}


def _parse_price(value: Any, default: Price | None, where: str) -> Price:
    if isinstance(value, bool):
        raise ValueError(f"price for {where} must be a number or an object")
    if isinstance(value, int | float):
        # A bare number keeps the unit of the price it replaces (per image for a new entry).
        base = default or Price(0.0)
        return Price(float(value), base.per, base.round_up)
    if isinstance(value, Mapping):
        usd = value.get("usd")
        per = value.get("per", default.per if default else "image")
        round_up = value.get("round_up", default.round_up if default else True)
        if isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0:
            raise ValueError(f"price for {where} needs a non-negative 'usd'")
        if per not in ("image", "megapixel"):
            raise ValueError(f"price for {where}: 'per' must be 'image' or 'megapixel'")
        if not isinstance(round_up, bool):
            raise ValueError(f"price for {where}: 'round_up' must be true or false")
        return Price(float(usd), per, round_up)
    raise ValueError(f"price for {where} must be a number or an object")


@dataclass(frozen=True)
class PriceTable:
    """Prices by provider, then by model id (``"*"`` for any other model of that provider)."""

    prices: Mapping[str, Mapping[str, Price]] = field(default_factory=lambda: DEFAULT_PRICES)

    @classmethod
    def from_json(cls, overrides_json: str | None) -> PriceTable:
        """The defaults with overrides, e.g. ``{"runpod": {"*": 0.0011},
        "fal": {"fal-ai/flux/dev": {"usd": 0.025, "per": "megapixel"}}}``."""
        table: dict[str, dict[str, Price]] = {p: dict(models) for p, models in DEFAULT_PRICES.items()}
        if not overrides_json or not overrides_json.strip():
            return cls(table)
        try:
            raw = json.loads(overrides_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"price overrides are not valid JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise ValueError("price overrides must be a JSON object keyed by provider")
        for provider, models in raw.items():
            if not isinstance(models, dict):
                raise ValueError(f"prices for {provider!r} must be an object keyed by model")
            current = table.setdefault(str(provider), {})
            for model, value in models.items():
                current[str(model)] = _parse_price(value, current.get(str(model)), f"{provider}/{model}")
        return cls(table)

    def price(self, provider: str, model: str) -> Price | None:
        models = self.prices.get(provider)
        if models is None:
            return None
        return models.get(model) or models.get(WILDCARD)

    def cost_usd(self, provider: str, model: str, width: int, height: int) -> float:
        """The cost of one image; 0.0 for an unpriced model (a cost must never fail a generation)."""
        price = self.price(provider, model)
        return 0.0 if price is None else round(price.cost(width, height), 6)


DEFAULT_TABLE = PriceTable()


def load_prices(overrides_json: str | None) -> PriceTable:
    """The default price table with overrides from a JSON string (see :meth:`PriceTable.from_json`)."""
    return PriceTable.from_json(overrides_json)


def cost_usd(provider: str, model: str, width: int, height: int, *, table: PriceTable | None = None) -> float:
    """The cost in USD of one ``width`` x ``height`` image from ``provider``/``model``."""
    return (table or DEFAULT_TABLE).cost_usd(provider, model, width, height)
