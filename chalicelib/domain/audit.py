"""The admin API's audit trail: one structured event per admin call (who, what, when, outcome).

"Who" is a fingerprint of the credential presented (a short SHA-256 prefix), never the
credential itself: enough to tell one operator token from another (a rotated one, a leaked
one being tried) and nothing that could be replayed. No request or response body is kept: an
issued API key and its webhook secret never reach the trail, only the key's id.
"""

from __future__ import annotations

import hashlib
from typing import Literal

AUDIT_KEEP = 10_000  # the trail keeps the newest this many events

AuditOutcome = Literal["succeeded", "refused", "failed"]
CredentialKind = Literal["admin_token", "bearer", "api_key", "none"]


def fingerprint(credential: str) -> str:
    """A credential's fingerprint: ``sha256:`` and the first 12 hex digits of its SHA-256."""
    return "sha256:" + hashlib.sha256(credential.encode()).hexdigest()[:12]


def outcome_of(status: int) -> AuditOutcome:
    """2xx succeeded; 4xx refused (bad credentials, bad input); anything else failed."""
    if 200 <= status < 300:
        return "succeeded"
    return "refused" if 400 <= status < 500 else "failed"
