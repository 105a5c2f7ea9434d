"""AWS S3 (the function's own role) and Supabase Storage (S3-compatible, the R2_* settings) as
object stores: how bootstrap builds each, what their clients send, and the start-up checks. The
shared contract runs against both in test_object_store.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chalicelib.adapters.storage.s3 import S3ObjectStore
from chalicelib.bootstrap import build_objects
from chalicelib.config import Settings
from chalicelib.ports import ObjectStoreError
from tests.contract.s3_stores import (
    S3_BUCKET,
    SUPABASE_KEY_ID,
    SUPABASE_PATH,
    SUPABASE_REGION,
    SUPABASE_SECRET,
    aws_s3_settings,
    create_s3_bucket,
    new_supabase_bucket,
    supabase_settings,
)
from tests.contract.test_object_store import aws_env, r2_mock, supabase_endpoint  # noqa: F401 - fixtures

CDN = "https://d111111abcdef8.cloudfront.net"


def test_s3_is_selected_by_its_settings_and_uses_no_key_and_no_endpoint(r2_mock: None) -> None:  # noqa: F811
    create_s3_bucket()
    store = build_objects(aws_s3_settings(CDN))
    assert isinstance(store, S3ObjectStore)
    sent: list[tuple[str, str]] = []
    store.client.meta.events.register(
        "before-send.s3",
        lambda request, **_: sent.append((request.url, request.headers.get("Authorization", b""))),
    )
    store.put("img/s3-512.webp", b"webp", "image/webp")
    assert store.get("img/s3-512.webp") == b"webp"
    url, authorization = sent[0]
    # The default AWS endpoint, virtual-hosted, signed with what the default chain found (the role).
    assert url.startswith(f"https://{S3_BUCKET}.s3.amazonaws.com/img/s3-512.webp")
    # What a Lambda role gives: the environment's temporary key and its session token.
    assert f"Credential={os.environ['AWS_ACCESS_KEY_ID']}/" in str(authorization)
    assert "x-amz-security-token" in str(authorization)
    assert store.client.meta.region_name == "us-east-1"
    assert store.public_url("img/s3-512.webp") == f"{CDN}/img/s3-512.webp"


def test_supabase_signs_for_the_project_region_on_its_s3_endpoint(
    aws_env: None,  # noqa: F811
    supabase_endpoint: str,  # noqa: F811
) -> None:
    bucket = new_supabase_bucket(supabase_endpoint)
    public = f"https://abcdefghijklmnopqrst.supabase.co/storage/v1/object/public/{bucket}"
    store = build_objects(supabase_settings(supabase_endpoint, bucket, public))
    assert isinstance(store, S3ObjectStore)
    sent: list[tuple[str, str]] = []
    store.client.meta.events.register(
        "before-send.s3",
        lambda request, **_: sent.append((request.url, str(request.headers.get("Authorization")))),
    )
    store.put("img/sb-512.webp", b"webp", "image/webp")
    assert store.get("img/sb-512.webp") == b"webp"
    url, authorization = sent[0]
    assert url == f"{supabase_endpoint}/{bucket}/img/sb-512.webp"  # path style, under /storage/v1/s3
    assert SUPABASE_PATH in url
    assert f"Credential={SUPABASE_KEY_ID}/" in authorization
    assert f"/{SUPABASE_REGION}/s3/aws4_request" in authorization
    assert store.public_url("img/sb-512.webp") == f"{public}/img/sb-512.webp"
    assert SUPABASE_SECRET not in repr(store) and SUPABASE_SECRET not in repr(vars(store))


def test_r2_region_auto_keeps_the_r2_adapter() -> None:
    from chalicelib.adapters.storage.r2 import R2ObjectStore

    settings = supabase_settings("https://r2.test", "b", "https://img.test").model_copy(
        update={"r2_region": "auto"}
    )
    assert type(build_objects(settings)) is R2ObjectStore


def test_a_missing_bucket_error_names_the_store_and_no_secret(
    aws_env: None,  # noqa: F811
) -> None:
    store = build_objects(
        supabase_settings(
            "https://abcdefghijklmnopqrst.supabase.co/storage/v1/s3", "avatars", "https://img.test"
        )
    )
    store.client.meta.events.register(  # type: ignore[attr-defined]
        "before-send.s3", lambda request, **_: _answer_no_such_bucket()
    )
    with pytest.raises(ObjectStoreError) as raised:
        store.put("img/x-512.webp", b"x", "image/webp")
    message = str(raised.value)
    assert message.startswith("Supabase could not write img/x-512.webp in bucket avatars: NoSuchBucket")
    assert SUPABASE_SECRET not in message and SUPABASE_KEY_ID not in message


def _answer_no_such_bucket() -> object:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, *_: object, **__: object) -> list[bytes]:
            return [BODY]

    BODY = (
        b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchBucket</Code>"
        b"<Message>The specified bucket does not exist</Message></Error>"
    )
    return AWSResponse("https://x.test", 404, {"Content-Type": "application/xml"}, Raw())


def test_an_s3_setting_without_its_bucket_stops_the_start_up_naming_the_setting() -> None:
    settings = Settings.from_env({"S3_PUBLIC_BASE_URL": CDN, "AVATARFLOW_STAGE": "prod"})
    with pytest.raises(RuntimeError, match="S3_BUCKET"):
        build_objects(settings)


def test_a_bucket_without_its_public_url_stops_the_start_up_naming_the_setting() -> None:
    settings = Settings.from_env({"S3_BUCKET": "avatars", "AVATARFLOW_STAGE": "prod"})
    with pytest.raises(RuntimeError, match="S3_PUBLIC_BASE_URL"):
        build_objects(settings)


def test_s3_and_r2_together_stop_the_start_up() -> None:
    settings = Settings.from_env(
        {"S3_BUCKET": "avatars", "S3_PUBLIC_BASE_URL": CDN, "R2_BUCKET": "other", "AVATARFLOW_STAGE": "prod"}
    )
    with pytest.raises(RuntimeError, match="S3_BUCKET and R2_BUCKET"):
        build_objects(settings)


def test_blank_s3_settings_are_unset(tmp_path: Path) -> None:
    settings = Settings.from_env({"S3_BUCKET": " ", "S3_PUBLIC_BASE_URL": ""})
    assert not settings.uses_s3


def test_a_malformed_region_is_refused() -> None:
    with pytest.raises(ValueError, match="R2_REGION"):
        Settings.from_env({"R2_REGION": "eu central 1"})


def test_supabase_has_no_lifecycle_rule_so_the_retention_job_expires_img(
    aws_env: None,  # noqa: F811
    supabase_endpoint: str,  # noqa: F811
) -> None:
    import time

    from chalicelib.services.privacy.retention import EnforceRetention
    from tests.fakes import FakeClock

    bucket = new_supabase_bucket(supabase_endpoint)
    store = build_objects(supabase_settings(supabase_endpoint, bucket, "https://img.test"))
    assert isinstance(store, S3ObjectStore)
    for key in ("img/old-128.webp", "img/old-256.webp", "pinned/kept-128.webp", "gallery/kept-128.webp"):
        store.put(key, b"x", "image/webp")
    # A day after the retention: every img/ object is older than it, the others are never touched.
    later = FakeClock(time.time() + 31 * 86400)
    assert EnforceRetention(store, retention_s=30 * 86400, clock=later).run() == 2
    assert not store.exists("img/old-128.webp") and not store.exists("img/old-256.webp")
    assert store.exists("pinned/kept-128.webp") and store.exists("gallery/kept-128.webp")
    # Within the retention: nothing goes.
    store.put("img/new-128.webp", b"x", "image/webp")
    assert EnforceRetention(store, retention_s=30 * 86400, clock=FakeClock(time.time())).run() == 0
    assert store.exists("img/new-128.webp")
