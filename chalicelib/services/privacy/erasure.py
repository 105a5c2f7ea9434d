"""``DELETE /v1/me``: erase what ties the caller to their content, in bounded store calls.

The caller's history index lists every live generation record they own (``admit.lua`` keeps it
so), and the store erases it a chunk at a time (``GenerationStore.erase``): records, idempotency
entries, the links of requests that joined another job, each record's hold on its images, and its
request's words in the similar-results index (so no one is offered the prompt as ``similar``). A
job still running ends into nothing (refunded, result dropped). Then, per chunk, what was keyed
by those records goes: the result cache entries of their requests (the prompt is personal data),
their batches, and the images no one else serves. Last, the chosen avatar and the uploaded photos.

Quota and rate counters stay until they expire (erasure is no quota reset). Erasing twice is
erasing once. docs/privacy.md describes it for a website's privacy policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.errors import StoreUnavailable, Unauthorized
from chalicelib.domain.identity import Identity
from chalicelib.ports import GenerationStore, KeyValueStore, ObjectStore, ObjectStoreError, StoreError
from chalicelib.services.generation.avatars import AvatarService

if TYPE_CHECKING:
    from chalicelib.services.photos.privacy import PhotoPrivacy

log = logging.getLogger(__name__)

ERASE_CHUNK = 100  # generations per store call: a few ms of Redis time each
# The history index holds at most 100,000 entries (admit.lua): enough calls to go through them all.
MAX_CALLS = 100_000 // ERASE_CHUNK + 1


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed (for the logs; the API answers 204)."""

    generations: int = 0
    images: int = 0
    images_left: int = 0  # images the object store failed to delete now (the retention rule will)


class EraseUserData:
    """The use case behind ``DELETE /v1/me`` (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        objects: ObjectStore,
        avatars: AvatarService,
        photos: PhotoPrivacy | None = None,
    ) -> None:
        self._generations = generations
        self._kv = kv
        self._objects = objects
        self._avatars = avatars
        self._photos = photos

    def __call__(self, identity: Identity) -> Erasure:
        if identity.kind == "anonymous":
            # By source IP, a shared address would let one visitor erase another's data.
            raise Unauthorized("Sign in to erase your data.")
        try:
            return self._erase(identity.key)
        except StoreError as exc:
            # Nothing is half-done in a way a retry cannot finish: each chunk is atomic.
            raise StoreUnavailable(
                "Your data could not be erased right now; retry shortly.", retry_after=5
            ) from exc

    def _erase(self, owner: str) -> Erasure:
        generations = images = failed = 0
        for _ in range(MAX_CALLS):
            chunk = self._generations.erase(owner, ERASE_CHUNK)
            generations += chunk.erased
            self._forget_cache_entries(chunk.request_hashes)
            self._forget_batches(owner, chunk.batches)
            deleted = self._delete_images(chunk.orphans)
            images, failed = images + deleted, failed + len(chunk.orphans) - deleted
            if chunk.left == 0:
                break
        self._avatars.forget(owner)
        if self._photos is not None:
            self._photos.erase(owner)  # the uploaded photos (biometric data): files and records
        erasure = Erasure(generations, images, failed)
        log.info(
            "user data erased",
            extra={"generations": generations, "images": images, "images_left": failed},
        )
        return erasure

    def _forget_cache_entries(self, request_hashes: Sequence[str]) -> None:
        """Everything keyed by the caller's requests goes: the result cache entry of each (it holds
        the prompt). Their words in the similar-results index already went in the erase call
        itself (``erase.lua``), so a later request is never offered them as ``similar``."""
        self._generations.forget_results(request_hashes)

    def _forget_batches(self, owner: str, batch_ids: Sequence[str]) -> None:
        for batch_id in batch_ids:
            key = f"batch:{batch_id}"
            raw = self._kv.get(key)
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            if isinstance(doc, dict) and doc.get("owner") == owner:  # never another caller's
                self._kv.delete(key)

    def _delete_images(self, object_keys: Sequence[str]) -> int:
        deleted = 0
        for key in object_keys:
            try:
                self._objects.delete(key)
                deleted += 1
            except ObjectStoreError as exc:
                # Not fatal: no record points at it any more, and the retention rule deletes it.
                log.warning("image of an erased generation not deleted now: %s", exc)
        return deleted
