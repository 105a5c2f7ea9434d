"""The photo use cases as one bundle, and the in-process checks queue (the embedded default)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.services.photos.check import CheckPhoto
from chalicelib.services.photos.privacy import PhotoPrivacy
from chalicelib.services.photos.receive import ReceiveLocalUpload
from chalicelib.services.photos.records import UploadRecords
from chalicelib.services.photos.uploads import CreateUpload, ReadUpload

__all__ = ["InlinePhotoChecks", "PhotoUseCases"]


class InlinePhotoChecks:
    """:class:`chalicelib.ports.photos.PhotoCheckQueue` that checks at once, in this process
    (the embedded default: the detectors are imported on the first check)."""

    def __init__(self, check: CheckPhoto) -> None:
        self._check = check

    def request_check(self, upload_id: str) -> None:
        self._check(upload_id)


@dataclass(frozen=True)
class PhotoUseCases:
    """The photo use cases the entrypoints call."""

    records: UploadRecords
    create: CreateUpload
    read: ReadUpload
    check: CheckPhoto
    receive: ReceiveLocalUpload | None  # the local stage's own form uploads (None with R2/S3)
    privacy: PhotoPrivacy
