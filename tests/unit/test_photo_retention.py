"""The local stage's photo retention (R2's lifecycle rule on uploads/ in production): photo files
older than AVATARFLOW_PHOTO_RETENTION_HOURS are deleted, newer ones and other folders are kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.services.photos.privacy import PhotoPrivacy
from chalicelib.services.photos.records import UploadRecords


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class NoKv:
    def get(self, key: str) -> str | None:
        return None


def test_photos_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path, "http://localhost/v1/files")
    now = time.time()
    for key, age_h in (("uploads/upl_old-1", 25), ("uploads/upl_new-2", 23), ("img/old.webp", 25)):
        objects.put(key, b"x", "image/jpeg")
        os.utime(tmp_path / key, (now - age_h * 3600, now - age_h * 3600))
    privacy = PhotoPrivacy(
        records=UploadRecords(NoKv(), 24 * 3600),  # type: ignore[arg-type]
        objects=objects,
        clock=Clock(now),
        retention_s=24 * 3600,
    )
    assert privacy.expire(objects) == 1
    assert not objects.exists("uploads/upl_old-1")
    assert objects.exists("uploads/upl_new-2") and objects.exists("img/old.webp")
