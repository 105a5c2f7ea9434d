"""The app wired to Cloudflare R2 (under moto): generated images land in R2 and URLs point at the CDN."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.r2 import R2ObjectStore
from chalicelib.bootstrap import build_container, seed_gallery, set_container
from chalicelib.ports import IMMUTABLE_CACHE_CONTROL, StateStore
from chalicelib.services.gallery.catalog import GalleryService
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider

R2_ENDPOINT = "https://fedcba9876543210fedcba9876543210.r2.cloudflarestorage.com"
BUCKET = "avatarflow-functional"
PUBLIC_BASE = "https://cdn.avatarflow.test"
ACCESS_KEY_ID = "r2-functional-key-id"
SECRET_KEY = "r2-functional-secret-DO-NOT-LEAK"


@dataclass
class R2App:
    client: Any  # chalice.test.Client
    objects: R2ObjectStore

    def head(self, url: str) -> dict[str, Any]:
        assert url.startswith(PUBLIC_BASE + "/"), url
        key = url.removeprefix(PUBLIC_BASE + "/")
        head: dict[str, Any] = self.objects.client.head_object(Bucket=BUCKET, Key=key)
        return head


@pytest.fixture
def r2_app(tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[R2App]:
    from chalice.test import Client

    from app import app

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_S3_CUSTOM_ENDPOINTS": R2_ENDPOINT,  # must be set before the mock starts
    }.items():
        monkeypatch.setenv(name, value)

    with mock_aws():
        objects = R2ObjectStore(
            bucket=BUCKET,
            public_base_url=PUBLIC_BASE,
            endpoint_url=R2_ENDPOINT,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_KEY,
        )
        objects.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
        seed_gallery(GalleryService(ObjectGalleryStore(objects)), objects, 1)
        settings = make_settings(
            tmp_path,
            r2_endpoint_url=R2_ENDPOINT,
            r2_bucket=BUCKET,
            r2_access_key_id=ACCESS_KEY_ID,
            r2_secret_access_key=SECRET_KEY,
            r2_public_base_url=PUBLIC_BASE,
            photos_bucket="avatarflow-photos",  # R2 cannot take the photo uploads (docs/photos.md)
        )
        assert settings.uses_r2
        container = build_container(settings, store=store, objects=objects, provider=RecordingProvider())
        set_container(container)
        try:
            with Client(app, stage_name="local") as client:
                yield R2App(client, objects)
        finally:
            set_container(None)


def test_generation_is_stored_in_r2_and_served_from_the_cdn(r2_app: R2App) -> None:
    body = json.dumps({"style": "anime", "variation": 7})
    response = r2_app.client.http.post("/v1/generations", headers=auth("r2-user"), body=body)
    assert response.status_code == 200, response.body
    generation = response.json_body
    assert generation["status"] == "succeeded"
    images = generation["images"]
    assert set(images) >= {"128", "256", "512"}
    for url in images.values():
        assert url.startswith(PUBLIC_BASE + "/")
        assert "//" not in url.split("://", 1)[1]
        head = r2_app.head(url)
        assert head["ContentType"] == "image/webp"
        assert head["CacheControl"] == IMMUTABLE_CACHE_CONTROL
        assert head["ContentLength"] > 0

    again = r2_app.client.http.get(f"/v1/generations/{generation['id']}", headers=auth("r2-user"))
    assert again.status_code == 200
    assert again.json_body["images"] == images


def test_cached_generation_points_at_the_same_r2_objects(r2_app: R2App) -> None:
    body = json.dumps({"style": "pixel", "variation": 3})
    first = r2_app.client.http.post("/v1/generations", headers=auth("r2-a"), body=body)
    second = r2_app.client.http.post("/v1/generations", headers=auth("r2-b"), body=body)
    assert first.status_code == second.status_code == 200
    assert second.json_body["cached"] is True
    assert second.json_body["images"] == first.json_body["images"]


def test_gallery_and_avatars_point_at_the_cdn(r2_app: R2App) -> None:
    page = r2_app.client.http.get("/v1/gallery?limit=3")
    assert page.status_code == 200
    items = page.json_body["items"]
    assert items
    for item in items:
        for url in item["images"].values():
            assert url.startswith(PUBLIC_BASE + "/gallery/")
            assert r2_app.head(url)["ContentType"] == "image/webp"
    avatar = r2_app.client.http.get("/v1/avatars/somebody?size=256")
    assert avatar.status_code == 302
    assert avatar.headers["Location"].startswith(PUBLIC_BASE + "/")


def test_local_files_route_is_404_when_r2_is_configured(r2_app: R2App) -> None:
    generated = r2_app.client.http.post(
        "/v1/generations", headers=auth("r2-files"), body=json.dumps({"style": "anime"})
    )
    assert generated.status_code == 200
    key = generated.json_body["images"]["512"].removeprefix(PUBLIC_BASE + "/")
    assert r2_app.objects.exists(key)  # the object is there, in R2...
    response = r2_app.client.http.get(f"/v1/files/{key}")
    assert response.status_code == 404  # ...but the app does not serve it itself
    assert response.json_body["error"]["code"] == "not_found"


def test_health_names_the_r2_adapter_without_secrets(r2_app: R2App) -> None:
    response = r2_app.client.http.get("/v1/health")
    assert response.status_code == 200
    assert response.json_body["checks"]["object_store"] == "R2ObjectStore"
    assert SECRET_KEY not in response.body.decode()
