"""The contract's error shape from ``api.routing.error_response``."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.errors import error_response
from chalicelib.domain.errors import (
    BudgetExhausted,
    DomainError,
    NotFound,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    StoreUnavailable,
)


@pytest.mark.parametrize(
    "error_type", [QuotaExceeded, RateLimited, BudgetExhausted, ProviderUnavailable, StoreUnavailable]
)
def test_every_429_and_503_carries_retry_after(error_type: type[DomainError]) -> None:
    response = error_response(error_type("Try later."))
    assert int(str(response.headers["Retry-After"])) >= 1
    assert json.loads(response.body)["error"]["code"] == error_type.code


def test_a_retry_after_given_by_the_error_is_kept_and_other_statuses_get_none() -> None:
    assert error_response(QuotaExceeded("x", retry_after=3600)).headers["Retry-After"] == "3600"
    assert "Retry-After" not in error_response(NotFound("x")).headers
