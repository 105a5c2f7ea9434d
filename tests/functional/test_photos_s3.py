"""The photo flow on the production object store adapter: the S3 POST policy of
``POST /v1/uploads`` is sent to a real S3 endpoint (moto's server on a free port), which stores
the file; the checks find it there (and replace it with the clean copy) and a photo generation is
made from it."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector
from chalicelib.adapters.storage.r2 import R2ObjectStore
from chalicelib.bootstrap import build_container, set_container
from chalicelib.ports import StateStore
from tests import photos_support as photos
from tests.conftest import auth, make_settings
from tests.fakes import wait_ended
from tests.local_server import free_port

BUCKET = "avatars"


class Passes:
    def refuses(self, image: Any) -> bool:
        return False


@pytest.fixture
def s3_app(tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    from chalice.test import Client
    from moto.server import ThreadedMotoServer

    from app import app

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        objects = R2ObjectStore(
            bucket=BUCKET,
            public_base_url="https://cdn.example.com",
            endpoint_url=endpoint,
            access_key_id="testing",
            secret_access_key="testing",
        )
        objects.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
        settings = make_settings(
            tmp_path,
            stage="local",
            r2_endpoint_url=endpoint,
            r2_bucket=BUCKET,
            r2_access_key_id="testing",
            r2_secret_access_key="testing",
            r2_public_base_url="https://cdn.example.com",
        )
        container = build_container(
            settings, store=store, objects=objects, photo_detectors=(OpenCvFaceDetector(), Passes())
        )
        set_container(container)
        with Client(app, stage_name="local") as client:
            yield client, container
    finally:
        set_container(None)
        server.stop()


def test_a_photo_posted_to_s3_with_its_policy_becomes_an_avatar(s3_app: tuple[Any, Any]) -> None:
    client, container = s3_app
    sub = f"ada-{secrets.token_hex(3)}"
    data = photos.jpeg(photos.astronaut(), gps=True)
    answer = client.http.post(
        "/v1/uploads",
        headers=auth(sub),
        body=json.dumps({"content_type": "image/jpeg", "content_length": len(data)}),
    )
    assert answer.status_code == 201
    ticket = answer.json_body
    assert ticket["url"].startswith("http://127.0.0.1:") and "x-amz-signature" in ticket["fields"]
    # No local upload route in a stage that uploads to the store.
    assert (
        client.http.post(
            "/v1/local-uploads", headers={"Content-Type": "multipart/form-data; boundary=x"}, body=b""
        ).status_code
        == 404
    )

    # Before the file: pending. (S3 enforces the policy's signature and content-length-range; moto
    # checks neither, so tests/unit/test_photo_checks.py checks the policy's conditions instead.)
    pending = client.http.get(f"/v1/uploads/{ticket['id']}", headers=auth(sub)).json_body
    assert pending["status"] == "pending"

    sent = httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("me.jpg", data, "image/jpeg")})
    assert sent.status_code == 204, sent.text
    ready = client.http.get(f"/v1/uploads/{ticket['id']}", headers=auth(sub)).json_body
    assert ready["status"] == "ready" and ready["face"] is not None
    record = container.photos.records.get(ticket["id"])
    kept = container.ports.objects.get(record.object_key)
    assert kept is not None and b"TestPhone" not in kept  # the clean copy replaced the file in S3

    made = client.http.post(
        "/v1/generations",
        headers={**auth(sub), "Prefer": "wait=20"},
        body=json.dumps({"style": "pixel", "photo": ticket["id"]}),
    )
    assert made.status_code in (200, 202), made.json_body
    if made.status_code == 202:
        wait_ended(container, made.json_body["id"])
    done = client.http.get(f"/v1/generations/{made.json_body['id']}", headers=auth(sub)).json_body
    assert done["status"] == "succeeded" and done["photo"] == ticket["id"]
    assert done["images"]["512"].startswith("https://cdn.example.com/img/")
