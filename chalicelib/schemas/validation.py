"""A client's JSON, validated against one of the contract's models: the model, or a 4xx that
says what is wrong field by field (never echoing the input, which may be huge)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.domain.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: object, message: str) -> Model:
    """``data`` as ``model`` (strict: no type coercion); raises ``InvalidRequest`` with ``message``
    and one detail per problem."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in error["loc"]) or None, "message": error["msg"]}
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise InvalidRequest(message, details=details) from None
