"""The local stage's form upload (``POST /v1/local-uploads``): what the object store does with a
presigned POST in production (check the policy, store the file), then the checks at once."""

from __future__ import annotations

from chalicelib.domain.errors import Forbidden, InvalidRequest, PayloadTooLarge
from chalicelib.domain.uploads import UPLOADS_FOLDER
from chalicelib.ports import Clock, ObjectStore
from chalicelib.ports.photos import LocalUploadVerifier, PhotoCheckQueue, UploadRefused
from chalicelib.services.photos.records import UploadRecords


class ReceiveLocalUpload:
    """Accepts a form upload that keeps to its signed policy, as S3 and R2 do."""

    def __init__(
        self,
        *,
        signer: LocalUploadVerifier,
        objects: ObjectStore,
        records: UploadRecords,
        checks: PhotoCheckQueue,
        clock: Clock,
    ) -> None:
        self._signer = signer
        self._objects = objects
        self._records = records
        self._checks = checks
        self._clock = clock

    def __call__(self, fields: dict[str, str], file: bytes) -> None:
        try:
            accepted = self._signer.verify_post(fields, len(file), self._clock.time())
        except UploadRefused as exc:
            if exc.reason == "size":
                raise PayloadTooLarge(exc.message) from None
            if exc.reason == "malformed":
                raise InvalidRequest(exc.message) from None
            raise Forbidden(exc.message) from None  # as S3: a policy condition failed (AccessDenied)
        upload_id = accepted.key.removeprefix(UPLOADS_FOLDER + "/").rsplit("-", 1)[0]
        upload = self._records.get(upload_id)
        if upload is None or upload.object_key != accepted.key or upload.status != "pending":
            raise Forbidden("This upload is no longer accepted.")
        self._objects.put(accepted.key, file, accepted.content_type, "private, no-store")
        if self._records.claim_check(upload.id):
            self._checks.request_check(upload.id)

    def read(self, name: str, expires: str, signature: str) -> bytes:
        """A presigned GET of a photo (what a provider would fetch); refused: 403."""
        try:
            key = self._signer.verify_get(name, expires, signature, self._clock.time())
        except UploadRefused as exc:
            raise Forbidden(exc.message) from None
        data = self._objects.get(key)
        if data is None:
            raise Forbidden("This photo is no longer available.")
        return data
