"""Blueprints whose routes answer every failure in the contract's error shape.

Chalice turns any exception escaping a view into its own 500 body before middleware sees it,
so domain errors are translated where each view is registered: once, for every route.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint

from chalicelib.api.errors import error_response
from chalicelib.domain.errors import DomainError, InternalError, StoreUnavailable
from chalicelib.ports.errors import StoreError

log = logging.getLogger("avatarflow.api")


def translate_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            return error_response(exc)
        except StoreError as exc:
            log.warning("state store unavailable: %s", exc)
            return error_response(
                StoreUnavailable(
                    "The service cannot check quotas right now; please retry shortly.", retry_after=5
                )
            )
        except Exception:
            log.exception("unhandled error in %s", view.__name__)
            return error_response(InternalError("Something went wrong on our side."))

    return wrapper


class ApiBlueprint(Blueprint):
    """A Chalice blueprint whose views never leak a stack trace or Chalice's own error body."""

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            register(translate_errors(view))
            return view

        return decorator
