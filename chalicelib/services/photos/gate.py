"""May this request use this photo? The caller's own, live, ready upload only."""

from __future__ import annotations

from chalicelib.domain.errors import Conflict, NotFound, Unauthorized
from chalicelib.domain.identity import Identity
from chalicelib.domain.uploads import is_upload_id
from chalicelib.ports import Clock
from chalicelib.services.photos.records import UploadRecords


class PhotoGate:
    """Checks the ``photo`` of ``POST /v1/generations`` before anything is charged: anonymous 401;
    unknown, someone else's or expired 404; not ready (pending or rejected) 409."""

    def __init__(self, records: UploadRecords, clock: Clock) -> None:
        self._records = records
        self._clock = clock

    def __call__(self, identity: Identity, upload_id: str) -> None:
        if identity.kind == "anonymous":
            raise Unauthorized("Sign in to make an avatar from a photo: photos are for signed-in users.")
        upload = self._records.get(upload_id) if is_upload_id(upload_id) else None
        if upload is None or upload.owner != identity.key or upload.expired(self._clock.time()):
            raise NotFound(
                "No such photo (photos are deleted 24 hours after upload).",
                details=[{"field": "photo", "message": "unknown or expired upload"}],
            )
        if upload.status == "pending":
            raise Conflict(
                "The photo is not ready yet: send the file, then wait until GET /v1/uploads/{id} says ready.",
                details=[{"field": "photo", "message": "pending"}],
            )
        if upload.status != "ready":
            raise Conflict(
                f"The photo was refused: {upload.error_message or 'it cannot be used'}",
                details=[{"field": "photo", "message": upload.error_code or "rejected"}],
            )
