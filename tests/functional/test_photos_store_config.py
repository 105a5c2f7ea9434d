"""Where the uploaded photos live (bootstrap/photos.py ``photo_store``): Cloudflare R2 refuses S3
POST policies (its S3 API has no PostObject), so a stage whose image store is R2 needs
``AVATARFLOW_PHOTOS_BUCKET`` (AWS S3), and without it the start-up stops, not the first upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.adapters.storage.r2 import R2ObjectStore
from chalicelib.adapters.storage.s3 import S3ObjectStore
from chalicelib.bootstrap import build_container
from chalicelib.bootstrap.photos import photo_store
from chalicelib.config import Settings
from chalicelib.ports import StateStore
from tests.conftest import make_settings

R2 = {
    "r2_endpoint_url": "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
    "r2_bucket": "avatarflow-dev",
    "r2_access_key_id": "key-id",
    "r2_secret_access_key": "secret-key",
    "r2_public_base_url": "https://img.example.com",
}


def test_cloudflare_r2_without_a_photos_bucket_stops_the_start_up(tmp_path: Path, store: StateStore) -> None:
    settings = make_settings(tmp_path, **R2)
    with pytest.raises(RuntimeError) as refused:
        build_container(settings, store=store)
    message = str(refused.value)
    assert "AVATARFLOW_PHOTOS_BUCKET" in message and "PostObject" in message
    assert "secret-key" not in message


def test_with_a_photos_bucket_the_photos_go_to_s3_and_the_images_stay_on_r2(
    tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    settings = make_settings(tmp_path, photos_bucket="avatarflow-dev-photos", **R2)
    container = build_container(settings, store=store)
    assert (
        type(container.ports.objects) is R2ObjectStore and container.ports.objects.bucket == "avatarflow-dev"
    )
    photos = photo_store(settings, container.ports.objects)
    assert isinstance(photos, S3ObjectStore) and photos.bucket == "avatarflow-dev-photos"
    assert "photos" in repr(photos)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:4566",  # moto (`make stack`): implements form POSTs
        "https://abcdefghijklmnop.storage.supabase.co/storage/v1/s3",
    ],
)
def test_an_s3_compatible_store_that_is_not_r2_keeps_the_photos(tmp_path: Path, endpoint: str) -> None:
    settings = make_settings(tmp_path, **{**R2, "r2_endpoint_url": endpoint})
    objects: Any = object()
    assert photo_store(settings, objects) is objects


def test_the_local_stage_keeps_the_photos_in_its_own_store(tmp_path: Path) -> None:
    objects: Any = object()
    assert photo_store(make_settings(tmp_path), objects) is objects


@pytest.mark.parametrize("name", ["Photos", "a", "bad_bucket", "-photos"])
def test_a_photos_bucket_name_s3_would_refuse_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(photos_bucket=name)
    assert Settings(photos_bucket="  ").photos_bucket is None  # blank in a template = unset
