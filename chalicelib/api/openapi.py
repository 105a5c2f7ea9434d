"""The OpenAPI 3.1 document, generated from the same pydantic models the handlers use.

Request schemas are the models' validation schemas (``schemas/models.py``, ``schemas/fields.py``),
parameters and response headers are declared once (``api/openapi_params.py``), string formats come
from ``api/formats.py``, the operations from ``api/openapi_operations.py``.
``tests/functional/test_openapi_sync.py`` checks that ``OPERATIONS`` is the app's route list and that
every bound here is the one the code applies.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api import openapi_params as p
from chalicelib.api.openapi_operations import OPERATIONS, Auth, Json, Operation

__all__ = ["OPERATIONS", "openapi_document", "path_params"]

REQUEST_MODELS = frozenset(op.body for op in OPERATIONS if op.body is not None)
SECURITY: dict[Auth, list[Json]] = {
    "none": [],
    "user": [{}, {"bearer": []}, {"apiKey": []}],  # anonymous visitors are welcome where the tier allows
    "admin": [{"bearer": []}],  # the operator's AVATARFLOW_ADMIN_TOKEN only
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    models = sorted(
        {model for op in OPERATIONS for model in [op.body, *op.responses.values()] if model is not None},
        key=lambda model: model.__name__,
    )
    _, schema = models_json_schema(
        [(model, "validation" if model in REQUEST_MODELS else "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
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
            "parameters": p.parameters(),
            "headers": p.headers(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _operation(op: Operation) -> Json:
    # A HEAD shares its GET's view (and so its name), but operation ids must be unique.
    operation_id = f"{op.operation_id}_head" if op.method == "head" else op.operation_id
    operation: Json = {"operationId": operation_id, "summary": op.summary, "responses": {}}
    parameters = [p.path_parameter(name) for name in path_params(op.path)]
    parameters += [{"$ref": f"#/components/parameters/{name}"} for name in op.parameters]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    elif op.raw_body:
        # Whatever a provider sends is accepted: the signature, not the content type, decides.
        operation["requestBody"] = {"required": False, "content": {ct: {"schema": {}} for ct in op.raw_body}}
    for status, model in op.responses.items():
        response: Json = {"description": describe(status)}
        if op.method == "head":
            # The media type its GET would have (Content-Type), and no body at all.
            if status in op.content:
                response["content"] = {op.content[status]: {"schema": {"maxLength": 0}}}
        elif model is not None:
            response["content"] = {"application/json": {"schema": _ref(model)}}
        elif status in op.content:
            response["content"] = {
                op.content[status]: {"schema": {"type": "string", "contentMediaType": op.content[status]}}
            }
        elif status == 200:
            response["content"] = {"application/json": {"schema": {"type": "object"}}}
        if status in op.headers:
            response["headers"] = op.headers[status]
        operation["responses"][str(status)] = response
    operation["security"] = SECURITY[op.auth]
    return operation


def _ref(model: type[BaseModel]) -> Json:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def describe(status: int) -> str:
    return {
        200: "OK",
        201: "Created",
        202: "Accepted: the work goes on (poll the Location where one is given)",
        204: "No content",
        302: "Redirect to the image",
        304: "Not modified: the copy held is current",
        400: "Invalid request",
        401: "Unauthorized",
        403: "Forbidden for this caller or tier",
        404: "Not found",
        409: "Conflict",
        413: "Payload too large",
        415: "Unsupported media type",
        422: "Content rejected by moderation (never charged)",
        429: "Quota exceeded or rate limited (too many requests, or 10 refused prompts this hour)",
        503: "Unavailable: budget, providers or store",
    }.get(status, "Response")
