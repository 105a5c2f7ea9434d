"""Admin routes take ``Authorization: Bearer <AVATARFLOW_ADMIN_TOKEN>`` and nothing else."""

from __future__ import annotations

import hmac

from chalice.app import Request

from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import Forbidden, Unauthorized


def require_admin(request: Request) -> None:
    """Refuse anyone but the operator: user tokens and API keys are 403, no credentials 401."""
    configured = get_container().settings.admin_token
    scheme, _, presented = (request.headers.get("authorization") or "").strip().partition(" ")
    if configured is None:
        raise Forbidden("Admin routes are disabled: AVATARFLOW_ADMIN_TOKEN is not set.")
    if scheme.lower() == "bearer" and presented:
        if hmac.compare_digest(presented.strip().encode(), configured.get_secret_value().encode()):
            return
        raise Forbidden("This route is for operators only.")
    if request.headers.get("x-api-key"):
        raise Forbidden("This route is for operators only.")
    raise Unauthorized("Admin routes need the operator's bearer token.")
