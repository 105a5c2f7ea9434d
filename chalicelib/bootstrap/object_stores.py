"""The object stores besides R2, chosen by ``build_objects`` (adapters/storage/s3.py says how each
is reached): AWS S3 on the function's role, and S3-compatible stores signed for a named region."""

from __future__ import annotations

from chalicelib.adapters.storage.s3 import S3ObjectStore, make_aws_s3_client, make_s3_compatible_client
from chalicelib.config import Settings


def build_aws_s3(settings: Settings) -> S3ObjectStore:
    """AWS S3 through the function's own role; a half configuration stops the start-up naming
    what is missing (an S3 setting without its bucket, a bucket without its public URL, or S3
    and R2 both configured)."""
    if not settings.s3_bucket:
        raise RuntimeError("S3_PUBLIC_BASE_URL is set but S3_BUCKET is not: AWS S3 needs its bucket")
    if not settings.s3_public_base_url:
        raise RuntimeError("S3_BUCKET is set but S3_PUBLIC_BASE_URL is not: images need a public URL")
    if settings.r2_endpoint_url or settings.r2_bucket:
        raise RuntimeError("S3_BUCKET and R2_BUCKET/R2_ENDPOINT_URL are both set: configure one object store")
    return S3ObjectStore(
        bucket=settings.s3_bucket,
        public_base_url=settings.s3_public_base_url,
        make_client=make_aws_s3_client,
        label="S3",
    )


def build_s3_compatible(settings: Settings) -> S3ObjectStore:
    """An S3-compatible store on the ``R2_*`` settings that signs for ``R2_REGION`` (Supabase)."""
    endpoint, bucket = settings.r2_endpoint_url, settings.r2_bucket
    key_id, secret_key = settings.r2_access_key_id, settings.r2_secret_access_key
    public_base, region = settings.r2_public_base_url, settings.r2_region
    if not (endpoint and bucket and key_id and secret_key and public_base):  # checked by build_objects
        raise RuntimeError(
            "R2_ENDPOINT_URL, R2_BUCKET, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and R2_PUBLIC_BASE_URL are required"
        )
    key, secret = key_id.get_secret_value(), secret_key.get_secret_value()
    label = "Supabase" if "supabase" in endpoint else "S3"
    return S3ObjectStore(
        bucket=bucket,
        public_base_url=public_base,
        make_client=lambda: make_s3_compatible_client(endpoint, key, secret, region),
        label=label,
    )


def build_photos_store(bucket: str) -> S3ObjectStore:
    """The uploaded photos' AWS S3 bucket (``AVATARFLOW_PHOTOS_BUCKET``), on the function's own
    role and region: S3 implements the POST policies of the browser's form upload, R2 does not.
    Nothing in it is ever public (a photo is read through a presigned GET of at most 10 minutes),
    so its "public" base is only the bucket's own address, which no response carries."""
    return S3ObjectStore(
        bucket=bucket,
        public_base_url=f"https://{bucket}.s3.amazonaws.com",
        make_client=make_aws_s3_client,
        label="S3 (photos)",
    )


def is_cloudflare_r2(settings: Settings) -> bool:
    """True when the image store is Cloudflare R2 itself (its S3 endpoint), which refuses the S3
    POST policies of the photo uploads (R2's S3 API does not implement PostObject)."""
    from urllib.parse import urlsplit

    if settings.uses_s3 or not settings.uses_r2 or not settings.r2_endpoint_url:
        return False
    host = (urlsplit(settings.r2_endpoint_url).hostname or "").lower()
    return host.endswith(".r2.cloudflarestorage.com")
