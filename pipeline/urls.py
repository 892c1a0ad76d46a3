"""URL canonicalisation: one spelling per article, so duplicates meet on the same key.

Feeds link to the same article in many spellings: relative links, upper-case
hosts, default ports, tracking parameters, AMP and mobile variants, different
percent-encodings. :func:`canonicalize_url` maps all of them to one::

    >>> canonicalize_url("HTTPS://M.Example.COM:443/news/amp/story/?utm_source=rss&b=2&a=1#top")
    'https://example.com/news/story?a=1&b=2'
    >>> canonicalize_url("../story?fbclid=x", base="https://example.com/news/today/")
    'https://example.com/news/story'

The rules, each idempotent so that ``canonicalize_url(canonicalize_url(u)) ==
canonicalize_url(u)``:

- the host as browsers read it (:func:`pipeline.hosts.url_host`): lower case,
  percent-escapes decoded, international names in IDNA (``xn--``) form, IPv4
  addresses as a dotted quad whatever their spelling (``0x7f.1``), IPv6
  compressed (``[::1]``); the trailing dot dropped;
- scheme lower-case; user info, default ports and the fragment dropped; port 0,
  which nothing can be connected to, refused as a port past 65535 is;
- path: dot segments removed, percent-escapes of unreserved characters decoded
  and the others upper-cased, unsafe characters encoded, no trailing slash
  except for the root;
- query: tracking parameters removed (see :data:`TRACKING_PARAMS`), the rest
  sorted;
- AMP and mobile variants mapped to the article: an ``amp`` path segment, a
  ``.amp`` suffix, ``?amp=1`` / ``outputType=amp``, ``amp.`` / ``m.`` /
  ``mobile.`` host prefixes, and AMP cache / viewer URLs
  (``*.cdn.ampproject.org/c/s/...``, ``google.com/amp/s/...``).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from pipeline.errors import InputError, excerpt
from pipeline.hosts import host_and_port, netloc_host

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "yclid",
        "gbraid",
        "wbraid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "__twitter_impression",
        "ref_src",
        "ref_url",
        "cmpid",
        "icid",
        "ocid",
        "ncid",
        "soc_src",
        "soc_trk",
    }
)
"""Query parameters that only say how a reader arrived (plus every ``utm_*``)."""

TRACKING_PREFIXES = ("utm_", "pk_campaign", "pk_kwd", "pk_source", "pk_medium")

SAFE_REF_VALUES = frozenset(
    {
        "rss",
        "feed",
        "feeds",
        "atom",
        "twitter",
        "tw",
        "facebook",
        "fb",
        "social",
        "share",
        "email",
        "newsletter",
        "nl",
        "hp",
        "homepage",
        "home",
        "nav",
        "menu",
        "sidebar",
        "header",
        "footer",
        "related",
        "recirc",
        "push",
        "app",
        "linkedin",
        "reddit",
        "whatsapp",
        "telegram",
        "flipboard",
        "newsnow",
        "google",
        "yahoo",
        "msn",
        "bing",
    }
)
"""Values of ``ref`` that name a referral source; other values may select content and stay."""

_REF_PREFIXES = ("twsrc", "rss", "feed", "newsletter", "social", "share", "email", "tw_", "fb_")

MOBILE_HOST_PREFIXES = ("amp.", "m.", "mobile.")
AMP_QUERY = {"amp": {"", "1", "true", "yes"}, "outputtype": {"amp"}}
_AMP_CACHE_HOST = re.compile(r"(^|\.)cdn\.ampproject\.org$")
_AMP_VIEWER_HOSTS = frozenset({"www.google.com", "google.com"})

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_QUERY_PART_SAFE = (_UNRESERVED | _SUB_DELIMS | frozenset(":@/?")) - frozenset("&=")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_MAX_URL_CHARS = 8192


def is_http_url(url: str) -> bool:
    """True when ``url`` is an absolute http(s) URL with a valid host and port (nothing else
    is fetched).

    Host and port are read as the key and the fetcher read them
    (:func:`pipeline.hosts.host_and_port`): ``http://example.123/`` has a host and
    ``http://example.com:0/`` a port ``urlsplit`` accepts but no key and no fetch would.
    """
    if not isinstance(url, str) or len(url) > _MAX_URL_CHARS:
        return False
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in HTTP_SCHEMES:
            return False
        host_and_port(parts)  # ValueError for a host or port no key or fetch takes
        return True
    except ValueError:
        return False


def canonicalize_url(url: str, base: str | None = None) -> str:
    """The canonical spelling of an http(s) URL; relative URLs are resolved against ``base``.

    Raises :class:`~pipeline.errors.InputError` (reason ``not_http`` or
    ``bad_url``) for anything that is not, or does not resolve to, an http(s)
    URL with a valid host.
    """
    text = (url or "").strip()
    if len(text) > _MAX_URL_CHARS:
        raise InputError(f"URL longer than {_MAX_URL_CHARS} characters", reason="bad_url")
    try:
        if base:
            text = urljoin(base.strip(), text)
        parts = urlsplit(text)
        return _canonical(parts)
    except ValueError as exc:
        raise InputError(
            f"not a valid URL: {excerpt(text)} ({excerpt(str(exc))})", reason="bad_url"
        ) from None


def _canonical(parts: SplitResult) -> str:
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise InputError(f"not an http(s) URL: {excerpt(parts.geturl())}", reason="not_http")
    if not netloc_host(parts.netloc):
        raise InputError(f"URL has no host: {excerpt(parts.geturl())}", reason="bad_url")
    host, port = host_and_port(parts)  # ValueError (bad_url) for what no fetch could take
    unwrapped = _unwrap_amp_cache(host, parts)
    if unwrapped is not None:
        return canonicalize_url(unwrapped)
    netloc = _netloc(strip_mobile_prefix(host), port, scheme)  # no address starts m.
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def strip_mobile_prefix(host: str) -> str:
    """``m.example.com`` -> ``example.com``, as long as a registrable-looking host remains."""
    changed = True
    while changed:
        changed = False
        for prefix in MOBILE_HOST_PREFIXES:
            rest = host[len(prefix) :]
            if host.startswith(prefix) and rest.count(".") >= 1:
                host, changed = rest, True
    return host


def _netloc(host: str, port: int | None, scheme: str) -> str:
    if port is None or port == DEFAULT_PORTS[scheme]:
        return host
    return f"{host}:{port}"


def _canonical_path(path: str) -> str:
    path = _normalize_escapes(path, _PATH_SAFE)
    path = _remove_dot_segments(path if path.startswith("/") else "/" + path)
    path = "/".join(s for s in path.split("/") if s.lower() != "amp")
    previous = None
    while path != previous:
        previous = path
        path = path.rstrip("/")
        if path.lower().endswith(".amp"):
            path = path[: -len(".amp")]
    return path if path.startswith("/") else "/" + path


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on segments."""
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _canonical_query(query: str) -> str:
    pairs: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = _normalize_escapes(name, _QUERY_PART_SAFE)
        value_n = _normalize_escapes(value, _QUERY_PART_SAFE) if eq else None
        if not _is_tracking(name, value_n):
            pairs.append((name, value_n))
    pairs.sort(key=lambda p: (p[0], p[1] is not None, p[1] or ""))
    return "&".join(name if value is None else f"{name}={value}" for name, value in pairs)


def _is_tracking(name: str, value: str | None) -> bool:
    key = name.lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    lowered = (value or "").lower()
    if key in AMP_QUERY:
        return lowered in AMP_QUERY[key]
    if key == "ref":
        return lowered in SAFE_REF_VALUES or lowered.startswith(_REF_PREFIXES)
    return False


def _normalize_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, encode unsafe characters."""
    if not _outside(safe).search(text):
        return text  # the common case: nothing to decode or encode, and no per-character loop
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            match = _ESCAPE.match(text, i)
            if match:
                decoded = chr(int(match.group(1), 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + match.group(1).upper())
                i += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


@functools.cache
def _outside(chars: frozenset[str]) -> re.Pattern[str]:
    """A pattern matching any character not in ``chars``."""
    return re.compile("[^" + "".join(sorted(f"\\U{ord(c):08x}" for c in chars)) + "]")


def _unwrap_amp_cache(host: str, parts: SplitResult) -> str | None:
    """The publisher URL inside an AMP cache or Google AMP viewer URL, if this is one.

    ``host`` is the URL's :func:`~pipeline.hosts.url_host`, so a cache host spelt
    ``CDN.ampproject%2Eorg.`` is the cache it names, as the fetcher would reach it.
    """
    path = parts.path
    if _AMP_CACHE_HOST.search(host):
        match = re.match(r"^/[cvi]/(s/)?([^/]+\.[^/]+)(/.*)?$", path)
    elif host in _AMP_VIEWER_HOSTS:
        match = re.match(r"^/amp/(s/)?([^/]+\.[^/]+)(/.*)?$", path)
    else:
        return None
    if not match:
        return None
    scheme = "https" if match.group(1) else "http"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{match.group(2)}{match.group(3) or '/'}{query}"
