"""The body of ``GET /v1/me/export``: everything held about the caller, a page of history at a time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.schemas.models import ApiModel, Avatar, Generation, Quota
from chalicelib.schemas.uploads import UploadOut


class ExportSubject(ApiModel):
    """Who the export is about, as the API knows them."""

    kind: Literal["user", "api_key"]
    id: str = Field(description="The user id (JWT sub) or the API key id")
    tier: str


class UserExport(ApiModel):
    """What the service holds about the caller. ``generations`` is one page of their history
    (newest first, prompts and image URLs included); follow ``next_cursor`` with
    ``?cursor=`` for the rest. The other parts are repeated on every page."""

    exported_at: str
    subject: ExportSubject
    generations: list[Generation]
    next_cursor: str | None
    avatar: Avatar | None = Field(description="The chosen avatar; null when none is chosen")
    quota: Quota = Field(description="Current quota use in each window of the caller's tier")
    uploads: list[UploadOut] = Field(
        default_factory=list, description="The caller's uploaded photos still held (deleted after 24 hours)"
    )
