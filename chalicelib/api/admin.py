"""Admin routes: enterprise API keys, the operational stats and the audit trail (operator's bearer
token only; every call is audited by api/audit.py)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.admin_auth import require_admin
from chalicelib.api.http import int_param, json_response, parse_body, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container

__all__ = ["admin"]

admin = ApiBlueprint(__name__)

NO_STORE = {"Cache-Control": "no-store"}


@admin.route("/v1/admin/api-keys", methods=["POST"])
def create_api_key() -> Response:
    from chalicelib.schemas.admin import ApiKeyCreate, ApiKeyCreated

    request = admin.current_request
    require_admin(request)
    body = parse_body(request, ApiKeyCreate)
    limits = body.limits.model_dump(exclude_none=True) if body.limits is not None else None
    issued = get_container().access.api_keys.issue(body.name, body.tier, limits)
    created = ApiKeyCreated(id=issued.id, key=issued.key, webhook_secret=issued.webhook_secret)
    return json_response(created, 201, NO_STORE)


@admin.route("/v1/admin/api-keys", methods=["GET"])
def list_api_keys() -> Response:
    from chalicelib.schemas.admin import ApiKeyList, ApiKeyOut

    require_admin(admin.current_request)
    items = [
        ApiKeyOut(
            id=record.id,
            name=record.name,
            tier=record.tier,
            limits=dict(record.limits),
            created_at=record.created_at,
            revoked=record.revoked,
            prefix=record.prefix,
        )
        for record in get_container().access.api_keys.list_keys()
    ]
    return json_response(ApiKeyList(items=items), 200, NO_STORE)


@admin.route("/v1/admin/api-keys/{key_id}", methods=["DELETE"])
def revoke_api_key(key_id: str) -> Response:
    require_admin(admin.current_request)
    get_container().access.api_keys.revoke(key_id)
    return Response(body="", status_code=204)


@admin.route("/v1/admin/stats", methods=["GET"])
def admin_stats() -> Response:
    require_admin(admin.current_request)
    return json_response(get_container().operations.stats.stats(), 200, NO_STORE)


@admin.route("/v1/admin/audit", methods=["GET"])
def admin_audit() -> Response:
    request = admin.current_request
    require_admin(request)
    params = query(request)
    limit = int_param(params, "limit", 50, 1, 200)
    return json_response(
        get_container().privacy.audit.page(limit, params.get("cursor") or None), 200, NO_STORE
    )
