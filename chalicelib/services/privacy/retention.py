"""Retention of unchosen generations, enforced where no lifecycle rule does it.

Records expire by themselves (their TTL in the state store is the retention). Their images
live under ``img/``: in R2 the bucket's lifecycle rule (infra/terraform) deletes them at the same
age; the local object store has no such rule, so this job does it on a schedule (the local
stage's background thread). Chosen avatars (``pinned/``) and the gallery (``gallery/``) are
never touched.
"""

from __future__ import annotations

import logging

from chalicelib.ports import Clock, ExpiringObjects

log = logging.getLogger(__name__)

EXPIRING_FOLDER = "img"  # unchosen generations' images; the only folder that expires


class EnforceRetention:
    """Deletes ``img/`` objects older than the retention (one pass per :meth:`run`)."""

    def __init__(self, objects: ExpiringObjects, *, retention_s: int, clock: Clock) -> None:
        self._objects = objects
        self._retention_s = retention_s
        self._clock = clock

    def run(self) -> int:
        deleted = self._objects.delete_older_than(EXPIRING_FOLDER, self._clock.time() - self._retention_s)
        if deleted:
            log.info("retention: deleted %d images of unchosen generations", deleted)
        return deleted
