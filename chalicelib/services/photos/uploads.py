"""``POST /v1/uploads`` and ``GET /v1/uploads/{id}``: a presigned form upload of a photo, and
what became of it (pending until the file has arrived and been checked, then ready or rejected).

The file never passes through the API: the client posts it straight to the object store with
the presigned policy. A ``GET`` that finds the file arrived hands it to the checks (at once in
this process on the embedded defaults; the photo-checks function's queue in production).
"""

from __future__ import annotations

from chalicelib.domain.errors import NotFound, RateLimited, Unauthorized
from chalicelib.domain.generation import iso
from chalicelib.domain.identity import Identity
from chalicelib.domain.uploads import MAX_UPLOAD_BYTES, UPLOAD_URL_TTL_S, Upload, is_upload_id
from chalicelib.ports import Clock, Counter, Counters, ObjectStore
from chalicelib.ports.photos import PhotoCheckQueue, UploadSigner
from chalicelib.schemas.models import ErrorInfo
from chalicelib.schemas.uploads import FaceOut, UploadOut, UploadRequest, UploadTicket
from chalicelib.services.photos.records import UploadRecords

HOUR_S = 3600


def upload_out(upload: Upload) -> UploadOut:
    """The wire shape of an upload (never its object key)."""
    face = upload.face
    error = None
    if upload.error_code:
        error = ErrorInfo(code=upload.error_code, message=upload.error_message or "The photo was refused.")
    return UploadOut(
        id=upload.id,
        status=upload.status,
        face=FaceOut(x=face.x, y=face.y, w=face.w, h=face.h) if face else None,
        error=error,
        expires_at=iso(upload.expires_at),
    )


def require_signed_in(identity: Identity) -> None:
    """Photos are for signed-in users and API keys: an anonymous caller gets 401."""
    if identity.kind == "anonymous":
        raise Unauthorized("Sign in to use a photo: photos are for signed-in users and API keys.")


class CreateUpload:
    """The use case behind ``POST /v1/uploads``: a record and a presigned form upload."""

    def __init__(
        self,
        *,
        records: UploadRecords,
        signer: UploadSigner,
        counters: Counters,
        clock: Clock,
        retention_s: int,
        per_hour: int,
    ) -> None:
        self._records = records
        self._signer = signer
        self._counters = counters
        self._clock = clock
        self._retention_s = retention_s
        self._per_hour = per_hour

    def __call__(self, identity: Identity, req: UploadRequest) -> UploadTicket:
        require_signed_in(identity)
        now = self._clock.time()
        self._count_against_limit(identity, now)
        upload = Upload.new(identity.key, req.content_type, req.content_length, now, self._retention_s)
        self._records.save(upload, now)
        self._records.add_owned(upload)
        # The policy allows up to the declared size (never above the contract's 10 MiB), so a
        # client cannot announce 1 KiB and send 10 MiB past a smaller limit it asked for.
        post = self._signer.presign_post(
            upload.object_key,
            upload.content_type,
            min(req.content_length, MAX_UPLOAD_BYTES),
            UPLOAD_URL_TTL_S,
        )
        return UploadTicket(id=upload.id, url=post.url, fields=post.fields, expires_at=iso(upload.expires_at))

    def _count_against_limit(self, identity: Identity, now: float) -> None:
        hour = int(now) // HOUR_S
        key = f"uprate:{identity.key}:{hour}"
        self._counters.add([Counter(key, 1, HOUR_S + 60)])
        (count,) = self._counters.quota_counts([key])
        if count > self._per_hour:
            raise RateLimited(
                f"At most {self._per_hour} photo uploads an hour; try again later.",
                retry_after=max(1, (hour + 1) * HOUR_S - int(now)),
            )


class ReadUpload:
    """The use case behind ``GET /v1/uploads/{id}``: the owner's upload, checked once its file
    has arrived; someone else's, unknown or expired: 404."""

    def __init__(
        self,
        *,
        records: UploadRecords,
        objects: ObjectStore,
        checks: PhotoCheckQueue,
        clock: Clock,
    ) -> None:
        self._records = records
        self._objects = objects
        self._checks = checks
        self._clock = clock

    def owned(self, identity: Identity, upload_id: str) -> Upload:
        """The caller's live upload, or 404 (never 403: another's upload is not acknowledged)."""
        require_signed_in(identity)
        upload = self._records.get(upload_id) if is_upload_id(upload_id) else None
        if upload is None or upload.owner != identity.key or upload.expired(self._clock.time()):
            raise NotFound("No such upload (uploads are deleted after their retention).")
        return upload

    def __call__(self, identity: Identity, upload_id: str) -> UploadOut:
        upload = self.owned(identity, upload_id)
        if (
            upload.status == "pending"
            and self._objects.exists(upload.object_key)
            and self._records.claim_check(upload.id)
        ):
            self._checks.request_check(upload.id)
            upload = self._records.get(upload.id) or upload
        return upload_out(upload)
