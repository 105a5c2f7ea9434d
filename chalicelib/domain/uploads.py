"""An uploaded photo: pending until its file has arrived and been checked, then ready or rejected.

A photo is biometric personal data. Its record and its file live for the photo retention
(24 hours by default), are erased by ``DELETE /v1/me`` and are never logged. The file's object
key carries a secret no client ever sees (``uploads/<id>-<secret>``): knowing an upload id is
not enough to fetch the picture, which reaches a provider only as a short-lived presigned URL.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

UploadStatus = Literal["pending", "ready", "rejected"]

UPLOADS_FOLDER = "uploads"  # the object-store prefix of the photos (its lifecycle rule: infra/)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the largest file a client may send (contract: 10 MiB)
MAX_PHOTO_PIXELS = 40_000_000  # the contract's 40 megapixels
UPLOAD_TYPES: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
UPLOAD_URL_TTL_S = 15 * 60  # how long the presigned form upload is accepted
PROVIDER_URL_TTL_S = 10 * 60  # a provider's presigned GET of the photo: at most 10 minutes
DEFAULT_LIKENESS = 0.8

# Why a photo is refused: the reason a check gives -> (contract code, message a page can show).
REJECTIONS: dict[str, tuple[str, str]] = {
    "no_face": ("no_face", "No face was found in the photo: use a photo where your face is clearly visible."),
    "several_faces": (
        "several_faces",
        "More than one face was found in the photo: use a photo of you alone.",
    ),
    "content_rejected": ("content_rejected", "The photo was refused by the content policy."),
    "too_large": ("payload_too_large", "The photo is larger than 10 MiB."),
    "too_many_pixels": ("payload_too_large", "The photo has more than 40 megapixels."),
    "not_an_image": ("unsupported_media_type", "The file is not a JPEG, PNG or WebP image."),
    "unsupported_format": ("unsupported_media_type", "The file is not a JPEG, PNG or WebP image."),
    "corrupt": ("unsupported_media_type", "The image is damaged or truncated and cannot be read."),
    "too_small": ("unsupported_media_type", "The photo is too small: use one at least 64 pixels a side."),
}


@dataclass(frozen=True)
class FaceBox:
    """The face found, as fractions (0..1) of the oriented picture's width and height."""

    x: float
    y: float
    w: float
    h: float

    def as_dict(self) -> dict[str, float]:
        return {"x": round(self.x, 4), "y": round(self.y, 4), "w": round(self.w, 4), "h": round(self.h, 4)}


@dataclass(frozen=True)
class Upload:
    """One photo upload and what the checks found."""

    id: str
    owner: str  # the identity's store key (u:..., k:...)
    object_key: str  # where the file is (never shown to a client)
    content_type: str
    content_length: int
    created_at: float  # epoch seconds
    expires_at: float
    status: UploadStatus = "pending"
    face: FaceBox | None = None
    error_code: str | None = None
    error_message: str | None = None

    @staticmethod
    def new(owner: str, content_type: str, content_length: int, now: float, retention_s: int) -> Upload:
        upload_id = "upl_" + secrets.token_urlsafe(15)
        # The secret part of the key keeps the file unguessable from the id alone.
        object_key = f"{UPLOADS_FOLDER}/{upload_id}-{secrets.token_hex(16)}"
        return Upload(
            id=upload_id,
            owner=owner,
            object_key=object_key,
            content_type=content_type,
            content_length=content_length,
            created_at=now,
            expires_at=now + retention_s,
        )

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def ready(self, face: FaceBox) -> Upload:
        return dataclasses.replace(self, status="ready", face=face, error_code=None, error_message=None)

    def rejected(self, reason: str) -> Upload:
        code, message = REJECTIONS.get(reason, REJECTIONS["not_an_image"])
        return dataclasses.replace(self, status="rejected", face=None, error_code=code, error_message=message)

    def to_json(self) -> str:
        data: dict[str, Any] = dataclasses.asdict(self)
        data["face"] = self.face.as_dict() if self.face else None
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> Upload:
        data: Mapping[str, Any] = json.loads(text)
        face = data.get("face")
        return Upload(
            id=str(data["id"]),
            owner=str(data["owner"]),
            object_key=str(data["object_key"]),
            content_type=str(data["content_type"]),
            content_length=int(data["content_length"]),
            created_at=float(data["created_at"]),
            expires_at=float(data["expires_at"]),
            status=data.get("status", "pending"),
            face=FaceBox(**face) if isinstance(face, dict) else None,
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
        )


def is_upload_id(value: str) -> bool:
    """The shape of an upload id (``upl_`` + 20 URL-safe characters)."""
    return value.startswith("upl_") and len(value) == 24 and all(c.isalnum() or c in "-_" for c in value[4:])
