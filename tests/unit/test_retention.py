"""Retention on the local object store: img/ objects older than the retention are deleted on a
schedule (R2's lifecycle rule does it in production); pinned/ and gallery/ never are."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.ports import ObjectStoreError
from chalicelib.services.privacy.retention import EnforceRetention
from tests.fakes import FakeClock

DAY = 86400


def test_only_unchosen_generations_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path, "http://files.test")
    now = time.time()
    keys = ["img/old.webp", "img/new.webp", "pinned/old.webp", "gallery/old.webp"]
    for key in keys:
        objects.put(key, b"x", "image/webp")
    for key in ("img/old.webp", "pinned/old.webp", "gallery/old.webp"):
        os.utime(tmp_path / key, (now - 31 * DAY, now - 31 * DAY))
    retention = EnforceRetention(objects, retention_s=30 * DAY, clock=FakeClock(now))

    assert retention.run() == 1
    assert [k for k in keys if objects.exists(k)] == ["img/new.webp", "pinned/old.webp", "gallery/old.webp"]
    assert retention.run() == 0  # nothing more to do


def test_an_empty_store_and_a_bad_folder(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "none-yet", "http://files.test")
    assert objects.delete_older_than("img", time.time()) == 0
    with pytest.raises(ObjectStoreError):
        objects.delete_older_than("../etc", time.time())
