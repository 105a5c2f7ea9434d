"""The API Gateway management API stand-in (``stack/apigateway.py``), for the push channel's tests."""

from __future__ import annotations

from stack.apigateway import STAGE, ApiGatewayHarness, running_apigw

__all__ = ["STAGE", "ApiGatewayHarness", "running_apigw"]
