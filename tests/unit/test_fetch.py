"""chalicelib.adapters.outbound.fetch: the SSRF-safe download of provider output (no real network: respx)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import httpx
import pytest
import respx

from chalicelib.adapters.outbound.fetch import (
    FAL_ALLOWED_HOSTS,
    FetchRefused,
    decode_base64,
    decode_data_uri,
    fetch_image,
    host_allowed,
    is_public_address,
    looks_like_image_type,
)
from tests.unit.providers.helpers import PNG, PNG_B64, PNG_DATA_URI, PUBLIC_IP, png_response, public_resolver

ALLOWED = ("fal.media", "*.fal.media", "cdn.example.com")
IMAGE_URL = "https://v3.fal.media/files/abc/out.png"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    # assert_all_mocked: a request nobody routed fails instead of reaching the network.
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def fetch(url: str, **kwargs: object) -> bytes:
    kwargs.setdefault("allowed_hosts", ALLOWED)
    kwargs.setdefault("resolver", public_resolver)
    return fetch_image(url, **kwargs)  # type: ignore[arg-type]


def refused(url: str, **kwargs: object) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        fetch(url, **kwargs)
    return caught.value


# -- success -----------------------------------------------------------------------------------


def test_downloads_an_allowed_image_with_a_user_agent(router: respx.MockRouter) -> None:
    route = router.get(IMAGE_URL).mock(return_value=png_response())
    assert fetch(IMAGE_URL) == PNG
    sent = route.calls.last.request
    assert sent.headers["User-Agent"] == "avatarflow/1.0"
    assert sent.headers["Accept-Encoding"] == "identity"


def test_octet_stream_and_missing_content_type_are_accepted(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "application/octet-stream"}, content=PNG)
    )
    router.get("https://cdn.example.com/a").mock(return_value=httpx.Response(200, content=PNG))
    assert fetch(IMAGE_URL) == PNG
    assert fetch("https://cdn.example.com/a") == PNG


def test_follows_a_redirect_to_another_allowed_host(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(302, headers={"Location": "https://cdn.example.com/final.png"})
    )
    final = router.get("https://cdn.example.com/final.png").mock(return_value=png_response())
    assert fetch(IMAGE_URL) == PNG
    assert final.called


def test_follows_a_relative_redirect(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(return_value=httpx.Response(301, headers={"Location": "/files/abc/moved.png"}))
    moved = router.get("https://v3.fal.media/files/abc/moved.png").mock(return_value=png_response())
    assert fetch(IMAGE_URL) == PNG
    assert moved.called


def test_data_uri_is_decoded_locally(router: respx.MockRouter) -> None:
    assert fetch(PNG_DATA_URI) == PNG
    assert not router.calls


# -- refusals before any request -----------------------------------------------------------------


def test_plain_http_is_refused(router: respx.MockRouter) -> None:
    route = router.get("http://v3.fal.media/files/abc/out.png").mock(return_value=png_response())
    assert refused("http://v3.fal.media/files/abc/out.png").reason == "scheme"
    assert not route.called


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://10.0.0.5/x",
        "https://0.0.0.0/x",
    ],
)
def test_literal_private_addresses_are_refused(router: respx.MockRouter, url: str) -> None:
    route = router.get(url).mock(return_value=png_response())
    error = refused(url, allowed_hosts=(*ALLOWED, "169.254.169.254", "127.0.0.1", "10.0.0.5"))
    assert error.reason == "private_address"
    assert not route.called


def test_host_not_on_the_allowlist_is_refused(router: respx.MockRouter) -> None:
    route = router.get("https://evil.example.net/x.png").mock(return_value=png_response())
    assert refused("https://evil.example.net/x.png").reason == "host_not_allowed"
    assert not route.called


def test_lookalike_host_is_refused(router: respx.MockRouter) -> None:
    route = router.get("https://evilfal.media/x.png").mock(return_value=png_response())
    assert refused("https://evilfal.media/x.png").reason == "host_not_allowed"
    assert not route.called


def test_host_resolving_to_a_private_address_is_refused(router: respx.MockRouter) -> None:
    route = router.get(IMAGE_URL).mock(return_value=png_response())
    assert refused(IMAGE_URL, resolver=lambda host: ["10.0.0.5"]).reason == "private_address"
    assert not route.called


def test_one_private_address_among_public_ones_is_enough_to_refuse(router: respx.MockRouter) -> None:
    route = router.get(IMAGE_URL).mock(return_value=png_response())
    error = refused(IMAGE_URL, resolver=lambda host: [PUBLIC_IP, "fd00::1"])
    assert error.reason == "private_address"
    assert not route.called


def test_dns_failure_is_refused(router: respx.MockRouter) -> None:
    def broken(host: str) -> list[str]:
        raise socket.gaierror("no such host")

    route = router.get(IMAGE_URL).mock(return_value=png_response())
    assert refused(IMAGE_URL, resolver=broken).reason == "dns_failure"
    assert not route.called


def test_non_default_port_and_credentials_are_refused(router: respx.MockRouter) -> None:
    assert refused("https://v3.fal.media:8443/x.png").reason == "port_not_allowed"
    assert refused("https://user:pw@v3.fal.media/x.png").reason == "bad_url"
    assert not router.calls


# -- redirects -----------------------------------------------------------------------------------


def test_redirect_to_a_loopback_literal_is_refused_before_the_second_request(
    router: respx.MockRouter,
) -> None:
    router.get(IMAGE_URL).mock(return_value=httpx.Response(302, headers={"Location": "https://127.0.0.1/x"}))
    second = router.get("https://127.0.0.1/x").mock(return_value=png_response())
    assert refused(IMAGE_URL, allowed_hosts=(*ALLOWED, "127.0.0.1")).reason == "private_address"
    assert not second.called


def test_redirect_to_an_allowed_host_resolving_private_is_refused(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(302, headers={"Location": "https://internal.fal.media/secret"})
    )
    second = router.get("https://internal.fal.media/secret").mock(return_value=png_response())

    def resolver(host: str) -> list[str]:
        return ["192.168.1.20"] if host == "internal.fal.media" else [PUBLIC_IP]

    assert refused(IMAGE_URL, resolver=resolver).reason == "private_address"
    assert not second.called


def test_redirect_off_the_allowlist_or_to_http_is_refused(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(302, headers={"Location": "https://evil.example.net/"})
    )
    router.get("https://cdn.example.com/a").mock(
        return_value=httpx.Response(307, headers={"Location": "http://cdn.example.com/a"})
    )
    evil = router.get("https://evil.example.net/").mock(return_value=png_response())
    assert refused(IMAGE_URL).reason == "host_not_allowed"
    assert refused("https://cdn.example.com/a").reason == "scheme"
    assert not evil.called


def test_too_many_redirects_are_refused(router: respx.MockRouter) -> None:
    for index in range(5):
        router.get(f"https://cdn.example.com/{index}").mock(
            return_value=httpx.Response(302, headers={"Location": f"https://cdn.example.com/{index + 1}"})
        )
    assert refused("https://cdn.example.com/0").reason == "too_many_redirects"
    assert len(router.calls) == 4  # the first request and three redirects, no more


# -- bodies --------------------------------------------------------------------------------------


def test_declared_oversized_body_is_refused_unread(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(return_value=png_response(**{"Content-Length": str(50 * 1024 * 1024)}))
    assert refused(IMAGE_URL).reason == "too_large"


def test_streamed_body_without_length_stops_past_the_cap(router: respx.MockRouter) -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        for index in range(1000):
            produced.append(index)
            yield b"\x00" * 1024

    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=endless())
    )
    assert refused(IMAGE_URL, max_bytes=10 * 1024).reason == "too_large"
    assert len(produced) < 20  # stopped reading right after the cap


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json", "text/plain"])
def test_non_image_content_types_are_refused(router: respx.MockRouter, content_type: str) -> None:
    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": content_type}, content=b"<html></html>")
    )
    assert refused(IMAGE_URL).reason == "not_an_image"


def test_http_errors_carry_the_status(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(return_value=httpx.Response(404, text="expired"))
    error = refused(IMAGE_URL)
    assert (error.reason, error.status_code) == ("http_status", 404)


def test_timeouts_and_connection_errors_are_typed(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    router.get("https://cdn.example.com/a").mock(side_effect=httpx.ConnectError("refused"))
    assert refused(IMAGE_URL).reason == "timeout"
    assert refused("https://cdn.example.com/a").reason == "connection"


def test_signed_urls_do_not_leak_into_the_error(router: respx.MockRouter) -> None:
    url = "https://evil.example.net/x.png?sig=SECRET-SIGNATURE"
    error = refused(url)
    assert "SECRET-SIGNATURE" not in str(error)


# -- data: URIs and base64 -----------------------------------------------------------------------


def test_oversized_data_uri_is_refused() -> None:
    big = "data:image/png;base64," + base64.b64encode(b"\x00" * 4096).decode()
    with pytest.raises(FetchRefused) as caught:
        fetch_image(big, allowed_hosts=(), max_bytes=1024)
    assert caught.value.reason == "too_large"


def test_data_uri_variants() -> None:
    assert decode_data_uri(f"data:;base64,{PNG_B64}") == PNG
    assert decode_data_uri(f"data:image/png;base64,{PNG_B64.rstrip('=')}") == PNG  # padding optional
    with pytest.raises(FetchRefused) as html:
        decode_data_uri("data:text/html;base64,PGh0bWw+")
    assert html.value.reason == "not_an_image"
    with pytest.raises(FetchRefused) as broken:
        decode_data_uri("data:image/png;base64,@@not-base64@@")
    assert broken.value.reason == "bad_data_uri"
    with pytest.raises(FetchRefused):
        decode_data_uri("data:image/png;base64")  # no comma


def test_decode_base64_accepts_urlsafe_and_whitespace() -> None:
    urlsafe = base64.urlsafe_b64encode(PNG).decode()
    assert decode_base64(urlsafe) == PNG
    assert decode_base64("\n".join(PNG_B64[i : i + 60] for i in range(0, len(PNG_B64), 60))) == PNG


# -- connect-time guard (production transport) ---------------------------------------------------


def test_guarded_transport_refuses_a_rebinding_answer_at_connect_time() -> None:
    """The check passes on the first DNS answer; the connection sees the second: refused, no socket."""
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])

    def rebinding(host: str) -> list[str]:
        return next(answers, ["127.0.0.1"])

    with pytest.raises(FetchRefused) as caught:
        fetch_image(IMAGE_URL, allowed_hosts=FAL_ALLOWED_HOSTS, resolver=rebinding)
    assert caught.value.reason == "private_address"


# -- building blocks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("v3.fal.media", True),
        ("a.b.fal.media", True),
        ("FAL.MEDIA.", True),
        ("fal.media", True),
        ("evilfal.media", False),
        ("fal.media.evil.com", False),
        ("storage.googleapis.com", True),
        ("googleapis.com", False),
        ("", False),
    ],
)
def test_host_allowed(host: str, expected: bool) -> None:
    assert host_allowed(host, FAL_ALLOWED_HOSTS) is expected


def test_wildcard_alone_does_not_match_the_bare_domain() -> None:
    assert not host_allowed("replicate.delivery", ["*.replicate.delivery"])
    assert not host_allowed("anything.com", ["*"])


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_IP, True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.5", False),
        ("2002:a00:5::", False),  # 6to4 wrapping 10.0.0.5
        ("64:ff9b::7f00:1", False),  # NAT64 wrapping 127.0.0.1
        ("not-an-ip", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_looks_like_image_type() -> None:
    assert looks_like_image_type("image/webp")
    assert looks_like_image_type(None)
    assert looks_like_image_type("binary/octet-stream")
    assert not looks_like_image_type("text/html")
    assert not looks_like_image_type("application/problem+json")
    assert not looks_like_image_type("application/xhtml+xml")


def test_deprecated_site_local_ipv6_is_not_public() -> None:
    # fec0::/10 is not globally routable, yet ipaddress's is_global says True for it.
    assert is_public_address("fec0::1") is False
    assert is_public_address("feff:ffff::1") is False


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_content_encoded_bodies_are_refused_not_inflated(router: respx.MockRouter, encoding: str) -> None:
    # A gzip bomb: 30 KB on the wire, 30 MB inflated. httpx would inflate each chunk whole before
    # the byte cap could look at it; an encoded answer to an identity request is refused instead.
    import gzip

    bomb = gzip.compress(b"\x00" * (30 * 1024 * 1024))

    def wire() -> Iterator[bytes]:  # streamed, as from a socket (bytes content is read eagerly)
        yield bomb

    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": "image/png", "Content-Encoding": encoding}, content=wire()
        )
    )
    assert refused(IMAGE_URL, max_bytes=1024 * 1024).reason == "not_an_image"


def test_identity_content_encoding_is_accepted(router: respx.MockRouter) -> None:
    router.get(IMAGE_URL).mock(return_value=png_response(**{"Content-Encoding": "identity"}))
    assert fetch(IMAGE_URL) == PNG
