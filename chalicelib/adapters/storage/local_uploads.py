"""The local stage's own presigned uploads: the same shape as an S3 POST policy (a base64 JSON
policy with the key, the content type and a ``content-length-range``, signed), answered by the
API's ``/v1/local-uploads`` route instead of the object store, so that the page and the tests take
the same path as in production. Presigned GETs are signed the same way.

The signature is an HMAC-SHA256 with a key derived from the JWT secret; the policy's conditions
are checked exactly as S3 checks them (every field named, the size range, the expiry).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from chalicelib.domain.uploads import UPLOADS_FOLDER
from chalicelib.ports.photos import AcceptedUpload, PresignedPost, UploadRefused

SIGNATURE_FIELD = "x-avatarflow-signature"
FORM_PATH = "/v1/local-uploads"


class LocalUploadSigner:
    """:class:`chalicelib.ports.photos.UploadSigner` and ``LocalUploadVerifier`` for the local stage."""

    def __init__(self, secret: str, api_base_url: str) -> None:
        self._key = hashlib.sha256(b"avatarflow-local-uploads\x00" + secret.encode()).digest()
        self._base = api_base_url.rstrip("/")

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_s))
        policy = {
            "expiration": expiration,
            "conditions": [
                {"key": key},
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
        }
        encoded = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
        fields = {
            "key": key,
            "Content-Type": content_type,
            "policy": encoded,
            SIGNATURE_FIELD: self._sign(encoded),
        }
        return PresignedPost(url=self._base + FORM_PATH, fields=fields)

    def presigned_get(self, key: str, expires_s: int) -> str:
        expires = int(time.time()) + expires_s
        name = key.split("/", 1)[1]
        query = urlencode({"expires": expires, "signature": self._sign(f"GET\n{key}\n{expires}")})
        return f"{self._base}{FORM_PATH}/{name}?{query}"

    def verify_get(self, name: str, expires: str, signature: str, now: float) -> str:
        """The object key a presigned GET reads; raises :class:`UploadRefused` if it is not valid."""
        key = f"{UPLOADS_FOLDER}/{name}"
        if not expires.isdigit() or int(expires) < now:
            raise UploadRefused("expired", "The link has expired.")
        if not hmac.compare_digest(self._sign(f"GET\n{key}\n{expires}"), signature):
            raise UploadRefused("signature", "The link's signature does not match.")
        return key

    def verify_post(self, fields: dict[str, str], file_size: int, now: float) -> AcceptedUpload:
        """Check a form upload as S3 checks a POST policy: the signature, the expiry, each
        condition (exact fields, the size range); raises :class:`UploadRefused`."""
        encoded = fields.get("policy", "")
        if not encoded or not hmac.compare_digest(self._sign(encoded), fields.get(SIGNATURE_FIELD, "")):
            raise UploadRefused("signature", "The upload's policy signature does not match.")
        try:
            policy = json.loads(base64.b64decode(encoded, validate=True))
            expiration = calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
            conditions = policy["conditions"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UploadRefused("malformed", "The upload's policy is malformed.") from exc
        if expiration < now:
            raise UploadRefused("expired", "The upload's policy has expired.")
        for condition in conditions:
            if isinstance(condition, dict):
                for name, value in condition.items():
                    if fields.get(name) != value:
                        raise UploadRefused("policy", f"The field {name!r} does not match the policy.")
            elif isinstance(condition, list) and condition[:1] == ["content-length-range"]:
                low, high = int(condition[1]), int(condition[2])
                if not low <= file_size <= high:
                    raise UploadRefused(
                        "size", f"The file is {file_size} bytes; the policy allows {low} to {high}."
                    )
        key = fields.get("key", "")
        if not key.startswith(UPLOADS_FOLDER + "/"):
            raise UploadRefused("policy", "The upload's key is outside the uploads folder.")
        return AcceptedUpload(key=key, content_type=fields.get("Content-Type", ""))
