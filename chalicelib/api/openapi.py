"""The OpenAPI 3.1 document, generated from the same pydantic models the handlers use."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.domain import models as m
from chalicelib.domain.messages import RealtimeInfo

ERROR = m.ErrorResponse

# (method, path, summary, request model, {status: response model or None}, auth)
ROUTES: list[tuple[str, str, str, type[BaseModel] | None, dict[int, type[BaseModel] | None], bool]] = [
    ("get", "/v1/health", "Service health", None, {200: m.Health, 503: m.Health}, False),
    ("get", "/v1/styles", "Avatar styles", None, {200: m.StyleList}, False),
    ("get", "/v1/gallery", "List the gallery", None, {200: m.GalleryPage, 400: ERROR}, False),
    ("get", "/v1/gallery/{item_id}", "One gallery item", None, {200: m.GalleryItem, 404: ERROR}, False),
    ("get", "/v1/avatars/{user_id}", "Redirect to a user's avatar", None, {302: None, 400: ERROR}, False),
    (
        "post",
        "/v1/generations",
        "Request a custom avatar",
        m.GenerationRequest,
        {
            200: m.Generation,
            202: m.Generation,
            400: ERROR,
            401: ERROR,
            403: ERROR,
            409: ERROR,
            413: ERROR,
            415: ERROR,
            429: ERROR,
            503: ERROR,
        },
        True,
    ),
    (
        "get",
        "/v1/generations",
        "The caller's generations",
        None,
        {200: m.GenerationPage, 400: ERROR, 401: ERROR},
        True,
    ),
    ("get", "/v1/generations/{generation_id}", "One generation", None, {200: m.Generation, 404: ERROR}, True),
    ("get", "/v1/me/quota", "The caller's quota", None, {200: m.Quota, 401: ERROR}, True),
    (
        "put",
        "/v1/me/avatar",
        "Choose an avatar",
        m.AvatarChoice,
        {200: m.AvatarOut, 400: ERROR, 401: ERROR, 404: ERROR, 409: ERROR},
        True,
    ),
    ("get", "/v1/me/avatar", "The chosen avatar", None, {200: m.AvatarOut, 401: ERROR, 404: ERROR}, True),
    ("get", "/v1/openapi.json", "This document", None, {200: None}, False),
    (
        "get",
        "/v1/realtime",
        "Where the real-time status WebSocket API is (watch generations; see docs/contract.md)",
        None,
        {200: RealtimeInfo, 404: ERROR},
        False,
    ),
    (
        "post",
        "/v1/admin/gallery/refresh",
        "Refresh the gallery from its sources (operators)",
        None,
        {202: m.GalleryRefreshAccepted, 401: ERROR, 403: ERROR, 503: ERROR},
        True,
    ),
    (
        "post",
        "/v1/batches",
        "Request a batch of custom avatars (enterprise API keys)",
        m.BatchRequest,
        {202: m.BatchAccepted, 400: ERROR, 401: ERROR, 403: ERROR, 413: ERROR, 429: ERROR, 503: ERROR},
        True,
    ),
    ("get", "/v1/batches/{batch_id}", "A batch's progress", None, {200: m.BatchStatus, 404: ERROR}, True),
    (
        "post",
        "/v1/webhooks/{provider}",
        "Completion callback of a generation provider (not for clients; signed)",
        None,
        {200: None, 400: ERROR, 401: ERROR, 404: ERROR, 503: ERROR},
        False,
    ),
    (
        "post",
        "/v1/admin/api-keys",
        "Issue an enterprise API key (operators; the key is shown once)",
        m.ApiKeyCreate,
        {201: m.ApiKeyCreated, 400: ERROR, 401: ERROR, 403: ERROR, 413: ERROR, 415: ERROR, 503: ERROR},
        True,
    ),
    (
        "get",
        "/v1/admin/api-keys",
        "List the API keys (operators)",
        None,
        {200: m.ApiKeyList, 401: ERROR, 403: ERROR},
        True,
    ),
    (
        "delete",
        "/v1/admin/api-keys/{key_id}",
        "Revoke an API key at once (operators)",
        None,
        {204: None, 401: ERROR, 403: ERROR, 404: ERROR},
        True,
    ),
    (
        "get",
        "/v1/admin/stats",
        "Operational stats (operators)",
        None,
        {200: m.AdminStats, 401: ERROR, 403: ERROR},
        True,
    ),
]

QUERY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "/v1/gallery": [
        {"name": "style", "in": "query", "schema": {"type": "string"}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 24},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ],
    "/v1/generations": [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ],
    "/v1/avatars/{user_id}": [
        {
            "name": "size",
            "in": "query",
            "schema": {"type": "integer", "enum": [128, 256, 512], "default": 256},
        },
    ],
}

GENERATION_HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "schema": {"type": "string", "maxLength": 255},
        "description": "Same key and identity within 24 h returns the same generation, charged once.",
    },
    {
        "name": "Prefer",
        "in": "header",
        "schema": {"type": "string"},
        "description": "respond-async (always 202) or wait=N (wait at most N seconds; default 8).",
    },
]


@functools.cache
def openapi_document() -> dict[str, Any]:
    models = sorted(
        {model for route in ROUTES for model in [route[3], *route[4].values()] if model is not None},
        key=lambda model: model.__name__,
    )
    _, schema = models_json_schema(
        [
            (
                model,
                "serialization"
                if model not in (m.GenerationRequest, m.AvatarChoice, m.BatchRequest, m.ApiKeyCreate)
                else "validation",
            )
            for model in models
        ],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request_model, responses, auth in ROUTES:
        operation: dict[str, Any] = {"summary": summary, "responses": {}}
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(path)
        ]
        parameters += QUERY_PARAMS.get(path, []) if method == "get" else []
        if path == "/v1/generations" and method == "post":
            parameters += GENERATION_HEADERS
        if parameters:
            operation["parameters"] = parameters
        if request_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{request_model.__name__}"}}
                },
            }
        for status, model in responses.items():
            response: dict[str, Any] = {"description": _describe(status)}
            if model is not None:
                response["content"] = {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
                }
            operation["responses"][str(status)] = response
        if auth:
            operation["security"] = [{}, {"bearer": []}, {"apiKey": []}]
        if path.startswith("/v1/admin/"):
            operation["security"] = [{"bearer": []}]  # the operator's AVATARFLOW_ADMIN_TOKEN only
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "avatarflow",
            "version": "1.0.0",
            "description": "Profile pictures: an instant gallery, and custom AI avatars made on demand.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _describe(status: int) -> str:
    return {
        200: "OK",
        201: "Created",
        202: "Accepted; poll the Location",
        204: "No content",
        302: "Redirect to the image",
        400: "Invalid request",
        401: "Unauthorized",
        403: "Forbidden for this tier",
        404: "Not found",
        409: "Conflict",
        413: "Payload too large",
        415: "Unsupported media type",
        429: "Quota exceeded or rate limited",
        503: "Unavailable: budget, providers or store",
    }.get(status, "Response")
