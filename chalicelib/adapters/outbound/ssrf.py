"""Outbound requests that can only reach public addresses: the SSRF guard of every download
and callback.

A URL we are handed (a provider's output, a client's callback URL) is untrusted: it could point at
the Lambda metadata service, at localhost, or at an internal host. A host is refused if *any*
of its addresses is not a public unicast address (private, loopback, link-local incl.
169.254.169.254, multicast, reserved, unspecified, shared/CGNAT, or an IPv4-mapped/6to4/NAT64
form of one of those); literal IPs likewise. :class:`GuardedTransport` resolves and checks the
host again at connect time and connects to the address it checked, so a DNS answer that changes
between the check and the connect (rebinding) cannot reach a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal

import httpcore
import httpx

from chalicelib.adapters.outbound.bounded import DeadlineBackend

Resolver = Callable[[str], list[str]]
"""Host name -> its IP addresses as strings (the default wraps ``socket.getaddrinfo``)."""

FetchRefusalReason = Literal[
    "bad_url",
    "scheme",
    "port_not_allowed",
    "host_not_allowed",
    "dns_failure",
    "private_address",
    "too_many_redirects",
    "http_status",
    "not_an_image",
    "too_large",
    "bad_data_uri",
    "timeout",
    "connection",
]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchRefused(Exception):
    """The download was refused or failed; ``reason`` says why (never the URL: it may be signed)."""

    def __init__(
        self, reason: FetchRefusalReason, message: str | None = None, *, status_code: int | None = None
    ) -> None:
        super().__init__(message or reason.replace("_", " "))
        self.reason: FetchRefusalReason = reason
        self.status_code = status_code


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def system_resolver(host: str) -> list[str]:
    """Every address ``getaddrinfo`` knows for ``host`` (both families), without duplicates."""
    infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def host_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    """True if ``host`` equals an entry, or is a subdomain of a ``*.suffix`` entry."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return False
    for entry in allowed_hosts:
        pattern = entry.strip().lower().rstrip(".")
        if pattern.startswith("*."):
            suffix = pattern[1:]  # ".fal.media": the bare domain itself needs its own entry
            if len(suffix) > 1 and host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif pattern and "*" not in pattern and host == pattern:
            return True
    return False


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for a globally routable unicast address (and not a disguised private one)."""
    if isinstance(address, str):
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
    else:
        ip = address
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judge the IPv4 address too.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.append(ip.teredo[1])
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(not is_public_address(inner) for inner in embedded):
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
            # fec0::/10 (deprecated site-local): ``is_global`` still says True for it.
            or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        )
    )


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _checked_addresses(host: str, resolver: Resolver) -> list[str]:
    """The addresses of ``host`` if every one of them is public; raises :class:`FetchRefused`."""
    literal = _literal_ip(host)
    if literal is not None:
        if not is_public_address(literal):
            raise FetchRefused("private_address", "the host is a non-public IP address")
        return [str(literal)]
    try:
        addresses = list(resolver(host))
    except (OSError, UnicodeError, ValueError):
        raise FetchRefused("dns_failure", "the host does not resolve") from None
    if not addresses:
        raise FetchRefused("dns_failure", "the host does not resolve")
    if any(not is_public_address(address) for address in addresses):
        raise FetchRefused("private_address", "the host resolves to a non-public address")
    return addresses


def _host_of(url: httpx.URL) -> str:
    # raw_host is the IDNA (ASCII) form, which is what the allowlist and DNS see.
    return url.raw_host.decode("ascii", errors="replace").strip("[]").lower().rstrip(".")


def _check_destination(url: httpx.URL, allowed_hosts: Collection[str], resolver: Resolver) -> None:
    if url.scheme != "https":
        raise FetchRefused("scheme", "only https URLs are fetched")
    if url.userinfo:
        raise FetchRefused("bad_url", "credentials in the URL are not accepted")
    host = _host_of(url)
    if not host:
        raise FetchRefused("bad_url", "the URL has no host")
    if url.port not in (None, 443):
        raise FetchRefused("port_not_allowed", "only the default https port is fetched")
    literal = _literal_ip(host)
    if literal is not None and not is_public_address(literal):
        raise FetchRefused("private_address", "the host is a non-public IP address")
    if not host_allowed(host, allowed_hosts):
        raise FetchRefused("host_not_allowed", f"host {host!r} is not on the allowlist")
    _checked_addresses(host, resolver)


# --------------------------------------------------------------------------------------------
# Connect-time guard
# --------------------------------------------------------------------------------------------


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves and checks the host when connecting, then connects to a checked address."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver
        self._inner = DeadlineBackend()  # every socket operation within the call's deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in _checked_addresses(host, self._resolver):
            try:
                # TLS still verifies the certificate against the host name (httpcore passes the
                # origin's host as server_hostname), so connecting by address loses nothing.
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        if last_error is None:  # unreachable: _checked_addresses never returns an empty list
            raise FetchRefused("dns_failure", "the host does not resolve")
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise FetchRefused("scheme", "unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An :class:`httpx.HTTPTransport` whose connections only ever reach public addresses."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        super().__init__(trust_env=False)
        # Swap the pool for one with the guarded backend; everything else is httpx's default.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(resolver or system_resolver),
        )
