"""Turn a URL string into the exact request the fetcher will send, or refuse it.

Everything later (SSRF guard, politeness, connection) works from the one
:class:`Target` parsed here, so no two parts of the fetcher can disagree about
which host a URL names; the host is read as the dedup key reads it
(:func:`pipeline.hosts.url_host`), so the page fetched is the page keyed.
Only ``http`` and ``https`` are accepted: ``file:``, ``ftp:``, ``data:``,
``javascript:`` and bare paths are refused with reason ``scheme``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

from pipeline.errors import FetchRefused, excerpt
from pipeline.hosts import host_and_port, netloc_host

DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class Target:
    """One http(s) request target: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str
    """:func:`~pipeline.hosts.url_host`: ASCII, lower case, an IPv4 address as a dotted quad,
    IPv6 compressed and without brackets."""
    port: int
    request_target: str
    """Path and query as sent on the request line (always starts with ``/``)."""

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """Parse ``url`` into a :class:`Target`; raise :class:`FetchRefused` when unusable."""
    shown = excerpt(url)
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        written = netloc_host(parts.netloc)
    except ValueError as exc:
        raise FetchRefused(
            f"invalid URL {shown!r}: {excerpt(str(exc))}", url=url, reason="invalid_url"
        ) from None
    if scheme not in DEFAULT_PORTS:
        given = f"{scheme}:" if scheme else "a URL without a scheme"
        raise FetchRefused(
            f"refused {shown!r}: only http and https are fetched, not {excerpt(given, 40)}",
            url=url,
            reason="scheme",
        )
    if not written:
        raise FetchRefused(f"invalid URL {shown!r}: no host", url=url, reason="invalid_url")
    host, port = _host_and_port(parts, url)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = f"?{quote(parts.query, safe=_QUERY_SAFE)}" if parts.query else ""
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=DEFAULT_PORTS[scheme] if port is None else port,
        request_target=path + query,
    )


def _host_and_port(parts: SplitResult, url: str) -> tuple[str, int | None]:
    """The URL's host and port as the dedup key reads them: port 0, once taken for "no
    port" and fetched on port 80, and a name no DNS has (``-a.example``) are refused by
    both."""
    try:
        host, port = host_and_port(parts)
    except ValueError as exc:
        raise FetchRefused(
            f"invalid URL {excerpt(url)!r}: {exc}", url=url, reason="invalid_url"
        ) from None
    return host.strip("[]"), port  # an IPv6 address without brackets, as Target.host has it
