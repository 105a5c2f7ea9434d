"""The stack's stand-in for R2's public domain (``stack/aws.py``): anonymous GET/HEAD of a key
answers the object with its headers, 404 for a missing one, 405 for anything else."""

from __future__ import annotations

import io
from typing import Any

from botocore.exceptions import ClientError

from stack.aws import PublicBucket


class FakeS3:
    def __init__(self, objects: dict[str, tuple[bytes, str]]) -> None:
        self.objects = objects
        self.asked: list[tuple[str, str]] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # boto3's argument names
        self.asked.append((Bucket, Key))
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        body, content_type = self.objects[Key]
        return {
            "Body": io.BytesIO(body),
            "ContentType": content_type,
            "CacheControl": "public, max-age=31536000, immutable",
            "ETag": '"abc"',
        }


def call(app: PublicBucket, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return seen["status"], seen["headers"], body


def bucket(objects: dict[str, tuple[bytes, str]]) -> tuple[PublicBucket, FakeS3]:
    app = PublicBucket.__new__(PublicBucket)
    fake = FakeS3(objects)
    app.bucket, app._s3 = "avatarflow-dev-images", fake
    return app, fake


def test_a_plain_get_answers_the_object_with_its_stored_headers() -> None:
    png = b"\x89PNG\r\n\x1a\n..."
    app, fake = bucket({"generations/ab/c d.png": (png, "image/png")})
    status, headers, body = call(app, "GET", "/generations/ab/c%20d.png")
    assert status == "200 OK" and body == png
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Length"] == str(len(png))
    assert fake.asked == [("avatarflow-dev-images", "generations/ab/c d.png")]
    status, headers, body = call(app, "HEAD", "/generations/ab/c%20d.png")
    assert status == "200 OK" and body == b"" and headers["Content-Length"] == str(len(png))


def test_a_missing_key_is_404_no_listing_and_no_writes() -> None:
    app, _ = bucket({})
    assert call(app, "GET", "/gallery/nothing.webp")[0] == "404 Not Found"
    assert call(app, "GET", "/")[0] == "404 Not Found"
    status, headers, _ = call(app, "PUT", "/gallery/x.webp")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
    assert call(app, "DELETE", "/gallery/x.webp")[0] == "405 Method Not Allowed"
