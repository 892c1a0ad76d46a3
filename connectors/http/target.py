"""Turn a URL string into the exact request the fetcher will send, or refuse it.

Everything later (SSRF guard, politeness, connection) works from the one
:class:`Target` parsed here, so no two parts of the fetcher can disagree about
which host a URL names. Only ``http`` and ``https`` are accepted: ``file:``,
``ftp:``, ``data:``, ``javascript:`` and bare paths are refused with reason
``scheme``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from pipeline.errors import FetchRefused

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class Target:
    """One http(s) request target: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str
    """ASCII host, lower case, IPv6 without brackets."""
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
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        raw_host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"invalid URL {url!r}: {exc}", url=url, reason="invalid_url") from None
    if scheme not in DEFAULT_PORTS:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise FetchRefused(
            f"refused {url!r}: only http and https are fetched, not {shown}",
            url=url,
            reason="scheme",
        )
    if not raw_host:
        raise FetchRefused(f"invalid URL {url!r}: no host", url=url, reason="invalid_url")
    if port == 0:  # was taken for "no port": http://host:0/ fetched port 80
        raise FetchRefused(f"invalid URL {url!r}: port 0", url=url, reason="invalid_url")
    host = _ascii_host(raw_host, url)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = f"?{quote(parts.query, safe=_QUERY_SAFE)}" if parts.query else ""
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        request_target=path + query,
    )


def _ascii_host(raw_host: str, url: str) -> str:
    """IDNA-encode the host and refuse anything that is not a plausible host name."""
    if ":" in raw_host:  # an IPv6 literal; the guard validates it
        return raw_host.lower()
    try:  # "example.com." is "example.com": one name for politeness, Host and TLS
        host = raw_host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise FetchRefused(
            f"invalid URL {url!r}: host {raw_host!r} is not a valid domain name",
            url=url,
            reason="invalid_url",
        ) from None
    if not _HOSTNAME.match(host):
        raise FetchRefused(
            f"invalid URL {url!r}: host {raw_host!r} has characters a domain name cannot have",
            url=url,
            reason="invalid_url",
        )
    return host
