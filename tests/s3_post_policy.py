"""AWS S3's side of a browser form upload (PostObject with a POST policy), for the tests.

moto's S3 server stores whatever a form POST sends: it checks neither the policy's SigV4
signature nor its expiry nor any condition (``content-length-range`` and ``Content-Type``
included; moto 5.2, ``S3Response._bucket_response_post``). So the tests evaluate the form here as
S3 documents it (Amazon S3 User Guide, "Creating a POST policy"), then send the same form to moto:
the signature is recomputed with the secret key, every condition must hold for the form's fields
and the file's size, and every form field must be named by a condition.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import time
from typing import Any

# Fields S3 does not require the policy to name.
_EXEMPT = {"policy", "x-amz-signature", "file", "bucket"}


class PolicyRefused(Exception):
    """S3 would refuse the upload; ``code`` is the error code S3 answers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_signature(policy_b64: str, credential: str, secret_key: str) -> str:
    """The SigV4 signature of a POST policy for ``credential`` (key/date/region/s3/aws4_request)."""
    _, date, region, service, terminal = credential.split("/")
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminal):
        key = _hmac(key, part)
    return hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()


def evaluate(
    fields: dict[str, str], *, bucket: str, file_size: int, secret_key: str, now: float | None = None
) -> dict[str, Any]:
    """The decoded policy if S3 would accept this form upload; raises :class:`PolicyRefused`."""
    now = time.time() if now is None else now
    encoded = fields.get("policy", "")
    credential = fields.get("x-amz-credential", "")
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or credential.count("/") != 4:
        raise PolicyRefused("InvalidArgument", "not a SigV4 POST")
    expected = sigv4_signature(encoded, credential, secret_key)
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        raise PolicyRefused("SignatureDoesNotMatch", "the policy's signature does not match")
    policy = json.loads(base64.b64decode(encoded, validate=True))
    if calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ")) < now:
        raise PolicyRefused("AccessDenied", "Invalid according to Policy: Policy expired.")
    form = {name.lower(): value for name, value in fields.items()}
    form["bucket"] = bucket
    named: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            for name, value in condition.items():
                named.add(name.lower())
                if form.get(name.lower()) != value:
                    raise PolicyRefused("AccessDenied", f"Policy Condition failed: {name}")
        elif condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if file_size > high:
                raise PolicyRefused("EntityTooLarge", f"{file_size} > {high}")
            if file_size < low:
                raise PolicyRefused("EntityTooSmall", f"{file_size} < {low}")
        else:
            operator, name, value = condition
            name = name.lstrip("$").lower()
            named.add(name)
            actual = form.get(name, "")
            if (operator == "eq" and actual != value) or (
                operator == "starts-with" and not actual.startswith(value)
            ):
                raise PolicyRefused("AccessDenied", f"Policy Condition failed: {operator} {name}")
    for name in form:
        if name not in _EXEMPT and not name.startswith("x-ignore-") and name not in named:
            raise PolicyRefused("AccessDenied", f"Invalid according to Policy: Extra input fields: {name}")
    return dict(policy)
