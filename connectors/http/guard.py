"""The SSRF guard: decide which IP address a request may connect to.

A URL taken from a feed may point anywhere, including the metadata service of
the cloud the service runs in or a database on the private network. The guard
resolves the host itself, refuses the request when any address it resolves to
is not a public unicast address, and hands the fetcher the validated address
to connect to. Because the connection goes to that very address (the host name
only travels in the ``Host`` header and TLS SNI), a DNS answer that changes
between check and connect (DNS rebinding) cannot redirect it.

Odd spellings of addresses are read the way browsers and ``inet_aton`` read
them (``2130706433``, ``0x7f.1``, ``017700000001`` are all 127.0.0.1), by the
:mod:`pipeline.hosts` reading the fetcher's target and the dedup key use, and
IPv6 addresses that embed an IPv4 address (mapped, compatible, 6to4, NAT64)
are judged by the address they embed. Classification uses :mod:`ipaddress`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from pipeline.errors import FetchError, FetchRefused, excerpt
from pipeline.hosts import allowed_host, parse_ipv4

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolver(host, port) -> addresses``: the DNS lookup, injectable for tests."""

_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = IPv6Network("::/96")
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system (``getaddrinfo``), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a host string spells, if it is an address at all.

    IPv4 in every spelling browsers and ``inet_aton`` accept, read by the same
    :func:`~pipeline.hosts.parse_ipv4` that gives the fetcher and the dedup key
    their host, and IPv6. Raises :class:`ValueError` for a numeric-looking host
    that is not a valid address (``1.2.3.999``), since no resolver should be
    asked about it.

    >>> parse_ip_host("0x7f.1"), parse_ip_host("2130706433")
    (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'))
    >>> parse_ip_host("news.example") is None
    True
    """
    if ":" in host:
        return ip_address(host)
    return parse_ipv4(host.rstrip("."))


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for every embedding in use."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_TRANSLATED or any(address in net for net in _NAT64):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be connected to, or None for a public unicast address."""
    if isinstance(address, IPv6Address):
        if address.is_unspecified:
            return "unspecified"
        if address.is_loopback:
            return "loopback"
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = forbidden_reason(inner)
            return f"{reason}, embedded in {address}" if reason else None
        if address.is_site_local:
            return "site-local"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable (e.g. CGNAT)", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


class AddressGuard:
    """Resolve a host and return the addresses the fetcher may connect to.

    ``allow_private_networks`` switches the address check off (intranet feeds,
    tests); ``allowed_hosts`` exempts single hosts (``intranet.example``) or
    whole domains (``*.corp.example``), each read by :func:`~pipeline.hosts.allowed_host`
    as a URL's host is (ValueError for an entry that could never match; the config
    refuses it at load). Resolution is always done here, so the fetcher connects to
    exactly the addresses returned.
    """

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        allowed_hosts: Iterable[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allow_private = allow_private_networks
        entries = [allowed_host(h) for h in allowed_hosts]
        self._exact = {h for h in entries if not h.startswith("*.")}
        self._suffixes = tuple(h[1:] for h in entries if h.startswith("*."))
        self._resolver = resolver

    def addresses(self, host: str, port: int, *, url: str) -> list[IPAddress]:
        """Validated addresses for ``host``; raise :class:`FetchRefused` (reason ``ssrf``)."""
        shown_url = excerpt(url)
        try:
            literal = parse_ip_host(host)
        except ValueError as exc:
            raise FetchRefused(
                f"refused {shown_url!r}: {excerpt(str(exc))}", url=url, reason="invalid_url"
            ) from None
        addresses = [literal] if literal is not None else self._resolve(host, port, url)
        if self._allow_private or self._is_exempt(host):
            return addresses
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                shown = host if host == str(address) else f"{excerpt(host)} (= {address})"
                raise FetchRefused(
                    f"refused {shown_url!r}: {shown} is not a public address ({reason}); set "
                    "fetch.allow_private_networks or fetch.allowed_hosts to fetch it",
                    url=url,
                    reason="ssrf",
                )
        return addresses

    def _is_exempt(self, host: str) -> bool:
        name = host.rstrip(".")
        return name in self._exact or any(name.endswith(s) for s in self._suffixes)

    def _resolve(self, host: str, port: int, url: str) -> list[IPAddress]:
        try:
            found = [ip_address(a.split("%", 1)[0]) for a in self._resolver(host, port)]
        except Exception as exc:  # an injected resolver may raise anything: still one FetchError
            raise FetchError(
                f"cannot resolve host {excerpt(host)!r} of {excerpt(url)!r}: {excerpt(str(exc))}",
                url=url,
                reason="dns",
            ) from None
        if not found:
            raise FetchError(
                f"host {excerpt(host)!r} of {excerpt(url)!r} has no address", url=url, reason="dns"
            )
        return found
