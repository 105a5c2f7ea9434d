"""The admin audit trail's wire shapes: one event per admin call, and ``GET /v1/admin/audit``'s page
(the fingerprint and outcome rules: ``domain/audit.py``)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.domain.audit import AuditOutcome, CredentialKind
from chalicelib.schemas.models import ApiModel


class AuditEvent(ApiModel):
    """One admin call."""

    seq: int = Field(0, description="Position in the trail (newer is greater); set by the store")
    at: str = Field(description="When the call was answered (ISO 8601 UTC)")
    request_id: str
    actor: str = Field(description="Fingerprint of the credential presented (sha256:…), or 'none'")
    credential: CredentialKind = Field(
        description="What kind of credential was presented (a bearer token that is not the operator's: 'bearer')"
    )
    action: str = Field(
        description="api_key.issue, api_key.list, api_key.revoke, gallery.refresh, stats.read, audit.read"
    )
    target: str | None = Field(None, description="The object acted on (an API key id), where there is one")
    method: str
    path: str
    status: int
    outcome: AuditOutcome


class AuditPage(ApiModel):
    """``GET /v1/admin/audit``: newest first; ``next_cursor`` pages to older events."""

    items: list[AuditEvent]
    next_cursor: str | None
