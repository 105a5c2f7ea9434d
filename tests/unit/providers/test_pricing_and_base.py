"""The price table, and the shared plumbing: Retry-After parsing, error messages, secrets."""

from __future__ import annotations

import email.utils
import time

import pytest

from chalicelib.adapters.providers.answers import error_message, nsfw_flagged, parse_retry_after
from chalicelib.adapters.providers.http_base import Secret, make_timeout
from chalicelib.adapters.providers.pricing import (
    DEFAULT_PRICES,
    Price,
    PriceTable,
    cost_usd,
    load_prices,
)

# -- pricing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "size", "expected"),
    [
        ("fal", "fal-ai/flux/schnell", 1024, 0.003),
        ("fal", "fal-ai/flux/schnell", 512, 0.003),  # whole megapixels, rounded up
        ("fal", "fal-ai/flux/dev", 1024, 0.025),
        ("fal", "fal-ai/flux/dev", 2048, 0.1),
        ("replicate", "black-forest-labs/flux-schnell", 1024, 0.003),
        ("replicate", "black-forest-labs/flux-dev", 512, 0.025),
        ("together", "black-forest-labs/FLUX.1-schnell", 1024, 0.0027),
        ("openai", "gpt-image-1 low 1024x1024", 1024, 0.011),
        ("openai", "gpt-image-1 medium 1024x1024", 1024, 0.042),
        ("openai", "gpt-image-1 high 1024x1024", 1024, 0.167),
        ("openai", "gpt-image-1 high 1536x1024", 1024, 0.25),
        ("openai", "a-future-gpt-image-model medium 1024x1024", 1024, 0.25),  # over-counted until priced
        ("runpod", "flux-schnell", 1024, 0.0),
        ("nobody", "nothing", 1024, 0.0),
    ],
)
def test_default_prices(provider: str, model: str, size: int, expected: float) -> None:
    assert cost_usd(provider, model, size, size) == pytest.approx(expected)


def test_exact_megapixels_when_not_rounded() -> None:
    assert Price(0.004, "megapixel", round_up=False).cost(512, 512) == pytest.approx(0.001)


def test_json_overrides() -> None:
    table = load_prices(
        '{"runpod": {"*": 0.0011},'
        ' "fal": {"fal-ai/flux/dev": {"usd": 0.02, "per": "megapixel", "round_up": false}},'
        ' "newco": {"m1": {"usd": 0.5}}}'
    )
    assert table.cost_usd("runpod", "anything", 1024, 1024) == pytest.approx(0.0011)
    assert table.cost_usd("fal", "fal-ai/flux/dev", 512, 512) == pytest.approx(0.005)
    assert table.cost_usd("fal", "fal-ai/flux/schnell", 1024, 1024) == pytest.approx(0.003)  # untouched
    assert table.cost_usd("newco", "m1", 1024, 1024) == pytest.approx(0.5)
    assert DEFAULT_PRICES["runpod"]["*"].usd == 0.0  # defaults are not mutated


def test_a_bare_number_keeps_the_unit_it_replaces() -> None:
    table = PriceTable.from_json('{"fal": {"fal-ai/flux/schnell": 0.004}}')
    price = table.price("fal", "fal-ai/flux/schnell")
    assert price is not None and price.per == "megapixel"


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1, 2]",
        '{"fal": 3}',
        '{"fal": {"m": {"usd": -1}}}',
        '{"fal": {"m": {"usd": 1, "per": "hour"}}}',
        '{"fal": {"m": true}}',
    ],
)
def test_invalid_overrides_are_value_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        load_prices(bad)


def test_empty_overrides_are_the_defaults() -> None:
    key = "gpt-image-1 medium 1024x1024"
    assert load_prices(None).cost_usd("openai", key, 1024, 1024) == pytest.approx(0.042)
    assert load_prices("  ").cost_usd("openai", key, 1024, 1024) == pytest.approx(0.042)


# -- plumbing ------------------------------------------------------------------------------------


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "5"}) == 5.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": later}) or 0) <= 31
    assert (
        parse_retry_after({}, '{"detail":"Request was throttled. Expected available in 5 seconds."}') == 5.0
    )
    assert (
        parse_retry_after({}, '{"detail":"Request was throttled. Your rate limit resets in ~30s."}') == 30.0
    )
    assert parse_retry_after({}, "Please try again in 2.5 seconds") == 2.5
    assert parse_retry_after({}, "slow down") is None
    assert parse_retry_after({"retry-after": "garbage"}) is None


def test_error_message_shapes() -> None:
    assert error_message({"error": {"message": "bad size", "code": "x"}}, "") == "bad size"
    assert error_message({"detail": "Invalid API key"}, "") == "Invalid API key"
    assert (
        error_message({"detail": [{"msg": "field required", "loc": ["body", "prompt"]}]}, "")
        == "field required"
    )
    assert error_message({"error": "job failed"}, "") == "job failed"
    assert error_message(None, "plain text") == "plain text"


def test_nsfw_flags() -> None:
    assert nsfw_flagged({"has_nsfw_concepts": [False, True]})
    assert nsfw_flagged({"nsfw_content_detected": True})
    assert not nsfw_flagged({"has_nsfw_concepts": [False]})
    assert not nsfw_flagged(["has_nsfw_concepts"])


def test_secret_hides_itself() -> None:
    secret = Secret("sk-very-secret")
    assert "sk-very-secret" not in repr(secret)
    assert "sk-very-secret" not in str(secret)
    assert f"{secret}" != "sk-very-secret"
    assert secret.reveal() == "sk-very-secret"


def test_timeouts_are_explicit() -> None:
    timeout = make_timeout(45.0)
    assert (timeout.connect, timeout.read) == (3.0, 45.0)
