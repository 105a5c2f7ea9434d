"""`make stack` runs the photo flow as production does (docs/photos.md, "Production storage").

The photos live in their own bucket on moto's S3 (``AVATARFLOW_PHOTOS_BUCKET``, not the image
bucket standing in for R2), and the API does not check them itself: it hands each arrived upload to
the photo-checks queue (``AVATARFLOW_QUEUE_URL_PHOTOS``), which the stack's ``function-photo-checks``
process long-polls and hands to ``chalicelib.workers.photo_checks.handler`` as Lambda's SQS event,
with the real detectors (OpenCV, NudeNet); killed, the supervisor starts it again. The browser's form POST is a real multipart POST to
moto with the fields the API signed; the photo generation goes to a vendor stand-in, which
downloads the photo from its presigned GET URL as the vendor does.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import jwt
import pytest

from stack.running import running_stack
from tests import photos_support as photos

pytestmark = pytest.mark.e2e

TIMEOUT_S = 180.0  # the checks' first run loads OpenCV and NudeNet in the worker (seconds under load)


def _s3(endpoint: str) -> Any:
    import boto3

    from stack.aws import ACCESS_KEY, REGION, SECRET_KEY

    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    ).client("s3", endpoint_url=endpoint)


def _keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_a_photo_goes_to_the_photos_bucket_is_checked_by_the_worker_and_makes_an_avatar() -> None:
    with running_stack(
        "--api", "1", "--workers-per-lane", "1", "--latency-ms", "20-50",
        "--at-start", "budget_check",  # no gallery seed: this test needs none
        "--env", "AVATARFLOW_DAILY_BUDGET_USD=100000", "--env", "AVATARFLOW_MONTHLY_BUDGET_USD=1000000",
    ) as stack:  # fmt: skip
        state = stack.state()
        aws = state["aws"]
        photos_bucket = aws["buckets"]["AVATARFLOW_PHOTOS_BUCKET"]
        assert photos_bucket != aws["bucket"]
        assert stack.names("function-") == ["function-photo-checks"]
        # A container that dies is started again, as Lambda does (the supervisor's policy).
        stack.wait_restarted("function-photo-checks", stack.crash("function-photo-checks"))
        checker = stack.process_info("function-photo-checks")
        claims = {"sub": f"ada-{secrets.token_hex(3)}", "tier": "premium", "exp": int(time.time()) + 3600}
        headers = {"Authorization": "Bearer " + jwt.encode(claims, state["jwt_secret"], algorithm="HS256")}
        data = photos.jpeg(photos.astronaut(), gps=True)

        with httpx.Client(base_url=state["front"], timeout=60) as client:
            ticket = client.post(
                "/v1/uploads",
                headers=headers,
                json={"content_type": "image/jpeg", "content_length": len(data)},
            )
            assert ticket.status_code == 201, ticket.text
            upload = ticket.json()
            # The form goes straight to the photos bucket on moto's S3, not through the API.
            assert upload["method"] == "POST"
            assert upload["url"] == f"{aws['endpoint']}/{photos_bucket}"
            key = upload["fields"]["key"]
            sent = httpx.post(
                upload["url"],
                data=upload["fields"],
                files={"file": ("me.jpg", data, "image/jpeg")},
                timeout=30,
            )
            assert sent.status_code == 204, sent.text

            deadline = time.monotonic() + TIMEOUT_S
            while True:
                polled = client.get(f"/v1/uploads/{upload['id']}", headers=headers)
                assert polled.status_code == 200, polled.text
                doc = polled.json()
                if doc["status"] != "pending":
                    break
                assert time.monotonic() < deadline, doc
                time.sleep(0.5)
            assert doc["status"] == "ready", doc
            assert doc["face"] is not None and doc["error"] is None

            made = client.post(
                "/v1/generations",
                headers={**headers, "Idempotency-Key": f"photo-{upload['id']}"},
                json={"style": "anime", "photo": upload["id"]},
            )
            assert made.status_code in (200, 202), made.text
            generation = made.json()
            while generation["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, generation
                time.sleep(0.5)
                generation = client.get(f"/v1/generations/{generation['id']}", headers=headers).json()
            assert generation["status"] == "succeeded", generation
            assert generation["photo"] == upload["id"]
            # A vendor's photo model made it (the stand-in downloaded the photo), not the offline one.
            assert generation["provider"] in ("fal", "replicate", "together"), generation

        s3 = _s3(aws["endpoint"])
        # The photo is in its own bucket, metadata stripped by the checks; none of it in the images'.
        assert key in _keys(s3, photos_bucket)
        kept = s3.get_object(Bucket=photos_bucket, Key=key)["Body"].read()
        assert kept != data and b"TestPhone" not in kept and b"GPS" not in kept
        assert not any(k.startswith("uploads/") for k in _keys(s3, aws["bucket"]))
        # The checks ran in the worker process, on the message the API sent to SQS.
        assert stack.process_info("function-photo-checks")["pid"] == checker["pid"]
        with open(checker["log"]) as log:
            assert "Records: 1 Deleted: 1" in log.read()
    assert stack.leftovers == []
