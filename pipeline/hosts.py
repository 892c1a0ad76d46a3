"""URL hosts read as the WHATWG URL Standard reads them, once, for everyone.

The dedup key (:mod:`pipeline.urls`), the fetcher's request target and the SSRF
guard (:mod:`connectors.http`) all take a URL's host from :func:`url_host`. A
host two of them read differently is a hole: a guard that took ``0x7f.1`` for a
name while the connection went to 127.0.0.1 would let a feed reach loopback, and
a key that kept ``0x7f.1`` while the fetcher asked for ``127.0.0.1`` gave one
page two keys. The reading is the browsers' (the URL Standard's host parser for
http and https), so a link means here what it means to the reader who clicks it:

- ``[...]`` is an IPv6 address, written compressed and lower case (RFC 5952);
  a zone (``%eth0``) names an interface of the reading machine and is refused;
- percent-escapes are decoded first (``%65xample.com`` is ``example.com``);
- international names are mapped and encoded by UTS #46 / IDNA2008 (the
  :mod:`idna` package), and an ``xn--`` label must be valid Punycode of a valid
  label;
- a host whose last label is a number is an IPv4 address in any spelling
  ``inet_aton`` accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``),
  written as a dotted quad; one that is not a valid address is refused.

Two rules are this project's, not the standard's: a domain's trailing dot is
dropped (``example.com.`` is ``example.com``: one name for the key, politeness,
``Host`` and TLS), and a domain may only hold ``a-z``, ``0-9``, ``-``, ``_``
and non-empty labels, where the standard lets through ``!$&'()*+,;=~`` and more.

:func:`host_and_port`, the reading of a whole URL's host and port that the key, the
config and the fetcher share, adds what a connection needs: no port 0, and no label that
begins or ends with ``-`` (browsers read ``-a.example``; DNS has no such name).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import SplitResult, unquote

import idna

from pipeline.errors import excerpt

_DOMAIN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_ACE_PREFIX = "xn--"
_HEX = frozenset("0123456789abcdefABCDEF")
_HYPHEN_AT_EDGE = re.compile(r"(?:^|\.)-|-(?:\.|$)")


def host_and_port(parts: SplitResult) -> tuple[str, int | None]:
    """The :func:`url_host` and the port of a split http(s) URL, None for no port; ValueError
    for a host or port no request can go to.

    One reading for the dedup key, :func:`~pipeline.urls.is_http_url`, a feed's URL in the
    config and the fetcher's target, so none of them takes a URL another refuses. Port 0 is
    refused with the ports past 65535 (``urlsplit``'s check): nothing can be connected to on
    it (``http.client`` even took it for "no port" and asked port 80). A name must also be
    one DNS can be asked for (no label begins or ends with ``-``).

    >>> from urllib.parse import urlsplit
    >>> host_and_port(urlsplit("http://0x7f.1:8080/")), host_and_port(urlsplit("http://a.b/"))
    (('127.0.0.1', 8080), ('a.b', None))
    """
    host = _dns_name(url_host(netloc_host(parts.netloc)))
    port = parts.port
    if port == 0:
        raise ValueError("port 0 cannot be connected to")
    return host, port


def _dns_name(host: str) -> str:
    """``host`` (a :func:`url_host`) if a resolver can be asked for it; ValueError for a name
    with a label that begins or ends with ``-`` (``-a.example``), which browsers read but
    no DNS name has: the fetcher refused it while the key kept it."""
    if "-" in host and _HYPHEN_AT_EDGE.search(host):
        raise ValueError(
            f"host {excerpt(host)!r}: no DNS name has a label that begins or ends with '-'"
        )
    return host


def netloc_host(netloc: str) -> str:
    """The host of a URL's authority as written (brackets kept), for :func:`url_host`.

    ``urlsplit``'s ``hostname`` drops the brackets, after which ``[v1.x]`` (not an
    IPv6 address) and ``v1.x`` (a name) could not be told apart.
    """
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1] or hostport
    return hostport.partition(":")[0]


def url_host(host: str) -> str:
    """The canonical ASCII form of ``host`` as written in an http(s) URL; ValueError if invalid.

    An IPv6 address keeps its brackets (``[::1]``), as in a URL.

    >>> url_host("[0:0::1]"), url_host("0x7f.1"), url_host("B%C3%BCcher.example.")
    ('[::1]', '127.0.0.1', 'xn--bcher-kva.example')
    """
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"unclosed IPv6 address {excerpt(host)!r}")
        return f"[{_ipv6(host[1:-1])}]"
    if "%" in host:
        host = unquote(host, errors="replace")  # U+FFFD for bad UTF-8: no IDNA label takes it
    domain = host.lower()
    if not host.isascii() or _ACE_PREFIX in domain:  # else nothing to map, decode or check
        domain = _domain_to_ascii(host)
    domain = domain.rstrip(".")
    last = domain[domain.rfind(".") + 1 :]
    if last.isdigit() or last.startswith("0x"):  # no call for the common case, a name
        address = parse_ipv4(domain)
        if address is not None:
            return str(address)
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"invalid host {excerpt(host)!r}" if domain else "empty host")
    return domain


ALLOWED_HOST_RULE = "a host name, an IP address or *.domain (no scheme, port or path)"
"""What an entry of ``fetch.allowed_hosts`` may be: what the SSRF guard matches."""


def allowed_host(entry: str) -> str:
    """A ``fetch.allowed_hosts`` entry as the SSRF guard matches it; ValueError if it
    could never match.

    A host is read as a URL's host is (:func:`url_host`; an IPv6 address with or without
    brackets, kept without, as the fetcher's target has it), so ``Bücher.Intranet.``,
    ``127.1`` and ``0:0::1`` exempt the hosts URLs naming them are fetched from.
    ``*.domain`` exempts every name under ``domain`` (not ``domain`` itself), so it must
    be a domain, not an address.

    >>> allowed_host("Bücher.Intranet."), allowed_host("127.1"), allowed_host("*.CORP.example")
    ('xn--bcher-kva.intranet', '127.0.0.1', '*.corp.example')
    """
    text = entry.strip()
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    if ":" in name and not name.startswith("[") and _is_ipv6(name):
        name = f"[{name}]"
    shown = excerpt(entry)
    try:
        host = _dns_name(url_host(name))
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not {ALLOWED_HOST_RULE}: {exc}") from None
    if host.startswith("["):
        host = host[1:-1]
    if wildcard and (":" in host or parse_ipv4(host) is not None):
        raise ValueError(
            f"{shown!r} is not {ALLOWED_HOST_RULE}: a wildcard covers the names under a domain,"
            " not an address"
        )
    return f"*.{host}" if wildcard else host


SERVICE_HOST_RULE = "a host name or IP address (no scheme, port, path or wildcard)"
"""What an entry of ``service.http_allowed_hosts`` may be: what a ``Host`` header names."""


def service_host(entry: str) -> str:
    """A ``service.http_allowed_hosts`` entry as :func:`header_host` reads a ``Host``
    header; ValueError naming the entry if no header could match it.

    The same reading as :func:`allowed_host` (IPv6 with or without brackets, kept without),
    minus the wildcard, so ``Bücher.example`` matches the ``xn--bcher-kva.example`` a
    browser sends and ``127.1`` the ``127.0.0.1``.

    >>> service_host("Bücher.Example."), service_host("[0:0::1]"), service_host("127.1")
    ('xn--bcher-kva.example', '::1', '127.0.0.1')
    """
    if entry.strip().startswith("*"):
        raise ValueError(f"{excerpt(entry)!r} is not {SERVICE_HOST_RULE}")
    try:
        return allowed_host(entry)
    except ValueError as exc:
        raise ValueError(str(exc).replace(ALLOWED_HOST_RULE, SERVICE_HOST_RULE)) from None


_PORT = re.compile(r"(?::[0-9]*)?")


def header_host(header: str) -> str | None:
    """The host a ``Host`` header names, read as :func:`service_host` reads a config entry
    (IPv6 without brackets), any port dropped; None for a value that is not a host.

    >>> header_host("B%C3%BCcher.example.:8080"), header_host("[0:0::1]"), header_host("a@b")
    ('xn--bcher-kva.example', '::1', None)
    """
    text = header.strip()
    if "@" in text:
        return None
    host = netloc_host(text)
    if not _PORT.fullmatch(text[len(host) :]):
        return None
    try:
        name = url_host(host)
    except ValueError:
        return None
    return name[1:-1] if name.startswith("[") else name


def parse_ipv4(host: str) -> IPv4Address | None:
    """The IPv4 address ``host`` spells, or None when its last label is not a number.

    Every spelling ``inet_aton`` and browsers accept: 1 to 4 parts, each decimal,
    octal with a leading 0 or hex with 0x, the last filling the remaining bytes;
    one trailing dot allowed. Raises ValueError for a host that ends in a number
    but is no address (``1.2.3.256``, ``example.123``): no resolver may be asked.

    >>> parse_ipv4("0x7f.1"), parse_ipv4("2130706433"), parse_ipv4("news.example")
    (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'), None)
    """
    if host.endswith("."):
        host = host[:-1]
    if not _is_number(host.rpartition(".")[2]):
        return None
    parts = host.split(".")
    if len(parts) > 4:
        raise ValueError(f"{excerpt(host)!r} ends in a number but has more than 4 parts")
    values = [_ipv4_number(part, host) for part in parts]
    *leading, final = values
    if any(value > 255 for value in leading) or final >= 256 ** (5 - len(values)):
        raise ValueError(f"{excerpt(host)!r} looks like an IPv4 address but a part is out of range")
    packed = 0
    for value in leading:
        packed = packed << 8 | value
    return IPv4Address(packed << (8 * (5 - len(values))) | final)


def _is_number(label: str) -> bool:
    """The URL Standard's "ends in a number" test for one label: all digits, or 0x and hex."""
    if label.isdigit():
        return label.isascii()
    return label[:2] in ("0x", "0X") and all(c in _HEX for c in label[2:])


def _ipv4_number(part: str, host: str) -> int:
    """One part: decimal, octal after a leading 0, hex after 0x (``0x`` alone is 0)."""
    digits, base = part, 10
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    # int() alone would also take "+1", " 1", "1_0" and non-ASCII digits
    if part and (not digits or (digits.isascii() and digits.isalnum())):
        try:
            return int(digits or "0", base)
        except ValueError:
            pass
    raise ValueError(f"{excerpt(host)!r} ends in a number but {excerpt(part, 20)!r} is none")


def _is_ipv6(text: str) -> bool:
    try:
        IPv6Address(text)
    except ValueError:
        return False
    return True


def _ipv6(text: str) -> str:
    if "%" in text:
        raise ValueError("an IPv6 zone (%...) names a local network interface")
    try:
        return IPv6Address(text).compressed
    except ValueError:
        raise ValueError(f"invalid IPv6 address {excerpt(text)!r}") from None


def _domain_to_ascii(host: str) -> str:
    """UTS #46 ToASCII (non-transitional, as browsers): lower case, mapped, ``xn--`` labels."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        return ".".join(_ascii_label(label) for label in mapped.split("."))
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(
            f"invalid international host {excerpt(host)!r}: {excerpt(str(exc))}"
        ) from None


def _ascii_label(label: str) -> str:
    if label.startswith(_ACE_PREFIX):
        if idna.alabel(idna.ulabel(label)).decode("ascii") != label:
            raise idna.IDNAError(f"{label!r} is not the Punycode of a valid label")
        return label
    return label if label.isascii() else idna.alabel(label).decode("ascii")
