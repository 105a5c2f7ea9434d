"""The photo models' prices (USD), added to the price table of the spend guard.

From the vendors' model pages at the time of writing; override any of them with
``AVATARFLOW_PROVIDER_PRICES`` (same JSON as every price) if an invoice says otherwise:

- fal ``fal-ai/flux-pulid``: $0.033 per megapixel (billed in whole megapixels here: a 512 or
  1024 px avatar costs one);
- fal ``fal-ai/flux-pro/kontext``: $0.04 per image;
- Replicate ``black-forest-labs/flux-kontext-pro``: $0.04 per image (output);
- Together ``black-forest-labs/FLUX.1-kontext-pro``: $0.04 per megapixel.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.adapters.providers.pricing import Price, PriceTable

PHOTO_PRICES: Mapping[str, Mapping[str, Price]] = {
    "fal": {
        "fal-ai/flux-pulid": Price(0.033, "megapixel"),
        "fal-ai/flux-pro/kontext": Price(0.04),
    },
    "replicate": {"black-forest-labs/flux-kontext-pro": Price(0.04)},
    "together": {"black-forest-labs/FLUX.1-kontext-pro": Price(0.04, "megapixel")},
}


def photo_prices(overrides_json: str | None) -> PriceTable:
    """The price table with the photo models' defaults; an override of one of them wins."""
    loaded = PriceTable.from_json(overrides_json)
    table = {provider: dict(models) for provider, models in loaded.prices.items()}
    overridden = PriceTable.from_json(None).prices
    for provider, models in PHOTO_PRICES.items():
        current = table.setdefault(provider, {})
        for model, price in models.items():
            # A model the overrides named keeps the override; the others get the photo default.
            if model not in current or current[model] == overridden.get(provider, {}).get(model):
                current[model] = price
    return PriceTable(table)
