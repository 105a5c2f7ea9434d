"""Use cases of the user's chosen avatar: choose, read, and the public redirect."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from chalicelib.domain.events import GalleryItemChosen, GenerationChosen
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.generation import Generation
from chalicelib.domain.identity import Identity
from chalicelib.domain.models import Avatar, AvatarChoice
from chalicelib.messagebus import MessageBus
from chalicelib.ports import GenerationStore, KeyValueStore, ObjectStore, StoreError
from chalicelib.services.gallery import GalleryService

log = logging.getLogger(__name__)

PUBLIC_SIZES = ("128", "256", "512")


class AvatarService:
    """Pins a gallery item or one of the user's own generations as their avatar."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        objects: ObjectStore,
        gallery: GalleryService,
        bus: MessageBus,
    ) -> None:
        self._generations = generations
        self._kv = kv
        self._objects = objects
        self._gallery = gallery
        self._bus = bus

    @staticmethod
    def _key(identity_key: str) -> str:
        return f"avatar:{identity_key}"

    def choose(self, identity: Identity, choice: AvatarChoice) -> Avatar:
        """Make a gallery item or an own succeeded generation the caller's avatar."""
        if identity.kind == "anonymous":
            raise Unauthorized("Sign in to choose an avatar.")
        if (choice.gallery_id is None) == (choice.generation_id is None):
            raise InvalidRequest("Give exactly one of gallery_id or generation_id.")
        picked: GalleryEntry | None = None
        adopted: Generation | None = None
        if choice.gallery_id is not None:
            entry = picked = self._gallery.entry(choice.gallery_id)
            if entry is None:
                raise NotFound("No such gallery item.")
            images = self._gallery.to_item(entry).images
            doc = {"source": "gallery", "id": entry.id, "images": images}
        else:
            generation = self._generations.get(str(choice.generation_id))
            if generation is None or generation.owner != identity.key:
                raise NotFound("No such generation.")
            if generation.status != "succeeded" or not generation.images:
                raise Conflict("Only a succeeded generation can become an avatar.")
            doc = {"source": "generation", "id": generation.id, "images": self._pin(generation.images)}
            adopted = generation
        self._kv.set(self._key(identity.key), json.dumps(doc))
        if picked is not None:
            self._bus.publish(GalleryItemChosen(picked))
        if adopted is not None:
            self._bus.publish(GenerationChosen(adopted))
        return Avatar.model_validate(doc)

    def _pin(self, keys: Mapping[str, str]) -> dict[str, str]:
        """Copy a generation's images under pinned/, which no lifecycle rule ever expires."""
        urls = {}
        for size, key in keys.items():
            pinned = "pinned/" + key.split("/", 1)[1]
            if not self._objects.exists(pinned):
                data = self._objects.get(key)
                if data is None:
                    raise Conflict("The generation's images are no longer available.")
                self._objects.put(pinned, data, "image/webp")
            urls[size] = self._objects.public_url(pinned)
        return urls

    def current(self, identity: Identity) -> Avatar:
        raw = self._kv.get(self._key(identity.key)) if identity.kind != "anonymous" else None
        if raw is None:
            raise NotFound("No avatar chosen yet.")
        return Avatar.model_validate_json(raw)

    def public_url(self, user_id: str, size: str) -> str:
        """Where ``/v1/avatars/{user_id}`` redirects: the chosen avatar, else a stable default."""
        try:
            raw = self._kv.get(self._key(f"u:{user_id}"))
        except StoreError:
            log.warning("store unavailable for avatar lookup; serving the default")
            raw = None
        if raw is not None:
            images = json.loads(raw)["images"]
            if size in images:
                return str(images[size])
        entry = self._gallery.default_for(user_id)
        if entry is None:
            raise NotFound("No avatar available.")
        return self._gallery.to_item(entry).images[size]
