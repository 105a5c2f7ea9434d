"""The privacy use cases from their ports, each built on first use (no request but its own needs
them): erasure (``DELETE /v1/me``), export (``GET /v1/me/export``) and the admin audit trail."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.ports import Clock, ObjectStore, StateStore
from chalicelib.services.generation.avatars import AvatarService
from chalicelib.services.generation.read import ReadGenerations

if TYPE_CHECKING:
    from chalicelib.services.photos.privacy import PhotoPrivacy
    from chalicelib.services.privacy.audit import AdminAudit
    from chalicelib.services.privacy.erasure import EraseUserData
    from chalicelib.services.privacy.export import ExportUserData


class PrivacyUseCases:
    """A user's data: erased, exported; the admins' calls: recorded. ``photos`` gives the photo
    flow's share of both (itself built on first use)."""

    def __init__(
        self,
        store: StateStore,
        *,
        objects: ObjectStore,
        clock: Clock,
        avatars: AvatarService,
        reads: ReadGenerations,
        photos: Callable[[], PhotoPrivacy],
    ) -> None:
        self._store, self._objects, self._clock = store, objects, clock
        self._avatars, self._reads, self._photos = avatars, reads, photos

    @functools.cached_property
    def audit(self) -> AdminAudit:
        """The admin audit trail (api/audit.py records every admin call)."""
        from chalicelib.services.privacy.audit import AdminAudit

        return AdminAudit(self._store.audit)

    @functools.cached_property
    def erase_user_data(self) -> EraseUserData:
        from chalicelib.services.privacy.erasure import EraseUserData

        return EraseUserData(
            generations=self._store.generations,
            kv=self._store.kv,
            objects=self._objects,
            avatars=self._avatars,
            photos=self._photos(),
        )

    @functools.cached_property
    def export_user_data(self) -> ExportUserData:
        from chalicelib.services.privacy.export import ExportUserData

        return ExportUserData(
            reads=self._reads, avatars=self._avatars, clock=self._clock, photos=self._photos()
        )
