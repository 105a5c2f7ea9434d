"""The production shape of the photo flow: the images on their store (here the local directory,
R2 in production) and the uploaded photos in an AWS S3 bucket of their own
(``AVATARFLOW_PHOTOS_BUCKET``, reached on the function's role: boto3's default chain), checked by
the photo-checks function fed by SQS (``AVATARFLOW_QUEUE_URL_PHOTOS``). S3 and SQS are moto's
server on a free port, reached through boto3's ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_SQS``.

The browser's form POST is a real multipart POST to moto. moto stores any form POST without
checking the policy (tests/s3_post_policy.py says what it skips), so each form is first evaluated
as S3 evaluates it: the SigV4 signature with the role's secret key, the expiry, every condition
(``content-length-range`` included) and no unnamed field.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.bootstrap.photos import build_signer, photo_store
from chalicelib.ports import StateStore
from chalicelib.workers import photo_checks
from tests import photos_support as photos
from tests import s3_post_policy
from tests.conftest import auth, make_settings
from tests.local_server import free_port

SECRET_KEY = "testing"
REGION = "eu-west-1"


class Passes:
    def refuses(self, image: Any) -> bool:
        return False


@dataclass
class AwsPhotos:
    client: Any  # chalice.test.Client
    container: Container
    s3: Any
    sqs: Any
    queue_url: str
    bucket: str


@pytest.fixture
def aws_photos(tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsPhotos]:
    import boto3
    from chalice.test import Client
    from moto.server import ThreadedMotoServer

    from app import app

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    # The SQS adapter's client comes from boto3's default session (adapters/aws.py): one an
    # earlier test made may not see this environment (its region), so this test makes its own.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_SQS": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends are shared by every server of the process: names of this test's own.
    bucket = f"avatarflow-test-photos-{secrets.token_hex(4)}"
    try:
        s3 = boto3.session.Session().client("s3")
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        sqs = boto3.session.Session().client("sqs")
        queue_url = sqs.create_queue(QueueName=f"{bucket}-checks")["QueueUrl"]
        settings = make_settings(tmp_path, stage="local", photos_bucket=bucket, queue_url_photos=queue_url)
        container = build_container(settings, store=store, photo_detectors=(OpenCvFaceDetector(), Passes()))
        set_container(container)
        with Client(app, stage_name="local") as client:
            yield AwsPhotos(client, container, s3, sqs, queue_url, bucket)
    finally:
        set_container(None)
        server.stop()


def _ticket(env: AwsPhotos, sub: str, length: int) -> dict[str, Any]:
    answer = env.client.http.post(
        "/v1/uploads",
        headers=auth(sub),
        body=json.dumps({"content_type": "image/jpeg", "content_length": length}),
    )
    assert answer.status_code == 201, answer.json_body
    ticket: dict[str, Any] = answer.json_body
    return ticket


def _check_queued_uploads(env: AwsPhotos) -> list[str]:
    """What the photo-checks function does with its SQS batch (the event Lambda hands it)."""
    got = env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    records = [
        {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
        for m in got.get("Messages", [])
    ]
    assert photo_checks.handler({"Records": records}) == {"batchItemFailures": []}
    return [json.loads(r["body"])["upload"] for r in records]


def test_a_photo_goes_to_the_photos_bucket_by_its_post_policy_and_the_checks_function_reads_it(
    aws_photos: AwsPhotos,
) -> None:
    env = aws_photos
    sub = f"ada-{secrets.token_hex(3)}"
    data = photos.jpeg(photos.astronaut(), gps=True)
    ticket = _ticket(env, sub, len(data))
    # The form goes straight to the photos bucket (path style here: moto on an IP address).
    assert ticket["method"] == "POST"
    assert ticket["url"] == f"{os.environ['AWS_ENDPOINT_URL_S3']}/{env.bucket}"
    fields = ticket["fields"]
    key = fields["key"]
    assert key.startswith("uploads/")

    policy = s3_post_policy.evaluate(fields, bucket=env.bucket, file_size=len(data), secret_key=SECRET_KEY)
    assert ["content-length-range", 1, len(data)] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert {"bucket": env.bucket} in policy["conditions"] and {"key": key} in policy["conditions"]

    sent = httpx.post(ticket["url"], data=fields, files={"file": ("me.jpg", data, "image/jpeg")})
    assert sent.status_code == 204, sent.text
    stored = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
    assert stored == data

    # The API sees the file arrived and hands it to the photo-checks function's queue.
    pending = env.client.http.get(f"/v1/uploads/{ticket['id']}", headers=auth(sub)).json_body
    assert pending["status"] == "pending"
    assert _check_queued_uploads(env) == [ticket["id"]]
    ready = env.client.http.get(f"/v1/uploads/{ticket['id']}", headers=auth(sub)).json_body
    assert ready["status"] == "ready" and ready["face"] is not None
    clean = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
    assert clean != data and b"TestPhone" not in clean  # the clean copy replaced the file in S3

    # A provider's copy: a presigned GET of that bucket, at most 10 minutes.
    signer = build_signer(
        env.container.settings, photo_store(env.container.settings, env.container.ports.objects)
    )
    url = signer.presigned_get(key, 3600)
    assert url.startswith(f"{os.environ['AWS_ENDPOINT_URL_S3']}/{env.bucket}/{key}?")
    assert "X-Amz-Expires=600" in url
    assert httpx.get(url).content == clean

    # The photo never reached the image store; DELETE /v1/me erases it from the photos bucket.
    assert not env.container.ports.objects.exists(key)
    assert env.client.http.delete("/v1/me", headers=auth(sub)).status_code in (200, 204)
    listed = env.s3.list_objects_v2(Bucket=env.bucket, Prefix="uploads/")
    assert listed.get("KeyCount", 0) == 0


def test_a_file_larger_than_declared_breaks_the_policys_content_length_range(aws_photos: AwsPhotos) -> None:
    env = aws_photos
    data = photos.jpeg(photos.astronaut())
    ticket = _ticket(env, f"bob-{secrets.token_hex(3)}", len(data))
    with pytest.raises(s3_post_policy.PolicyRefused) as refused:
        s3_post_policy.evaluate(
            ticket["fields"], bucket=env.bucket, file_size=len(data) + 1, secret_key=SECRET_KEY
        )
    assert refused.value.code == "EntityTooLarge"
    # Another type than the one declared, another key, or a tampered policy: refused too.
    for changed, code in (
        ({"Content-Type": "image/png"}, "AccessDenied"),
        ({"key": "uploads/someone-else"}, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch"),
    ):
        with pytest.raises(s3_post_policy.PolicyRefused) as refused:
            s3_post_policy.evaluate(
                {**ticket["fields"], **changed},
                bucket=env.bucket,
                file_size=len(data),
                secret_key=SECRET_KEY,
            )
        assert refused.value.code == code, changed
