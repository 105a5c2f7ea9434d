"""The upload records in the state store: one small JSON document per upload, and the list of
each identity's uploads (erasure and export find them there). Both live as long as a photo."""

from __future__ import annotations

import json

from chalicelib.domain.uploads import Upload
from chalicelib.ports import KeyValueStore

_RECORD = "upl:"
_OWNED = "upls:"
_CHECKING = "uplchk:"


class UploadRecords:
    """Upload records on the key-value store (each call one round trip)."""

    def __init__(self, kv: KeyValueStore, retention_s: int) -> None:
        self._kv = kv
        self._retention_s = retention_s

    def get(self, upload_id: str) -> Upload | None:
        raw = self._kv.get(_RECORD + upload_id)
        return Upload.from_json(raw) if raw else None

    def save(self, upload: Upload, now: float) -> None:
        """Write the record; it expires with the photo (no later than its ``expires_at``)."""
        ttl = max(1, int(upload.expires_at - now) + 1)
        self._kv.set(_RECORD + upload.id, upload.to_json(), ttl)

    def add_owned(self, upload: Upload) -> None:
        """List a new upload under its owner (read, append, write: the owner's own requests only
        race with each other, and the list is a finding aid, the records are the truth)."""
        ids = [i for i in self.owned(upload.owner) if i != upload.id]
        ids.append(upload.id)
        self._kv.set(_OWNED + upload.owner, json.dumps(ids[-1000:]), self._retention_s + 3600)

    def owned(self, owner: str) -> list[str]:
        raw = self._kv.get(_OWNED + owner)
        if not raw:
            return []
        try:
            ids = json.loads(raw)
        except ValueError:
            return []
        return [str(i) for i in ids] if isinstance(ids, list) else []

    def claim_check(self, upload_id: str, ttl: int = 30) -> bool:
        """True for one caller per ``ttl`` seconds: the checks of an arrived file are requested
        once however often it is polled (again after ``ttl`` if a worker died on the way)."""
        return self._kv.set_once(_CHECKING + upload_id, "1", ttl)

    def delete(self, upload_id: str) -> None:
        self._kv.delete(_RECORD + upload_id)

    def forget_owner(self, owner: str) -> None:
        self._kv.delete(_OWNED + owner)
