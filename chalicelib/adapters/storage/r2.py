"""The production object store: Cloudflare R2 through boto3's S3 client, served by the CDN.

R2 speaks the S3 API with a few differences that this adapter respects:

- the region is ``"auto"`` and the endpoint is ``https://<account id>.r2.cloudflarestorage.com``;
- since botocore 1.36 the S3 client adds CRC32 checksum headers (``x-amz-checksum-crc32``,
  ``x-amz-sdk-checksum-algorithm``) to every upload it can, which R2 refuses: checksums are sent
  and validated only where an operation requires them (``when_required``);
- R2 has no object ACLs: nothing here sends one; objects are public through the bucket's public
  domain (``R2_PUBLIC_BASE_URL``), never through the S3 endpoint.

boto3 is imported in the constructor, not at import time, to keep the Lambda cold start small.
Errors never carry a credential: messages name the operation, the key and the error code only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.ports import IMMUTABLE_CACHE_CONTROL, ObjectStoreError
from chalicelib.ports.objects import is_valid_key
from chalicelib.ports.photos import PresignedPost

__all__ = ["R2ObjectStore", "make_r2_client"]

R2_REGION = "auto"
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def make_r2_client(endpoint_url: str, access_key_id: str, secret_access_key: str) -> Any:
    """An S3 client configured for R2: bounded timeouts, bounded retries, no default checksums."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=R2_REGION,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    # A session of its own: the default session is shared module state and not thread-safe.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=R2_REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


class R2ObjectStore:
    """:class:`chalicelib.ports.ObjectStore` on a Cloudflare R2 bucket.

    Give either the endpoint and credentials, or a ready ``client`` (tests).
    """

    def __init__(
        self,
        *,
        bucket: str,
        public_base_url: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ValueError("R2 needs a bucket name (R2_BUCKET)")
        base = public_base_url.strip().rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ValueError("R2_PUBLIC_BASE_URL must be an absolute http(s) URL")
        if client is None and not (endpoint_url and access_key_id and secret_access_key):
            raise ValueError(
                "R2 needs R2_ENDPOINT_URL, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (or a client)"
            )

        # The client (and boto3, ~0.1-0.3 s of a cold start) is made on the first read or write: a
        # container that only serves public URLs (cache hits, the gallery) never pays for it. Until
        # then the credentials wait in a closure: not an attribute, so no repr or log shows them.
        def make_client() -> Any:
            return client or make_r2_client(str(endpoint_url), str(access_key_id), str(secret_access_key))

        self._make_client: Callable[[], Any] = make_client
        self._client: Any = client
        self._lock = threading.Lock()
        self._bucket = bucket
        self._base = base

    def __repr__(self) -> str:
        return f"R2ObjectStore(bucket={self._bucket!r}, public_base_url={self._base!r})"

    @property
    def client(self) -> Any:
        """The underlying S3 client (for event hooks in tests and for operators' scripts)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    @property
    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    @property
    def bucket(self) -> str:
        return self._bucket

    # -- the port ----------------------------------------------------------------------------
    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE_CACHE_CONTROL
    ) -> None:
        self._check(key)
        try:
            self.client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
            )
        except self._errors as exc:
            raise self._failure("write", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        self._check(key)
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except self._errors as exc:
            if self._is_missing(exc):
                return None
            raise self._failure("read", key, exc) from exc
        return data

    def exists(self, key: str) -> bool:
        self._check(key)
        try:
            self.client.head_object(Bucket=self._bucket, Key=key)
        except self._errors as exc:
            if self._is_missing(exc):
                return False
            raise self._failure("check", key, exc) from exc
        return True

    def delete(self, key: str) -> None:
        self._check(key)
        try:
            # S3 (and R2) answer 204 for a key that does not exist: deleting twice is fine.
            self.client.delete_object(Bucket=self._bucket, Key=key)
        except self._errors as exc:
            raise self._failure("delete", key, exc) from exc

    def public_url(self, key: str) -> str:
        return f"{self._base}/{key.lstrip('/')}"

    # -- photos (chalicelib.ports.photos.UploadSigner) ----------------------------------------
    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        """An S3 POST policy for one object: the key, the content type and the size range
        (``content-length-range``) are conditions the store enforces; signed locally (no call)."""
        self._check(key)
        try:
            post = self.client.generate_presigned_post(
                Bucket=self._bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
                ExpiresIn=expires_s,
            )
        except self._errors as exc:
            raise self._failure("presign an upload of", key, exc) from exc
        return PresignedPost(url=str(post["url"]), fields={k: str(v) for k, v in post["fields"].items()})

    def presigned_get(self, key: str, expires_s: int) -> str:
        """A SigV4 presigned GET (at most 10 minutes: what a provider needs to fetch a photo)."""
        self._check(key)
        try:
            url: str = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=min(expires_s, 600)
            )
        except self._errors as exc:
            raise self._failure("presign a read of", key, exc) from exc
        return url

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _check(key: str) -> None:
        if not is_valid_key(key):
            raise ObjectStoreError("invalid object key")

    def _is_missing(self, exc: Exception) -> bool:
        # A missing bucket is a configuration error, not a missing object: only the key's 404s count.
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return False
        code = _error_code(exc)
        if code in _MISSING_KEY_CODES:
            return True
        # HEAD answers a bare 404 with no body, so there is no code to tell a key from a bucket.
        return not code and _http_status(exc) == 404

    def _failure(self, action: str, key: str, exc: Exception) -> ObjectStoreError:
        """An error that names what failed and why, built from codes only (no credential can leak)."""
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = _error_code(exc) or "error"
            status = _http_status(exc)
            reason = f"{code} (HTTP {status})" if status else code
        else:
            reason = type(exc).__name__  # e.g. EndpointConnectionError, ConnectTimeoutError
        return ObjectStoreError(f"R2 could not {action} {key} in bucket {self._bucket}: {reason}")


def _error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or "")


def _http_status(exc: Exception) -> int | None:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
