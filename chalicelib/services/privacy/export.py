"""``GET /v1/me/export``: everything held about the caller as one JSON document, a page of their
history at a time (``next_cursor``): generations with prompts and image URLs, the chosen avatar,
the current quota use, the uploaded photos (status and expiry, not the pictures) and who they are
to the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.domain.generation import iso
from chalicelib.domain.identity import Identity
from chalicelib.ports import Clock
from chalicelib.schemas.export import ExportSubject, UserExport
from chalicelib.schemas.models import Avatar
from chalicelib.services.generation.avatars import AvatarService
from chalicelib.services.generation.read import ReadGenerations

if TYPE_CHECKING:
    from chalicelib.services.photos.privacy import PhotoPrivacy

EXPORT_PAGE = 100  # generations per page: one store call


class ExportUserData:
    """The use case behind ``GET /v1/me/export``."""

    def __init__(
        self,
        *,
        reads: ReadGenerations,
        avatars: AvatarService,
        clock: Clock,
        photos: PhotoPrivacy | None = None,
    ) -> None:
        self._reads = reads
        self._avatars = avatars
        self._clock = clock
        self._photos = photos

    def __call__(self, identity: Identity, cursor: str | None = None) -> UserExport:
        if identity.kind == "anonymous":
            raise Unauthorized("Sign in to export your data.")
        page = self._reads.history(identity, EXPORT_PAGE, cursor)
        avatar: Avatar | None
        try:
            avatar = self._avatars.current(identity)
        except NotFound:
            avatar = None
        return UserExport(
            exported_at=iso(self._clock.time()),
            subject=ExportSubject(kind=identity.kind, id=identity.subject, tier=identity.tier),
            generations=page.items,
            next_cursor=page.next_cursor,
            avatar=avatar,
            quota=self._reads.quota(identity),
            uploads=self._photos.export(identity) if self._photos is not None else [],
        )
