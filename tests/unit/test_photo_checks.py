"""The photo checks' parts: the clean decode (orientation, no metadata, 40 MP), the face
detector on scikit-image's pictures, NudeNet's verdicts, the offline stylisation, and the
presigned uploads of R2/S3 (moto) and of the local stage."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import pytest

from chalicelib.adapters.imaging.photo import decode_photo, encode_clean_jpeg
from chalicelib.adapters.photos.nudenet_moderation import NudeNetModerator, refused_by
from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector
from chalicelib.adapters.storage.local_uploads import LocalUploadSigner
from chalicelib.domain.uploads import MAX_PHOTO_PIXELS, MAX_UPLOAD_BYTES, FaceBox
from chalicelib.ports import ImageRejected
from chalicelib.ports.photos import UploadRefused
from chalicelib.render.photo_style import face_crop, stylise
from tests import photos_support as photos


def decode(data: bytes) -> Any:
    return decode_photo(data, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PHOTO_PIXELS)


def test_the_clean_photo_is_oriented_and_carries_no_metadata() -> None:
    from PIL import Image

    image = decode(photos.jpeg(photos.astronaut(), gps=True, rotated=True))
    clean = encode_clean_jpeg(image)
    with Image.open(io.BytesIO(clean)) as reopened:
        assert not reopened.getexif()
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(reopened.info)
    assert b"TestPhone" not in clean and b"GPS" not in clean
    assert len(OpenCvFaceDetector().faces(image)) == 1  # upright again: the face is found


def test_decode_refuses_what_is_not_a_usable_photo() -> None:
    from PIL import Image

    with pytest.raises(ImageRejected) as not_image:
        decode(b"GIF89a" + b"\x00" * 50)
    assert not_image.value.reason in ("corrupt", "unsupported_format", "not_an_image")
    with pytest.raises(ImageRejected) as truncated:
        decode(photos.jpeg(photos.astronaut())[:5000])
    assert truncated.value.reason == "corrupt"
    with pytest.raises(ImageRejected) as huge:
        decode(photos.png(Image.new("RGB", (8000, 6000))))
    assert huge.value.reason == "too_many_pixels"
    with pytest.raises(ImageRejected) as gif:
        out = io.BytesIO()
        photos.astronaut().save(out, "GIF")
        decode(out.getvalue())
    assert gif.value.reason == "unsupported_format"


def test_a_twelve_megapixel_photo_is_decoded_at_a_quarter_scale() -> None:
    big = photos.astronaut().resize((4000, 3000))
    image = decode(photos.jpeg(big))
    assert image.size == (1000, 750)  # libjpeg's 1/4 draft: still over 960 px long
    png = decode(photos.png(photos.astronaut().resize((2000, 1500))))
    assert png.size == (1280, 960)  # other formats: scaled to at most 1280 px


@pytest.mark.parametrize(
    ("picture", "count"),
    [(photos.astronaut, 1), (photos.two_astronauts, 2), (photos.coffee, 0)],
    ids=["astronaut", "two astronauts", "coffee"],
)
def test_the_face_detector_on_scikit_images_pictures(picture: Any, count: int) -> None:
    faces = OpenCvFaceDetector().faces(picture())
    assert len(faces) == count
    for face in faces:
        assert 0 <= face.x < 1 and 0 <= face.y < 1 and 0 < face.w <= 1 and 0 < face.h <= 1


def test_nudenet_verdicts() -> None:
    assert refused_by([{"class": "FEMALE_BREAST_EXPOSED", "score": 0.8, "box": [0, 0, 1, 1]}])
    assert not refused_by([{"class": "FEMALE_BREAST_EXPOSED", "score": 0.3, "box": [0, 0, 1, 1]}])
    assert not refused_by([{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 1, 1]}])
    assert not refused_by([{"class": "FEMALE_BREAST_COVERED", "score": 0.9, "box": [0, 0, 1, 1]}])
    # The model itself (shipped in the package) passes the astronaut and the coffee cup.
    moderator = NudeNetModerator()
    assert not moderator.refuses(photos.astronaut())
    assert not moderator.refuses(photos.coffee())


def test_each_style_treats_the_face_crop_differently() -> None:
    from PIL import ImageChops, ImageStat

    picture = photos.astronaut()
    face = OpenCvFaceDetector().faces(picture)[0]
    crop = face_crop(picture, face, 256)
    assert crop.size == (256, 256)
    styles = [
        "professional",
        "anime",
        "cartoon3d",
        "watercolor",
        "pixel",
        "oil",
        "flat",
        "cyberpunk",
        "sketch",
        "popart",
    ]
    made = {s: stylise(picture, face, s, size=256, seed=7, likeness=0.8) for s in styles}
    for style, image in made.items():
        assert image.size == (256, 256) and image.mode == "RGB", style
        assert ImageStat.Stat(ImageChops.difference(image, crop)).mean != [0.0, 0.0, 0.0], style
    # Distinct treatments, deterministic for a seed.
    assert len({m.tobytes() for m in made.values()}) == len(styles)
    assert (
        stylise(picture, face, "anime", size=256, seed=7, likeness=0.8).tobytes() == made["anime"].tobytes()
    )


def test_the_crop_is_centred_on_the_face() -> None:
    from PIL import Image

    picture = Image.new("RGB", (1000, 1000), (0, 0, 0))
    picture.paste((255, 255, 255), (400, 100, 600, 300))  # the "face": a white square
    crop = face_crop(picture, FaceBox(0.4, 0.1, 0.2, 0.2), 100)
    assert crop.getpixel((50, 45)) == (255, 255, 255)  # the face is at the centre (a little above)
    assert crop.getpixel((2, 98)) == (0, 0, 0)


def test_the_local_signer_checks_its_policy_as_s3_does() -> None:
    signer = LocalUploadSigner("secret", "http://localhost:8000")
    post = signer.presign_post("uploads/upl_x-0a", "image/jpeg", 1000, 60)
    assert post.url == "http://localhost:8000/v1/local-uploads"
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    now = time.time()
    assert signer.verify_post(post.fields, 999, now).key == "uploads/upl_x-0a"
    for fields, size, reason in (
        (post.fields, 1001, "size"),
        (post.fields, 0, "size"),
        ({**post.fields, "key": "uploads/other"}, 10, "policy"),
        ({**post.fields, "policy": post.fields["policy"][:-4]}, 10, "signature"),
    ):
        with pytest.raises(UploadRefused) as refused:
            signer.verify_post(fields, size, now)
        assert refused.value.reason == reason
    with pytest.raises(UploadRefused) as late:
        signer.verify_post(post.fields, 10, now + 120)
    assert late.value.reason == "expired"


def test_r2_presigns_a_post_policy_and_a_ten_minute_get() -> None:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.storage.r2 import R2ObjectStore

    with mock_aws():
        from botocore.config import Config

        # As make_r2_client configures it: SigV4 (R2 accepts no other).
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket="avatars")
        store = R2ObjectStore(bucket="avatars", public_base_url="https://cdn.example.com", client=client)
        post = store.presign_post("uploads/upl_x-0a", "image/png", 2048, 900)
        policy = json.loads(base64.b64decode(post.fields["policy"]))
        assert ["content-length-range", 1, 2048] in policy["conditions"]
        assert {"Content-Type": "image/png"} in policy["conditions"]
        assert post.fields["key"] == "uploads/upl_x-0a" and post.fields["Content-Type"] == "image/png"
        assert {"x-amz-signature", "x-amz-algorithm", "x-amz-credential"} <= set(post.fields)
        assert "avatars" in post.url
        url = store.presigned_get("uploads/upl_x-0a", 3600)
        assert "X-Amz-Expires=600" in url  # capped at ten minutes whatever is asked
