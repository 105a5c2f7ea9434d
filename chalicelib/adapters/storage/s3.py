"""Object stores besides R2, on the same S3 adapter: AWS S3 through the function's own role, and
any S3-compatible store that signs with a named region (Supabase Storage).

- **AWS S3** (``S3_BUCKET`` + ``S3_PUBLIC_BASE_URL``): no keys and no endpoint. boto3's default
  credential chain finds the Lambda execution role (``AWS_ACCESS_KEY_ID``/``AWS_SESSION_TOKEN``
  that Lambda sets) and the region (``AWS_REGION``); addressing is virtual-hosted, as S3 wants.
  Images are public through ``S3_PUBLIC_BASE_URL`` (a CloudFront distribution over the bucket),
  never through the S3 endpoint: the bucket stays private.
- **Supabase Storage** (the ``R2_*`` settings): its S3 endpoint
  ``https://<project ref>.storage.supabase.co/storage/v1/s3``, path-style addressing, the S3
  access keys of the project's storage settings, and SigV4 signed for the project's region
  (``R2_REGION``; R2 itself signs for ``auto``, the default). Objects are public through the
  bucket's public URL ``https://<project ref>.supabase.co/storage/v1/object/public/<bucket>``.

Reads, writes and errors are :class:`~chalicelib.adapters.storage.r2.R2ObjectStore`'s: the same
contract suite (tests/contract/test_object_store.py) runs against each configuration. boto3 is
imported on the first read or write, as for R2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.storage.r2 import R2ObjectStore
from chalicelib.ports import ObjectStoreError

__all__ = ["S3ObjectStore", "make_aws_s3_client", "make_s3_compatible_client"]

_LAZY = object()  # stands for the client until the first call makes it


def _config(**s3: Any) -> Any:
    from botocore.config import Config

    return Config(
        signature_version="s3v4",
        s3=s3,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
    )


def make_aws_s3_client() -> Any:
    """An S3 client on the function's own role and region (boto3's default chain): no key, no endpoint."""
    import boto3

    return boto3.session.Session().client("s3", config=_config(addressing_style="virtual"))


def make_s3_compatible_client(
    endpoint_url: str, access_key_id: str, secret_access_key: str, region: str
) -> Any:
    """An S3 client for an S3-compatible endpoint that signs for ``region`` (Supabase Storage)."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=_config(addressing_style="path"),
    )


class S3ObjectStore(R2ObjectStore):
    """:class:`chalicelib.ports.ObjectStore` on an S3 bucket whose client ``make_client`` makes
    (on the first read or write). ``label`` names the store in errors ("S3", "Supabase")."""

    def __init__(
        self, *, bucket: str, public_base_url: str, make_client: Callable[[], Any], label: str = "S3"
    ) -> None:
        super().__init__(bucket=bucket, public_base_url=public_base_url, client=_LAZY)
        self._client = None
        self._make_client = make_client
        self._label = label

    def __repr__(self) -> str:
        return (
            f"S3ObjectStore(store={self._label!r}, bucket={self._bucket!r}, public_base_url={self._base!r})"
        )

    def delete_older_than(self, folder: str, cutoff_epoch_s: float) -> int:
        """:class:`chalicelib.ports.ExpiringObjects`, for a store without lifecycle rules (Supabase
        Storage): lists ``folder/`` and deletes what was last written before the cutoff."""
        self._check(f"{folder}/x")
        deleted = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=f"{folder}/"
            )
            for page in pages:
                for item in page.get("Contents") or ():
                    if item["LastModified"].timestamp() < cutoff_epoch_s:
                        self.client.delete_object(Bucket=self._bucket, Key=item["Key"])
                        deleted += 1
        except self._errors as exc:
            raise self._failure("expire", f"{folder}/", exc) from exc
        return deleted

    def _failure(self, action: str, key: str, exc: Exception) -> ObjectStoreError:
        error = super()._failure(action, key, exc)
        message = str(error)
        return ObjectStoreError(self._label + message[2:] if message.startswith("R2") else message)
