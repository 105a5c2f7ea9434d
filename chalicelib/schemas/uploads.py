"""Pydantic models of the photo upload bodies (``POST /v1/uploads``, ``GET /v1/uploads/{id}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.domain.uploads import MAX_UPLOAD_BYTES
from chalicelib.schemas.models import ApiModel, ErrorInfo, StrictModel

UploadType = Literal["image/jpeg", "image/png", "image/webp"]


class UploadRequest(StrictModel):
    """What a client asks for in ``POST /v1/uploads``: the file it is about to send."""

    content_type: UploadType = Field(description="The file's type; the upload policy enforces it.")
    content_length: int = Field(
        ge=1, le=MAX_UPLOAD_BYTES, description="The file's size in bytes (1 B to 10 MiB)."
    )


class UploadTicket(ApiModel):
    """A presigned form upload straight to the object store: POST ``multipart/form-data`` to
    ``url`` with every ``fields`` entry, then the file as the last field ``file``."""

    id: str
    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str]
    expires_at: str = Field(description="When the photo (and this upload) is deleted.")


class FaceOut(ApiModel):
    """The one face found, as fractions (0..1) of the picture's width and height."""

    x: float
    y: float
    w: float
    h: float


class UploadOut(ApiModel):
    id: str
    status: Literal["pending", "ready", "rejected"]
    face: FaceOut | None
    error: ErrorInfo | None
    expires_at: str
