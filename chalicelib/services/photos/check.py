"""The checks on an arrived photo, before it can be used or charged for anything.

In order: it decodes within the limits (at most 10 MiB and 40 megapixels, the decode guards of
``adapters/imaging``); its orientation is applied and every metadata block stripped, and this
clean copy replaces the file as sent (GPS and all gone before anything else reads it); exactly
one face is found; image moderation passes. A refused photo's file is deleted at once; its
record keeps the reason for ``GET /v1/uploads/{id}``. Nothing here logs the picture or its id.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from chalicelib.domain.uploads import MAX_PHOTO_PIXELS, MAX_UPLOAD_BYTES, Upload
from chalicelib.ports import Clock, ImageRejected, ObjectStore
from chalicelib.ports.photos import FaceDetector, PhotoCodec, PhotoModerator
from chalicelib.services.photos.records import UploadRecords

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What the checks found: a face box (ready) or the reason of a refusal."""

    reason: str | None
    upload: Upload
    seconds: float


class CheckPhoto:
    """Checks one arrived upload (idempotent: a checked upload is left as it is)."""

    def __init__(
        self,
        *,
        records: UploadRecords,
        objects: ObjectStore,
        codec: PhotoCodec,
        faces: FaceDetector,
        moderator: PhotoModerator,
        clock: Clock,
    ) -> None:
        self._records = records
        self._objects = objects
        self._codec = codec
        self._faces = faces
        self._moderator = moderator
        self._clock = clock

    def __call__(self, upload_id: str) -> Upload | None:
        upload = self._records.get(upload_id)
        if upload is None or upload.status != "pending":
            return upload
        data = self._objects.get(upload.object_key)
        if data is None:
            return upload  # not arrived yet
        verdict = self.inspect(upload, data)
        if verdict.reason is not None:
            self._objects.delete(upload.object_key)  # refused: nothing of the picture is kept
        self._records.save(verdict.upload, self._clock.time())
        # Counts only: never the picture, its id or its owner.
        log.info(
            "photo checked", extra={"outcome": verdict.reason or "ready", "ms": round(verdict.seconds * 1000)}
        )
        return verdict.upload

    def inspect(self, upload: Upload, data: bytes) -> Verdict:
        """Decode, clean (the clean copy replaces the file), find the face, moderate."""
        started = time.perf_counter()

        def verdict(reason: str | None, checked: Upload) -> Verdict:
            return Verdict(reason, checked, time.perf_counter() - started)

        try:
            image = self._codec.decode(data, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PHOTO_PIXELS)
        except ImageRejected as exc:
            return verdict(exc.reason, upload.rejected(exc.reason))
        self._objects.put(upload.object_key, self._codec.clean_jpeg(image), "image/jpeg", "private, no-store")
        faces = self._faces.faces(image)
        if not faces:
            return verdict("no_face", upload.rejected("no_face"))
        if len(faces) > 1:
            return verdict("several_faces", upload.rejected("several_faces"))
        if self._moderator.refuses(image):
            return verdict("content_rejected", upload.rejected("content_rejected"))
        return verdict(None, upload.ready(faces[0]))
