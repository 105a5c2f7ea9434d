"""One contract for every ObjectStore adapter: the local directory, Cloudflare R2, AWS S3 on the
function's role and Supabase Storage's S3 endpoint (the last three under moto).

moto answers for R2's endpoint only when ``MOTO_S3_CUSTOM_ENDPOINTS`` names it before the mock
starts. Fake AWS credentials and empty config files keep boto3 away from ``~/.aws`` and the
instance metadata service; nothing here reaches the network.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.storage.r2 import R2ObjectStore, make_r2_client
from chalicelib.bootstrap import build_objects
from chalicelib.ports import IMMUTABLE_CACHE_CONTROL, ObjectStore, ObjectStoreError
from tests.conftest import make_settings
from tests.contract.s3_stores import other_store_factory, supabase_standin
from tests.local_server import free_port

R2_ENDPOINT = "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
BUCKET = "avatarflow-test"
PUBLIC_BASE = "https://img.avatarflow.test"
ACCESS_KEY_ID = "r2-access-key-id-0123456789"
SECRET_KEY = "r2-secret-0123456789abcdefDO-NOT-LEAK"

INVALID_KEYS = ["../x", "/abs", "a/b/c", "", "img/../x", "img/..", "noslash", "img/", "/img/x.webp", "Img/x"]

StoreFactory = Callable[[str], ObjectStore]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, no config files, no metadata service, and moto told about R2's endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", R2_ENDPOINT)


@pytest.fixture
def r2_mock(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def new_r2_store(public_base: str = PUBLIC_BASE, *, create_bucket: bool = True) -> R2ObjectStore:
    store = R2ObjectStore(
        bucket=BUCKET,
        public_base_url=public_base,
        endpoint_url=R2_ENDPOINT,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_KEY,
    )
    if create_bucket:
        store.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    return store


@pytest.fixture
def r2_store(r2_mock: None) -> R2ObjectStore:
    return new_r2_store()


@pytest.fixture(scope="module")
def supabase_endpoint() -> Iterator[str]:
    with supabase_standin() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "r2", "s3", "supabase"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds the adapter under test with a given public base URL (same backing data each time)."""
    if request.param == "local":
        return lambda base: LocalObjectStore(tmp_path / "objects", base)
    if request.param == "s3":
        request.getfixturevalue("r2_mock")
        return other_store_factory("s3")
    if request.param == "supabase":
        request.getfixturevalue("aws_env")
        return other_store_factory("supabase", request.getfixturevalue("supabase_endpoint"))
    request.getfixturevalue("r2_mock")
    new_r2_store()  # creates the bucket, once
    return lambda base: new_r2_store(base, create_bucket=False)


@pytest.fixture
def object_store(make_store: StoreFactory) -> ObjectStore:
    return make_store(PUBLIC_BASE)


# --------------------------------------------------------------------------------------------
# The contract, for every adapter
# --------------------------------------------------------------------------------------------


def test_put_then_get_round_trips_bytes(object_store: ObjectStore) -> None:
    object_store.put("img/abc-512.webp", b"RIFF0000WEBPVP8 hello", "image/webp")
    assert object_store.get("img/abc-512.webp") == b"RIFF0000WEBPVP8 hello"


def test_put_overwrites(object_store: ObjectStore) -> None:
    object_store.put("gallery/manifest.json", b'{"items": [1]}', "application/json", cache_control="no-cache")
    object_store.put("gallery/manifest.json", b'{"items": []}', "application/json", cache_control="no-cache")
    assert object_store.get("gallery/manifest.json") == b'{"items": []}'


def test_missing_key_is_none(object_store: ObjectStore) -> None:
    assert object_store.get("img/never-written.webp") is None


def test_exists(object_store: ObjectStore) -> None:
    assert object_store.exists("img/x-128.webp") is False
    object_store.put("img/x-128.webp", b"x", "image/webp")
    assert object_store.exists("img/x-128.webp") is True
    assert object_store.exists("img/x-256.webp") is False


def test_delete_removes_and_is_idempotent(object_store: ObjectStore) -> None:
    object_store.put("img/erase-me.webp", b"x", "image/webp")
    object_store.put("img/keep-me.webp", b"y", "image/webp")
    object_store.delete("img/erase-me.webp")
    object_store.delete("img/erase-me.webp")  # again: no error
    assert object_store.get("img/erase-me.webp") is None
    assert object_store.exists("img/erase-me.webp") is False
    assert object_store.get("img/keep-me.webp") == b"y"
    with pytest.raises(ObjectStoreError):
        object_store.delete("../x")


def test_empty_object(object_store: ObjectStore) -> None:
    object_store.put("img/empty.bin", b"", "application/octet-stream")
    assert object_store.exists("img/empty.bin") is True
    assert object_store.get("img/empty.bin") == b""


def test_binary_data_is_kept_byte_for_byte(object_store: ObjectStore) -> None:
    data = bytes(range(256)) * 64 + os.urandom(1 << 20) + b"\r\n\x00\r\r\n\x1a"
    object_store.put("img/binary.webp", data, "image/webp")
    got = object_store.get("img/binary.webp")
    assert got is not None
    assert len(got) == len(data)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("base", [PUBLIC_BASE, PUBLIC_BASE + "/"])
def test_public_url_is_base_slash_key(make_store: StoreFactory, base: str) -> None:
    url = make_store(base).public_url("img/abc-512.webp")
    assert url == f"{PUBLIC_BASE}/img/abc-512.webp"
    assert "//" not in url.split("://", 1)[1]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_refused(object_store: ObjectStore, key: str) -> None:
    with pytest.raises(ObjectStoreError):
        object_store.put(key, b"x", "image/webp")
    with pytest.raises(ObjectStoreError):
        object_store.get(key)
    with pytest.raises(ObjectStoreError):
        object_store.exists(key)


# --------------------------------------------------------------------------------------------
# R2 only
# --------------------------------------------------------------------------------------------


def _headers(request: Any) -> dict[str, str]:
    return {k.lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}


def test_r2_object_carries_content_type_and_cache_control(r2_store: R2ObjectStore) -> None:
    r2_store.put("img/a-512.webp", b"webp", "image/webp")
    r2_store.put("gallery/manifest.json", b"{}", "application/json", cache_control="no-cache")
    head = r2_store.client.head_object(Bucket=BUCKET, Key="img/a-512.webp")
    assert head["ContentType"] == "image/webp"
    assert head["CacheControl"] == IMMUTABLE_CACHE_CONTROL == "public, max-age=31536000, immutable"
    manifest = r2_store.client.head_object(Bucket=BUCKET, Key="gallery/manifest.json")
    assert manifest["ContentType"] == "application/json"
    assert manifest["CacheControl"] == "no-cache"


def test_r2_put_sends_no_acl_and_no_checksum_headers(r2_store: R2ObjectStore) -> None:
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append((request.url, _headers(request)))

    r2_store.client.meta.events.register("before-send.s3.PutObject", record)
    r2_store.put("img/b-512.webp", b"\x00webp\xff" * 100, "image/webp")

    assert len(sent) == 1
    url, headers = sent[0]
    assert url == f"{R2_ENDPOINT}/{BUCKET}/img/b-512.webp"  # path-style addressing
    assert headers["content-type"] == "image/webp"  # the hook saw the real request
    assert headers["cache-control"] == IMMUTABLE_CACHE_CONTROL
    assert "x-amz-acl" not in headers
    assert not [h for h in headers if h.startswith("x-amz-grant-")]
    assert not [h for h in headers if h.startswith("x-amz-checksum-")]
    assert "x-amz-sdk-checksum-algorithm" not in headers
    assert "content-md5" not in headers
    assert "/auto/s3/aws4_request" in headers["authorization"]  # SigV4 for region "auto"


def test_r2_get_does_not_ask_for_checksum_validation(r2_store: R2ObjectStore) -> None:
    sent: list[dict[str, str]] = []
    r2_store.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: sent.append(_headers(request))
    )
    r2_store.put("img/c-512.webp", b"webp", "image/webp")
    assert r2_store.get("img/c-512.webp") == b"webp"
    assert len(sent) == 1
    assert "x-amz-checksum-mode" not in sent[0]


def test_a_default_boto3_client_would_send_the_checksums_r2_rejects(r2_mock: None) -> None:
    """Control: the hook above does see checksum headers when a client adds them (botocore >= 1.36)."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=R2_ENDPOINT,
        region_name="auto",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    sent: list[dict[str, str]] = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(_headers(request))
    )
    client.put_object(Bucket=BUCKET, Key="img/x.webp", Body=b"x")
    assert any(h.startswith("x-amz-checksum-") or h == "x-amz-sdk-checksum-algorithm" for h in sent[0])


def test_r2_client_configuration(r2_store: R2ObjectStore) -> None:
    meta = r2_store.client.meta
    assert meta.region_name == "auto"
    assert meta.endpoint_url == R2_ENDPOINT
    config = meta.config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.signature_version == "s3v4"
    assert config.s3["addressing_style"] == "path"
    assert config.connect_timeout == 2
    assert config.read_timeout == 10
    # botocore's ``max_attempts: 3`` counts retries: it resolves to 4 attempts in all.
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_r2_refused_keys_send_nothing(r2_store: R2ObjectStore) -> None:
    sent: list[str] = []
    r2_store.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    for key in INVALID_KEYS:
        with pytest.raises(ObjectStoreError):
            r2_store.put(key, b"x", "image/webp")
    assert sent == []
    assert r2_store.client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_r2_missing_bucket_is_an_error_not_a_missing_key(r2_mock: None) -> None:
    store = new_r2_store(create_bucket=False)
    with pytest.raises(ObjectStoreError) as read:
        store.get("img/a.webp")
    with pytest.raises(ObjectStoreError) as write:
        store.put("img/a.webp", b"x", "image/webp")
    for err in (read.value, write.value):
        assert "NoSuchBucket" in str(err)
        assert SECRET_KEY not in str(err)
        assert ACCESS_KEY_ID not in str(err)


def test_r2_repr_shows_no_credentials(r2_store: R2ObjectStore) -> None:
    assert SECRET_KEY not in repr(r2_store)
    assert ACCESS_KEY_ID not in repr(r2_store)
    assert SECRET_KEY not in repr(vars(r2_store))


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9", "closed-port"])
def test_r2_unreachable_endpoint_fails_fast_without_leaking_secrets(aws_env: None, endpoint: str) -> None:
    if endpoint == "closed-port":
        endpoint = f"http://127.0.0.1:{free_port()}"
    store = R2ObjectStore(
        bucket=BUCKET,
        public_base_url=PUBLIC_BASE,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_KEY,
    )
    operations: list[Callable[[], object]] = [
        lambda: store.put("img/a.webp", b"x", "image/webp"),
        lambda: store.get("img/a.webp"),
        lambda: store.exists("img/a.webp"),
    ]
    for operation in operations:
        started = time.monotonic()
        with pytest.raises(ObjectStoreError) as caught:
            operation()
        assert time.monotonic() - started < 10
        texts = [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
        for text in texts:
            assert SECRET_KEY not in text
            assert ACCESS_KEY_ID not in text
        assert "img/a.webp" in str(caught.value)


def test_make_r2_client_needs_no_aws_config(aws_env: None) -> None:
    client = make_r2_client(R2_ENDPOINT, ACCESS_KEY_ID, SECRET_KEY)
    assert client.meta.region_name == "auto"
    credentials = client._request_signer._credentials  # the explicit keys, not the env's
    assert credentials.access_key == ACCESS_KEY_ID


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------

R2_SETTINGS: dict[str, Any] = {
    "r2_endpoint_url": R2_ENDPOINT,
    "r2_bucket": BUCKET,
    "r2_access_key_id": ACCESS_KEY_ID,
    "r2_secret_access_key": SECRET_KEY,
    "r2_public_base_url": PUBLIC_BASE,
}


def test_build_objects_selects_r2_when_configured(r2_mock: None, tmp_path: Path) -> None:
    objects = build_objects(make_settings(tmp_path, **R2_SETTINGS))
    assert isinstance(objects, R2ObjectStore)
    assert objects.public_url("img/a.webp") == f"{PUBLIC_BASE}/img/a.webp"
    assert objects.client.meta.region_name == "auto"


def test_build_objects_is_local_without_r2(tmp_path: Path) -> None:
    assert isinstance(build_objects(make_settings(tmp_path)), LocalObjectStore)


@pytest.mark.parametrize("missing", ["r2_public_base_url", "r2_secret_access_key"])
def test_build_objects_refuses_incomplete_r2_settings(aws_env: None, tmp_path: Path, missing: str) -> None:
    settings = make_settings(tmp_path, **{**R2_SETTINGS, missing: ""})
    assert settings.uses_r2
    with pytest.raises(RuntimeError, match=missing.upper()) as caught:
        build_objects(settings)
    assert SECRET_KEY not in str(caught.value)
