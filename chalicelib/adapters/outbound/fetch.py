"""SSRF-safe download of the images that generation providers hand back as URLs.

A provider answer is untrusted input: its image URL could point at the Lambda metadata service,
at localhost, or at an internal host. So, before any request is made and again at every
redirect hop:

- ``data:`` URIs are decoded locally (the size cap still applies); anything else must be https
  on port 443, with a host that matches the per-provider allowlist (exact, or ``*.suffix``);
- the host is resolved and refused if *any* of its addresses is not a public unicast address
  (private, loopback, link-local incl. 169.254.169.254, multicast, reserved, unspecified,
  shared/CGNAT, or an IPv4-mapped/6to4/NAT64 form of one of those); literal IPs likewise;
- redirects are followed by hand (at most 3), re-checking all of the above for each hop;
- the body is streamed and abandoned past ``max_bytes`` (``Content-Length`` is checked first),
  and content types that are clearly not images (HTML, JSON, text...) are refused;
- ``timeout`` bounds the whole download, every hop and byte included (``bounded.py``).

In production the connection itself goes through :class:`GuardedTransport` (``ssrf.py``), which
resolves and checks the host again at connect time and connects to the address it checked, so a
DNS answer that changes between the check and the connect (rebinding) cannot reach a private
address.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from urllib.parse import unquote_to_bytes

import httpx

from chalicelib.adapters.outbound.bounded import BodyRefused, call_deadline, read_capped
from chalicelib.adapters.outbound.ssrf import (
    FetchRefused,
    GuardedTransport,
    Resolver,
    _check_destination,
    host_allowed,
    is_public_address,
    system_resolver,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FetchRefused",
    "GuardedTransport",
    "Resolver",
    "decode_base64",
    "decode_data_uri",
    "fetch_image",
    "host_allowed",
    "is_public_address",
    "looks_like_image_type",
    "system_resolver",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 3
DEFAULT_USER_AGENT = "avatarflow/1.0"

# Where each provider serves its output. Adapters accept extra hosts on top of these.
FAL_ALLOWED_HOSTS: tuple[str, ...] = ("fal.media", "*.fal.media", "v3.fal.media", "storage.googleapis.com")
REPLICATE_ALLOWED_HOSTS: tuple[str, ...] = ("replicate.delivery", "*.replicate.delivery")
TOGETHER_ALLOWED_HOSTS: tuple[str, ...] = ("api.together.ai", "*.together.ai", "*.together.xyz")
OPENAI_ALLOWED_HOSTS: tuple[str, ...] = (
    "oaidalleapiprodscus.blob.core.windows.net",
    "*.blob.core.windows.net",
)
# A RunPod worker uploads wherever its operator tells it to: the hosts must be configured.
RUNPOD_ALLOWED_HOSTS: tuple[str, ...] = ()

_OCTET_STREAM_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/binary"})
_NON_IMAGE_MAIN_TYPES = frozenset({"text", "multipart", "audio", "video", "font", "model", "message"})
_NON_IMAGE_SUBTYPE_WORDS = (
    "json",
    "xml",
    "html",
    "javascript",
    "ecmascript",
    "form-urlencoded",
    "pdf",
    "zip",
)


def looks_like_image_type(content_type: str | None) -> bool:
    """False for media types that are clearly not images (HTML, JSON, text, ...)."""
    if not content_type:
        return True  # absent: the bytes decide downstream
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or media.startswith("image/") or media in _OCTET_STREAM_TYPES:
        return True
    main, _, sub = media.partition("/")
    if main in _NON_IMAGE_MAIN_TYPES:
        return False
    return not any(word in sub for word in _NON_IMAGE_SUBTYPE_WORDS)


# --------------------------------------------------------------------------------------------
# Local decoding
# --------------------------------------------------------------------------------------------


def decode_base64(data: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decode standard or URL-safe base64 (padding optional), refusing more than ``max_bytes``."""
    if len(data) > 2 * max_bytes + 1024:  # cheap bound before copying a huge string
        raise FetchRefused("too_large", "the encoded image is too large")
    compact = "".join(data.split())
    if (len(compact) * 3) // 4 > max_bytes + 2:
        raise FetchRefused("too_large", "the encoded image is too large")
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.b64decode(compact, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise FetchRefused("bad_data_uri", "the image is not valid base64") from None
    if not raw:
        raise FetchRefused("bad_data_uri", "the image is empty")
    if len(raw) > max_bytes:
        raise FetchRefused("too_large", "the decoded image is too large")
    return raw


def decode_data_uri(uri: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a ``data:[<type>][;base64],<data>`` URI, with the same checks as a download."""
    header, comma, payload = uri.partition(",")
    if not comma or header[:5].lower() != "data:":
        raise FetchRefused("bad_data_uri", "not a data: URI")
    params = [part.strip().lower() for part in header[5:].split(";")]
    if params[0] and not looks_like_image_type(params[0]):
        raise FetchRefused("not_an_image", "the data: URI is not an image")
    if "base64" in params[1:]:
        return decode_base64(payload, max_bytes=max_bytes)
    if len(payload) > 3 * max_bytes + 1024:
        raise FetchRefused("too_large", "the data: URI is too large")
    raw = unquote_to_bytes(payload)
    if not raw:
        raise FetchRefused("bad_data_uri", "the data: URI is empty")
    if len(raw) > max_bytes:
        raise FetchRefused("too_large", "the data: URI is too large")
    return raw


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def _read_image(response: httpx.Response, max_bytes: int, deadline: float | None) -> bytes:
    """The image body, streamed under the cap and the deadline (``bounded.read_capped``).

    We ask for identity. httpx would inflate a gzip/deflate (or brotli/zstd) body whole, chunk by
    chunk, before a cap could see it: a bomb. An encoded answer is refused, and the raw bytes are
    what is counted."""
    try:
        body = read_capped(response, max_bytes, deadline)
    except BodyRefused as exc:
        if exc.reason == "too_large":
            raise FetchRefused("too_large", "the image is larger than allowed") from None
        if exc.reason == "timeout":  # a slow drip must not outlive the overall budget
            raise FetchRefused("timeout", "the download took too long") from None
        raise FetchRefused(
            "not_an_image", "the response is content-encoded; images are fetched as they are"
        ) from None
    if not body:
        raise FetchRefused("not_an_image", "the response body is empty")
    return body


def fetch_image(
    url: str,
    *,
    allowed_hosts: Collection[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 15.0,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
    user_agent: str = DEFAULT_USER_AGENT,
) -> bytes:
    """Download an image from an allowlisted https host, or decode a ``data:`` URI.

    Raises :class:`FetchRefused` for every refusal or failure. ``transport`` replaces the guarded
    production transport (tests); the pre-request checks run either way.
    """
    if url[:5].lower() == "data:":
        return decode_data_uri(url, max_bytes=max_bytes)
    resolve = resolver or system_resolver
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchRefused("bad_url", "the URL cannot be parsed") from None
    headers = {
        "User-Agent": user_agent,  # some CDNs (Together's) refuse requests without one
        "Accept": "image/*",
        "Accept-Encoding": "identity",  # no decompression bombs: images are compressed already
    }
    client = httpx.Client(
        transport=transport or GuardedTransport(resolve),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # each hop is re-checked below
        trust_env=False,  # an env proxy would bypass the address checks
        headers=headers,
    )
    # ``timeout`` bounds the whole download (every hop, every byte): the guarded transport cuts
    # each socket operation to what is left (``bounded.DeadlineBackend``), the body read stops there.
    try:
        with client, call_deadline(timeout) as deadline:
            for _hop in range(MAX_REDIRECTS + 1):
                _check_destination(current, allowed_hosts, resolve)
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        try:
                            current = current.join(response.headers["location"])
                        except (httpx.InvalidURL, TypeError, ValueError):
                            raise FetchRefused("bad_url", "the redirect target cannot be parsed") from None
                        continue
                    if response.status_code != 200:
                        raise FetchRefused(
                            "http_status",
                            f"the image host answered HTTP {response.status_code}",
                            status_code=response.status_code,
                        )
                    if not looks_like_image_type(response.headers.get("content-type")):
                        raise FetchRefused("not_an_image", "the response is not an image")
                    return _read_image(response, max_bytes, deadline)
            raise FetchRefused("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        raise FetchRefused("timeout", "the download timed out") from None
    except httpx.HTTPError as exc:
        raise FetchRefused("connection", f"the download failed ({type(exc).__name__})") from None
