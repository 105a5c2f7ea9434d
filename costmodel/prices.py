"""The unit prices of the cost model: each with its source, the day it was read, and a low/high.

Read on 2026-11-30 from the vendors' pages as stored in our search index (not live pages: a
stored copy may be older than the vendor's current page); where only a third-party page quoting
the vendor was found, the source says so. A price we could not confirm is marked as an assumption.
The per-image prices of the generation providers are the spend guard's own table
(``chalicelib.adapters.providers.pricing``), read here rather than copied.

Overrides come from a JSON file: ``{"r2.storage_gb_month": 0.015, "lambda.gb_second":
{"low": 0.0000133334, "high": 0.0000166667}}`` (a number sets low and high).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chalicelib.adapters.providers.photo_prices import PHOTO_PRICES
from chalicelib.adapters.providers.pricing import DEFAULT_PRICES, Price

READ_ON = "2026-11-30"
INDEX = "vendor page as stored in our search index"


@dataclass(frozen=True)
class UnitPrice:
    """A price in USD per ``unit``; ``low`` = ``high`` where the vendor publishes one number."""

    key: str
    item: str
    unit: str
    low: float
    high: float
    source: str
    read_on: str = READ_ON
    assumption: bool = False
    note: str = ""


def _one_megapixel(price: Price) -> float:
    """A 1024x1024 image at a provider table price (1 MP; the size avatarflow bills at most)."""
    return price.cost(1024, 1024) if price.per == "megapixel" else price.usd


def _provider(provider: str, model: str) -> float:
    return _one_megapixel(DEFAULT_PRICES[provider][model])


def _p(key: str, item: str, unit: str, low: float, high: float | None = None, **kw: Any) -> UnitPrice:
    return UnitPrice(key, item, unit, low, low if high is None else high, **kw)


PRICING_PY = "chalicelib/adapters/providers/pricing.py (the spend guard's table)"

DEFAULT_UNIT_PRICES: dict[str, UnitPrice] = {
    p.key: p
    for p in (
        # --- generation providers (per 1 MP image) -------------------------------------------------
        _p(
            "fal.flux_schnell",
            "fal FLUX.1 [schnell]",
            "image (1 MP)",
            _provider("fal", "fal-ai/flux/schnell"),
            source=f"{PRICING_PY}; $0.003/MP confirmed on https://fal.ai/models/fal-ai/flux/schnell as quoted "
            "by https://lumenfall.ai/models/black-forest-labs/flux.1-schnell (third-party, in our search index)",
            note="billed per megapixel, rounded up: a 512 px image costs a whole MP",
        ),
        _p(
            "fal.flux_dev",
            "fal FLUX.1 [dev]",
            "image (1 MP)",
            _provider("fal", "fal-ai/flux/dev"),
            source=f"{PRICING_PY}; $0.025/MP as listed for fal-ai/flux/dev by a third-party page quoting "
            "fal's table (skillspool.org, in our search index)",
        ),
        _p(
            "fal.flux_pro",
            "fal FLUX1.1 [pro]",
            "image (1 MP)",
            0.04,
            0.055,
            source="third-party listing of fal's table ($0.055/MP, skillspool.org); not in the spend "
            "guard's table (the router uses pro on fal only where a model is configured)",
            assumption=True,
            note="not confirmed on fal's own page: low $0.04, high $0.055",
        ),
        # --- photo generations (issue 26; chalicelib/adapters/providers/photo_prices.py) ----------
        _p(
            "photo.generation",
            "photo avatar (fal FLUX PuLID; high: a FLUX.1 Kontext [pro] vendor)",
            "image (1 MP)",
            _one_megapixel(PHOTO_PRICES["fal"]["fal-ai/flux-pulid"]),
            _one_megapixel(PHOTO_PRICES["replicate"]["black-forest-labs/flux-kontext-pro"]),
            source="chalicelib/adapters/providers/photo_prices.py (the spend guard's photo prices): fal "
            "flux-pulid $0.033/MP; Replicate flux-kontext-pro $0.04/image; Together and fal Kontext $0.04",
            assumption=True,
            note="vendors' model pages as stored in our search index; override if an invoice differs",
        ),
        _p(
            "photo.checks_gb_second",
            "photo checks function compute (container image Lambda, x86_64)",
            "GB-second",
            0.0000166667,
            source="AWS Lambda x86_64 price per GB-s (the same as the API's); the checks run in a "
            "function of their own (docs/photos.md)",
        ),
        _p(
            "replicate.flux_schnell",
            "Replicate flux-schnell",
            "image",
            _provider("replicate", "black-forest-labs/flux-schnell"),
            source=f"{PRICING_PY}; $0.003/image per lumenfall.ai's provider list (third-party)",
        ),
        _p(
            "replicate.flux_dev",
            "Replicate flux-dev",
            "image",
            _provider("replicate", "black-forest-labs/flux-dev"),
            source=f"{PRICING_PY}; $0.025/image per cinemasetfree.com's copy of the model page (third-party)",
        ),
        _p(
            "replicate.flux_pro",
            "Replicate flux-pro",
            "image",
            0.055,
            source="https://replicate.com/black-forest-labs/flux-pro (" + INDEX + ")",
        ),
        _p(
            "together.flux_schnell",
            "Together FLUX.1 [schnell]",
            "image (1 MP)",
            _provider("together", "black-forest-labs/FLUX.1-schnell"),
            source=f"{PRICING_PY}; $0.0027/image per https://www.workflowlab.dev/cost/flux-schnell-together "
            "(third-party, 'verified May 2026')",
        ),
        _p(
            "runpod.flux_schnell",
            "RunPod serverless FLUX schnell (own endpoint)",
            "image",
            2 * 0.00019,
            4 * 0.00031,
            source="https://docs.runpod.io/serverless/pricing (" + INDEX + "): flex workers $0.00019/s "
            "(L4/A5000/3090 24 GB) to $0.00031/s (4090 PRO)",
            assumption=True,
            note="2-4 s of GPU per 4-step image is our assumption (cold starts not included)",
        ),
        _p(
            "openai.gpt_image_1",
            "OpenAI gpt-image-1 medium 1024x1024 (the pro failover)",
            "image",
            _provider("openai", "gpt-image-1 medium 1024x1024"),
            source=f"{PRICING_PY}; $0.042/image per burncloud.com's copy of OpenAI's table (third-party); "
            "DALL-E 3 is no longer offered",
        ),
        # --- AWS -----------------------------------------------------------------------------------
        _p(
            "lambda.request",
            "AWS Lambda requests",
            "1M requests",
            0.20,
            source="https://aws.amazon.com/lambda/pricing/ as quoted by cloudchipr.com/blog/aws-lambda-pricing "
            "and git.mcrn.ar lambda-13-cost.md (us-east-1, in our search index)",
        ),
        _p(
            "lambda.gb_second",
            "AWS Lambda compute, x86_64 (as deployed)",
            "GB-second",
            0.0000166667,
            source="same pages: x86_64 $0.0000166667/GB-s (first 6B GB-s); arm64 $0.0000133334/GB-s",
            note="the deployment is x86_64: .chalice/config.json sets no architecture and Chalice's "
            "default is x86_64; arm64 would be 20 % cheaper per GB-s",
        ),
        _p(
            "apigw.rest_request",
            "API Gateway REST API",
            "1M requests",
            3.50,
            source="https://aws.amazon.com/api-gateway/pricing/ via awsforengineers.com and the "
            "api-evangelist aws-api-gateway plans file (first 333M/month, us-east-1)",
        ),
        _p(
            "apigw.ws_message",
            "API Gateway WebSocket messages",
            "1M messages",
            1.00,
            source="https://aws.amazon.com/api-gateway/pricing/ via awsforengineers.com (first 1B; metered per 32 KB)",
        ),
        _p(
            "apigw.ws_connection_minute",
            "API Gateway WebSocket connection minutes",
            "1M minutes",
            0.25,
            source="https://aws.amazon.com/api-gateway/pricing/ as quoted on repost.aws",
        ),
        _p(
            "sqs.request",
            "SQS standard requests",
            "1M requests",
            0.40,
            source="https://aws.amazon.com/sqs/pricing/ via cloudburn.io/blog/amazon-sqs-pricing (March 2026): "
            "$0.40/M standard, per 64 KB chunk",
        ),
        _p(
            "cloudwatch.logs_gb",
            "CloudWatch Logs ingestion",
            "GB",
            0.50,
            source="https://aws.amazon.com/cloudwatch/pricing/ via cloudonaut.io and signoz.io (us-east-1)",
        ),
        _p(
            "cloudwatch.metric_month",
            "CloudWatch custom metric",
            "metric-month",
            0.30,
            source="https://aws.amazon.com/cloudwatch/pricing/ via cloudonaut.io and signoz.io (first 10,000 metrics)",
        ),
        _p(
            "cloudwatch.alarm_month",
            "CloudWatch standard alarm",
            "alarm-month",
            0.10,
            source="docs/deploy.md's idle-cost table ($0.60 for 6 alarm metrics); not re-read from AWS",
            assumption=True,
        ),
        # --- Upstash, Cloudflare ---------------------------------------------------------------------
        _p(
            "upstash.command",
            "Upstash Redis pay as you go",
            "100k commands",
            0.20,
            source="https://upstash.com/pricing/redis as transcribed by api-evangelist (read 2026-09-20) "
            "and docs.flexprice.io (captured 2026-11-09)",
            note="a Lua script (EVALSHA) is billed as one command: our assumption, not confirmed",
        ),
        _p(
            "r2.storage_gb_month",
            "Cloudflare R2 standard storage",
            "GB-month",
            0.015,
            source="https://developers.cloudflare.com/r2/pricing/ (cloudflare-docs r2/pricing.mdx, "
            + INDEX
            + ")",
            note="the research prices a GB at $0.15: ten times R2's $0.015",
        ),
        _p(
            "r2.class_a",
            "Cloudflare R2 class A (writes, lists)",
            "1M requests",
            4.50,
            source="https://developers.cloudflare.com/r2/pricing/ (" + INDEX + ")",
        ),
        _p(
            "r2.class_b",
            "Cloudflare R2 class B (reads)",
            "1M requests",
            0.36,
            source="https://developers.cloudflare.com/r2/pricing/ (" + INDEX + "); egress free",
        ),
        # --- gallery sources ---------------------------------------------------------------------
        _p(
            "pexels.plan",
            "Pexels API",
            "month",
            0.0,
            source="Pexels API guidelines as quoted in the devscast/pexels package README (in our search "
            "index): free, 200 requests/hour and 20,000/month by default, more on request",
        ),
        _p(
            "unsplash.plan",
            "Unsplash API",
            "month",
            0.0,
            source="Unsplash API docs as quoted by pluralsight.com and odoo.com: free; 50 requests/hour "
            "in demo mode, higher once approved for production",
        ),
        _p(
            "generated_photos.plan",
            "Generated Photos API plan",
            "month",
            250.0,
            source="the research's figure; no Generated Photos price page was found in our search index",
            assumption=True,
        ),
        # --- the research's own unit prices (for the seed scenarios) ------------------------------
        _p(
            "research.storage_gb_month",
            "Storage as the research prices it",
            "GB-month",
            0.15,
            source="the product research (1 GB per 1,000 images at $0.15); R2's own price is $0.015",
            assumption=True,
        ),
    )
}


class PriceTable(Mapping[str, UnitPrice]):
    """The unit prices by key, with overrides applied."""

    def __init__(self, prices: Mapping[str, UnitPrice] | None = None) -> None:
        self._prices = dict(DEFAULT_UNIT_PRICES if prices is None else prices)

    def __getitem__(self, key: str) -> UnitPrice:
        return self._prices[key]

    def __iter__(self) -> Any:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def low(self, key: str) -> float:
        return self._prices[key].low

    def high(self, key: str) -> float:
        return self._prices[key].high

    def with_overrides(self, overrides: Mapping[str, Any]) -> PriceTable:
        """A copy with ``{key: number | {"low", "high"}}`` applied; an unknown key is an error."""
        prices = dict(self._prices)
        for key, value in overrides.items():
            if key not in prices:
                raise ValueError(f"unknown price {key!r}: known are {', '.join(sorted(prices))}")
            low, high = _low_high(value, prices[key], key)
            prices[key] = replace(prices[key], low=low, high=high, source=f"override ({prices[key].source})")
        return PriceTable(prices)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"price {key!r} must be a non-negative number")
    return float(value)


def _low_high(value: Any, base: UnitPrice, key: str) -> tuple[float, float]:
    if isinstance(value, Mapping):
        low = _number(value.get("low", base.low), key)
        high = _number(value.get("high", base.high), key)
    else:
        low = high = _number(value, key)
    if low > high:
        raise ValueError(f"price {key!r}: low is above high")
    return low, high


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """The default unit prices, with the overrides of the JSON file at ``path`` if given."""
    table = PriceTable()
    if path is None:
        return table
    try:
        raw = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: must be a JSON object keyed by price")
    return table.with_overrides(raw)
