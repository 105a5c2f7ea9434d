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
from chalicelib.ports import GenerationStore, ImageHolders, KeyValueStore, ObjectStore, StoreError
from chalicelib.schemas.models import Avatar, AvatarChoice
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)

PUBLIC_SIZES = ("128", "256", "512")


class AvatarService:
    """Pins a gallery item or one of the user's own generations as their avatar.

    A generation's images are copied under ``pinned/`` (no lifecycle rule expires them); the
    copies are content-addressed, so two users who chose the same image share one: each is
    recorded as a holder of it (``avatar:<identity>``), and :meth:`forget` deletes a copy only
    when its last holder lets go."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        objects: ObjectStore,
        gallery: GalleryService,
        bus: MessageBus,
        holders: ImageHolders,
    ) -> None:
        self._generations = generations
        self._holders = holders
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
            pinned = self._pin(generation.images, _holder(identity.key))
            urls = {size: self._objects.public_url(key) for size, key in pinned.items()}
            doc = {
                "source": "generation",
                "id": generation.id,
                "images": urls,
                "pinned": list(pinned.values()),
            }
            adopted = generation
        previous = self._kv.get(self._key(identity.key))
        self._kv.set(self._key(identity.key), json.dumps(doc))
        if previous is not None:  # the avatar it replaces no longer holds its pinned copy
            kept = set(doc.get("pinned", ()))
            self._let_go(identity.key, [k for k in _pinned_keys(previous) if k not in kept])
        if picked is not None:
            self._bus.publish(GalleryItemChosen(picked))
        if adopted is not None:
            self._bus.publish(GenerationChosen(adopted))
        return Avatar.model_validate(doc)

    def _pin(self, keys: Mapping[str, str], holder: str) -> dict[str, str]:
        """Copy a generation's images under pinned/, which no lifecycle rule ever expires, held
        by ``holder``: the pinned key per size."""
        pinned_keys = {}
        for size, key in keys.items():
            pinned = "pinned/" + key.split("/", 1)[1]
            if not self._objects.exists(pinned):
                data = self._objects.get(key)
                if data is None:
                    raise Conflict("The generation's images are no longer available.")
                self._objects.put(pinned, data, "image/webp")
            pinned_keys[size] = pinned
        self._holders.hold(list(pinned_keys.values()), holder)
        return pinned_keys

    def forget(self, identity_key: str) -> None:
        """Erasure: no chosen avatar any more (its public URL gives the default again), and the
        pinned copies that no one else chose are deleted."""
        raw = self._kv.get(self._key(identity_key))
        if raw is None:
            return
        self._kv.delete(self._key(identity_key))
        self._let_go(identity_key, _pinned_keys(raw))

    def _let_go(self, identity_key: str, pinned: list[str]) -> None:
        for key in self._holders.release(pinned, _holder(identity_key)):
            self._objects.delete(key)

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


def _holder(identity_key: str) -> str:
    return f"avatar:{identity_key}"


def _pinned_keys(raw: str) -> list[str]:
    """The pinned copies an avatar document holds (none for a gallery item)."""
    try:
        keys = json.loads(raw).get("pinned", [])
    except (ValueError, AttributeError):
        return []
    return [str(k) for k in keys] if isinstance(keys, list) else []
