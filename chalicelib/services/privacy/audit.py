"""The admin audit trail: record each admin call as it is answered, page through the newest."""

from __future__ import annotations

import logging

from chalicelib.domain.audit import AUDIT_KEEP
from chalicelib.domain.errors import InvalidRequest
from chalicelib.ports import AuditLog, StoreError
from chalicelib.schemas.audit import AuditEvent, AuditPage

log = logging.getLogger("avatarflow.audit")

MAX_CURSOR_DIGITS = 19


class AdminAudit:
    """Writes audit events to the structured log and the store's trail; reads the trail back."""

    def __init__(self, audit_log: AuditLog, keep: int = AUDIT_KEEP) -> None:
        self._log = audit_log
        self._keep = keep

    def record(self, event: AuditEvent) -> None:
        """Never fails the call it describes: the log line is written whatever the store does."""
        log.info("admin audit", extra={"audit": event.model_dump(mode="json", exclude={"seq"})})
        try:
            self._log.append(event.model_dump_json(), self._keep)
        except StoreError as exc:
            log.warning("audit event not stored (it is in the log): %s", exc)

    def page(self, limit: int, cursor: str | None) -> AuditPage:
        """``GET /v1/admin/audit``: newest first, ``cursor`` the previous page's ``next_cursor``."""
        before = None
        if cursor is not None:
            if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= MAX_CURSOR_DIGITS):
                raise InvalidRequest(
                    "cursor must be the next_cursor of a previous page.",
                    details=[{"field": "cursor", "message": "not a cursor of this route"}],
                )
            before = int(cursor)
        items = [AuditEvent.model_validate_json(raw) for raw in self._log.page(limit, before)]
        more = len(items) == limit and items[-1].seq > 1
        return AuditPage(items=items, next_cursor=str(items[-1].seq) if more else None)
