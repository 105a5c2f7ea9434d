"""Admin routes refuse user tokens, API keys and anonymous callers."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import Request

from chalicelib.api.admin_auth import require_admin
from chalicelib.domain.errors import Forbidden, Unauthorized
from tests.conftest import token


def request_with(headers: dict[str, str]) -> Request:
    event = {
        "headers": headers,
        "multiValueQueryStringParameters": None,
        "pathParameters": {},
        "requestContext": {
            "httpMethod": "GET",
            "resourcePath": "/v1/admin/stats",
            "identity": {"sourceIp": "1.2.3.4"},
        },
        "stageVariables": {},
        "body": None,
    }
    return Request(event)


@pytest.fixture
def admin_container(container: Any, monkeypatch: Any) -> Any:
    from pydantic import SecretStr

    monkeypatch.setattr(
        container,
        "settings",
        container.settings.model_copy(update={"admin_token": SecretStr("op-secret-token")}),
    )
    return container


def test_operator_token_passes(admin_container: Any) -> None:
    require_admin(request_with({"authorization": "Bearer op-secret-token"}))


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, Unauthorized),
        ({"authorization": f"Bearer {token('u', 'enterprise')}"}, Forbidden),
        ({"x-api-key": "afk_live_something"}, Forbidden),
        ({"authorization": "Bearer op-secret-tokeN"}, Forbidden),
        ({"authorization": "Basic op-secret-token"}, Unauthorized),
    ],
)
def test_everyone_else_is_refused(
    admin_container: Any, headers: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        require_admin(request_with(headers))


def test_disabled_without_a_configured_token(container: Any) -> None:
    with pytest.raises(Forbidden):
        require_admin(request_with({"authorization": "Bearer anything"}))
