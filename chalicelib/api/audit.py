"""Audit middleware: every call of an admin route becomes an audit event, whatever its outcome.

A reaction to the call, not code in each route: the routes stay as they are, and a new admin
route is audited as soon as it has a name in ``ADMIN_ACTIONS`` (an unnamed one still is, as
``admin.other``). No body is read into the event except the id of an API key just issued.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalice.app import Request, Response

from chalicelib.observability.logs import current_context

if TYPE_CHECKING:
    from pydantic import SecretStr

    from chalicelib.domain.audit import CredentialKind

log = logging.getLogger("avatarflow.audit")

ADMIN_PREFIX = "/v1/admin/"
ADMIN_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/admin/api-keys"): "api_key.issue",
    ("GET", "/v1/admin/api-keys"): "api_key.list",
    ("DELETE", "/v1/admin/api-keys/{key_id}"): "api_key.revoke",
    ("POST", "/v1/admin/gallery/refresh"): "gallery.refresh",
    ("GET", "/v1/admin/stats"): "stats.read",
    ("GET", "/v1/admin/audit"): "audit.read",
}


def audit_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    response = get_response(event)
    path = str((event.context or {}).get("resourcePath") or "")
    if not path.startswith(ADMIN_PREFIX) or event.method == "OPTIONS":
        return response
    try:
        _record(event, path, response)
    except Exception:  # the audit never breaks the call it describes
        log.exception("admin call not audited")
    return response


def _record(request: Request, path: str, response: Response) -> None:
    from chalicelib.bootstrap import get_container
    from chalicelib.domain.audit import fingerprint, outcome_of
    from chalicelib.domain.generation import iso
    from chalicelib.schemas.audit import AuditEvent

    container = get_container()
    credential, actor = _credential(request, container.settings.admin_token)
    action = ADMIN_ACTIONS.get((request.method, path), "admin.other")
    status = int(response.status_code)
    container.privacy.audit.record(
        AuditEvent(
            at=iso(time.time()),
            request_id=str(current_context().get("request_id") or ""),
            actor=fingerprint(actor) if actor else "none",
            credential=credential,
            action=action,
            target=_target(request, action, response),
            method=request.method,
            path=path,
            status=status,
            outcome=outcome_of(status),
        )
    )


def _credential(request: Request, admin_token: SecretStr | None) -> tuple[CredentialKind, str]:
    """The kind of credential presented and its value (fingerprinted by the caller)."""
    scheme, _, presented = (request.headers.get("authorization") or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() == "bearer" and presented:
        is_admin = admin_token is not None and hmac.compare_digest(
            presented.encode(), admin_token.get_secret_value().encode()
        )
        return ("admin_token" if is_admin else "bearer"), presented
    api_key = request.headers.get("x-api-key")
    if api_key:
        return "api_key", api_key
    return "none", ""


def _target(request: Request, action: str, response: Response) -> str | None:
    if action == "api_key.revoke":
        return str((request.uri_params or {}).get("key_id") or "")[:64] or None
    if action == "api_key.issue" and response.status_code == 201 and isinstance(response.body, str):
        try:
            issued = json.loads(response.body)
        except ValueError:
            return None
        return str(issued.get("id")) if isinstance(issued, dict) and issued.get("id") else None
    return None
