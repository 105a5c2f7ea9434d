"""What happens to photos afterwards: erased with the caller's data (``DELETE /v1/me``), listed
in their export (``GET /v1/me/export``), and deleted after the photo retention where no
lifecycle rule does it (the local stage; R2's rule on ``uploads/`` in production)."""

from __future__ import annotations

import logging

from chalicelib.domain.identity import Identity
from chalicelib.domain.uploads import UPLOADS_FOLDER
from chalicelib.ports import Clock, ExpiringObjects, ObjectStore
from chalicelib.schemas.uploads import UploadOut
from chalicelib.services.photos.records import UploadRecords
from chalicelib.services.photos.uploads import upload_out

log = logging.getLogger(__name__)


class PhotoPrivacy:
    """Erasure, export and retention of the uploaded photos."""

    def __init__(
        self, *, records: UploadRecords, objects: ObjectStore, clock: Clock, retention_s: int
    ) -> None:
        self._records = records
        self._objects = objects
        self._clock = clock
        self._retention_s = retention_s

    def erase(self, owner: str) -> int:
        """Delete every photo of an identity (its store key): files and records; how many."""
        ids = self._records.owned(owner)
        for upload_id in ids:
            upload = self._records.get(upload_id)
            if upload is not None and upload.owner == owner:
                self._objects.delete(upload.object_key)
                self._records.delete(upload_id)
        self._records.forget_owner(owner)
        return len(ids)

    def export(self, identity: Identity) -> list[UploadOut]:
        """The caller's live uploads (never the picture itself: it is theirs already)."""
        now = self._clock.time()
        found = (self._records.get(i) for i in self._records.owned(identity.key))
        return [
            upload_out(u) for u in found if u is not None and u.owner == identity.key and not u.expired(now)
        ]

    def expire(self, objects: ExpiringObjects) -> int:
        """Delete the photo files older than the retention (the local stage's lifecycle rule)."""
        deleted = objects.delete_older_than(UPLOADS_FOLDER, self._clock.time() - self._retention_s)
        if deleted:
            log.info("photo retention: deleted %d photos", deleted)
        return deleted
