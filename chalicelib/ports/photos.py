"""Photos: where a client sends one (a presigned form upload), how a provider reads it (a
presigned GET), and the checks that decide whether it may be used (faces, moderation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image

    from chalicelib.domain.uploads import FaceBox


@dataclass(frozen=True)
class PresignedPost:
    """A form upload: POST ``multipart/form-data`` to ``url`` with every field, the file last."""

    url: str
    fields: dict[str, str]


class UploadSigner(Protocol):
    """Signed, short-lived access to the uploads prefix of the object store (an S3 POST policy and
    a presigned GET on R2/S3; the local stage signs its own URLs the same way)."""

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        """A form upload of exactly one object at ``key``: its type and size range enforced by
        the policy (``content-length-range`` 1..max_bytes), accepted for ``expires_s`` seconds."""
        ...

    def presigned_get(self, key: str, expires_s: int) -> str:
        """A URL that reads the object for ``expires_s`` seconds (a provider's copy of a photo)."""
        ...


class FaceDetector(Protocol):
    """Finds the faces of a picture (a model shipped inside a registry package; nothing is
    downloaded at run time)."""

    def faces(self, image: Image.Image) -> list[FaceBox]:
        """Every face found, as fractions of the picture's width and height."""
        ...


class PhotoModerator(Protocol):
    """Image moderation of a photo before it is used or sent anywhere."""

    def refuses(self, image: Image.Image) -> bool:
        """True: the photo breaks the content policy (explicit nudity)."""
        ...


class PhotoCheckQueue(Protocol):
    """Hands an arrived upload to the checks: at once in this process (the embedded default), or
    to the photo-checks function's queue in production (its detectors stay out of the API's package)."""

    def request_check(self, upload_id: str) -> None: ...


class UploadRefused(Exception):
    """A form upload or a presigned GET breaks its policy; ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class AcceptedUpload:
    """A form upload that kept to its policy: where it goes and its declared type."""

    key: str
    content_type: str


class LocalUploadVerifier(Protocol):
    """The local stage's side of its own presigned URLs (S3 and R2 check theirs themselves)."""

    def verify_post(self, fields: dict[str, str], file_size: int, now: float) -> AcceptedUpload:
        """The upload its signed policy accepts; raises :class:`UploadRefused`."""
        ...

    def verify_get(self, name: str, expires: str, signature: str, now: float) -> str:
        """The object key a presigned GET names; raises :class:`UploadRefused`."""
        ...


class PhotoCodec(Protocol):
    """Decodes an uploaded photo within limits, and writes its clean copy."""

    def decode(self, data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
        """The photo verified, decoded, oriented, without metadata; raises ``ImageRejected``."""
        ...

    def clean_jpeg(self, image: Image.Image) -> bytes:
        """JPEG bytes of ``image`` with no metadata block (no EXIF, GPS, ICC or XMP)."""
        ...
