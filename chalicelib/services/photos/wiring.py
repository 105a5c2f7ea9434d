"""The photo use cases from their ports (docs/photos.md): uploads, the checks, privacy.

``bootstrap/photos.py`` chooses the adapters (the upload signer, the detectors, the photo codec,
the check queue).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.ports import Clock, Counters, ObjectStore
from chalicelib.ports.photos import FaceDetector, PhotoCheckQueue, PhotoCodec, PhotoModerator, UploadSigner
from chalicelib.services.photos.cases import InlinePhotoChecks, PhotoUseCases
from chalicelib.services.photos.check import CheckPhoto
from chalicelib.services.photos.privacy import PhotoPrivacy
from chalicelib.services.photos.receive import ReceiveLocalUpload
from chalicelib.services.photos.records import UploadRecords
from chalicelib.services.photos.uploads import CreateUpload, ReadUpload

# The local stage's own form upload, given the check queue (None with R2/S3, which take the
# presigned POST themselves): it verifies the local signer's signatures, so bootstrap builds it.
LocalReceive = Callable[[PhotoCheckQueue], ReceiveLocalUpload]


def wire_photos(
    records: UploadRecords,
    *,
    signer: UploadSigner,
    detectors: tuple[FaceDetector, PhotoModerator],
    codec: PhotoCodec,
    queue: PhotoCheckQueue | None,
    local_receive: LocalReceive | None,
    objects: ObjectStore,
    counters: Counters,
    clock: Clock,
    retention_s: int,
    per_hour: int,
) -> PhotoUseCases:
    """The photo use cases; without a check ``queue`` (SQS) a photo is checked at once, in this
    process. ``retention_s``: how long an upload is kept; ``per_hour``: uploads per identity."""
    faces, moderator = detectors
    check = CheckPhoto(
        records=records, objects=objects, codec=codec, faces=faces, moderator=moderator, clock=clock
    )
    checks = queue if queue is not None else InlinePhotoChecks(check)
    return PhotoUseCases(
        records=records,
        create=CreateUpload(
            records=records,
            signer=signer,
            counters=counters,
            clock=clock,
            retention_s=retention_s,
            per_hour=per_hour,
        ),
        read=ReadUpload(records=records, objects=objects, checks=checks, clock=clock),
        check=check,
        receive=local_receive(checks) if local_receive is not None else None,
        privacy=PhotoPrivacy(records=records, objects=objects, clock=clock, retention_s=retention_s),
    )
