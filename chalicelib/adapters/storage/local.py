"""The embedded object store: files under the data dir, served by the app at /v1/files/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from chalicelib.ports import IMMUTABLE_CACHE_CONTROL, ObjectStoreError
from chalicelib.ports.objects import is_valid_key


class LocalObjectStore:
    """:class:`chalicelib.ports.ObjectStore` on a local directory."""

    def __init__(self, root: Path, public_base_url: str) -> None:
        self._root = root
        self._base = public_base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        if not is_valid_key(key):
            raise ObjectStoreError("invalid object key")
        return self._root / key

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE_CACHE_CONTROL
    ) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half a file, even across a crash.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ObjectStoreError(f"could not write {key}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ObjectStoreError(f"could not read {key}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_older_than(self, folder: str, cutoff_epoch_s: float) -> int:
        """:class:`chalicelib.ports.ExpiringObjects`: R2's lifecycle rule, done here on a schedule."""
        if not is_valid_key(f"{folder}/x"):
            raise ObjectStoreError("invalid folder")
        deleted = 0
        try:
            entries = list(os.scandir(self._root / folder))
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise ObjectStoreError(f"could not list {folder}") from exc
        for entry in entries:
            try:
                # Written by put() (write then rename): its mtime is when the object was stored.
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff_epoch_s:
                    os.unlink(entry.path)
                    deleted += 1
            except FileNotFoundError:
                continue  # deleted meanwhile (an erasure)
            except OSError as exc:
                raise ObjectStoreError(f"could not expire {folder}/{entry.name}") from exc
        return deleted

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise ObjectStoreError(f"could not delete {key}") from exc

    def public_url(self, key: str) -> str:
        return f"{self._base}/{key}"
