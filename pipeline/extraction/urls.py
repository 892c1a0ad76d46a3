"""Which publisher a URL belongs to, and which canonical link to trust.

A source is the registrable domain (``news.bbc.co.uk`` -> ``bbc.co.uk``), from
the Public Suffix List that courlan (a trafilatura dependency) ships offline;
hosts it cannot place (IP addresses, reserved names such as ``.example``)
fall back to the host name without ``www.``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from courlan import extract_domain

from pipeline.errors import InputError
from pipeline.hosts import netloc_host, url_host
from pipeline.urls import canonicalize_url, strip_mobile_prefix

_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HEAD_END = re.compile(r"</head\s*>|<body\b", re.IGNORECASE)
HEAD_SCAN_LIMIT = 256 * 1024  # a canonical link past this is not in any real <head>


def source_of(url: str) -> str:
    """The publisher's domain: registrable domain, else the host without ``www.``; "" when
    ``url`` has no valid host.

    The host is the one the dedup key reads (:func:`pipeline.hosts.url_host`, less a mobile
    prefix), so ``http://0x7f.1/`` is from ``127.0.0.1`` and ``http://m.News.Example%2Ecom./``
    from ``example.com``, as their keys say. An AMP cache or viewer URL is from the cache
    (the host it is fetched from); its key, once unwrapped, names the publisher.

    >>> source_of("https://www.example.com/a"), source_of("https://news.bbc.co.uk/b")
    ('example.com', 'bbc.co.uk')
    """
    try:
        return _source_of_written(netloc_host(urlsplit(url).netloc))
    except ValueError:  # not a URL with a valid host at all
        return ""


@lru_cache(maxsize=4096)
def _source_of_written(written: str) -> str:
    """The source of a host as written in a URL; cached with it, so the host reading
    (~2 us) is paid once per spelling, not once per article."""
    if not written:
        return ""
    return source_of_host(strip_mobile_prefix(url_host(written)).strip("[]"))


@lru_cache(maxsize=4096)
def source_of_host(host: str) -> str:
    """:func:`source_of` for a host name. Only the host decides the source, and a
    crawl meets the same few hosts again and again: the Public Suffix List lookup
    (~0.1 ms through courlan and tld) is made once per host, not once per article."""
    authority = f"[{host}]" if ":" in host else host  # an IPv6 address
    registrable = extract_domain(f"http://{authority}/")
    return registrable or host.removeprefix("www.")


def same_site(a: str, b: str) -> bool:
    return bool(source_of(a)) and source_of(a) == source_of(b)


def canonical_link(html: str) -> str | None:
    """The ``href`` of the first ``<link rel="canonical">`` in the page head, if any."""
    end = _HEAD_END.search(html, 0, HEAD_SCAN_LIMIT)
    head = html[: end.start() if end else HEAD_SCAN_LIMIT]
    for tag in _LINK_TAG.finditer(head):
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _ATTR.finditer(tag.group(0))
        }
        if "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            return attrs["href"].strip()
    return None


def choose_canonical(html: str, url: str) -> str:
    """The page's canonical link, canonicalised, when it points to the same site, else
    the fetched URL.

    The link is spelt the way feed links are (:func:`~pipeline.urls.canonicalize_url`):
    sites echo a reader's ``utm_*`` or ``fbclid`` into it, and the article id is made
    from this URL, so the same article must not get one id per campaign. A canonical
    link to another site (a syndication partner, a CMS mistake) would merge this page's
    identity into someone else's, so it is not trusted; the site is judged after
    canonicalisation, on the URL that is kept (an AMP viewer link names its publisher
    only once unwrapped).
    """
    href = canonical_link(html)
    if not href:
        return url
    try:
        candidate = canonicalize_url(href, base=url)
    except InputError:  # not http(s), or not a URL at all ("http://[::1")
        return url
    return candidate if same_site(candidate, url) else url
