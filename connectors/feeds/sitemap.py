"""Sitemaps: Google News sitemaps, plain ``<urlset>`` sitemaps, sitemap indexes, text sitemaps.

Parsed with lxml configured so that the document cannot reach outside itself
or blow up: no entity resolution, no DTD loading, no network, no huge-tree
mode (on top of :func:`~connectors.feeds.base.guard_xml`). Elements are matched
by local name, so sitemaps with missing or odd namespaces still parse.

A sitemap lists pages in no particular order, so when it has more than
``limits.max_entries`` the newest (by ``news:publication_date`` or
``lastmod``) are kept. An index yields no entries, only ``child_sitemaps``
(newest first); the poller fetches a bounded number of them.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from connectors.feeds.base import EntryBuilder, FeedLimits, ParsedFeed, guard_xml, parse_date
from pipeline.config import FeedConfig
from pipeline.errors import FeedError
from pipeline.urls import is_http_url

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def parse(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """Entries (or child sitemaps) of a sitemap document.

    Read as a stream: each ``<url>`` is let go once read, and only the newest
    entries are kept as it goes (:class:`EntryBuilder`), so a 45 MB sitemap of
    400,000 URLs does not become a 400,000-element tree (470 MB) in memory.
    """
    if body.lstrip()[:8].lower().startswith((b"http://", b"https://")):
        return _parse_text(body, feed=feed, base_url=base_url, limits=limits)
    guard_xml(body, feed=feed, limits=limits)
    builder = EntryBuilder(feed, "sitemap", base_url, limits, keep_order=False)
    children: list[tuple[datetime | None, str]] = []
    root: str | None = None
    read = etree.iterparse(
        io.BytesIO(body), events=("end",), tag=("{*}url", "{*}sitemap"), **_PARSER_OPTIONS
    )
    try:
        for _, element in read:
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # only <url> / <sitemap> elements right under the root
            root = root or etree.QName(parent).localname.lower()
            if root == "urlset":
                _add_url(builder, element)
            elif root == "sitemapindex":
                _add_child(builder, children, element, base_url)
            _let_go(element)
    except etree.XMLSyntaxError as exc:  # libxml2 may put a newline in its message
        problem = " ".join(str(exc).split())
        raise FeedError(f"malformed XML: {problem}", feed=feed.name, reason="malformed") from None
    name = root or _root_name(read)
    if name == "sitemapindex":
        children.sort(key=lambda c: (c[0] is None, -(c[0].timestamp() if c[0] else 0.0)))
        return builder.build(child_sitemaps=list(dict.fromkeys(url for _, url in children)))
    if name != "urlset":
        raise FeedError(
            f"not a sitemap: root element <{name}>", feed=feed.name, reason="unknown_format"
        )
    return builder.build()


def _root_name(read: Any) -> str:
    """The root element's name once ``read`` (an iterparse) is done: '' for none."""
    return etree.QName(read.root).localname.lower() if read.root is not None else ""


def _add_url(builder: EntryBuilder, url: etree._Element) -> None:
    news = url.find("{*}news")
    published = _date(news, "publication_date") if news is not None else None
    modified = _date(url, "lastmod")
    builder.add(
        _text(url, "loc"),
        title=_text(news, "title") if news is not None else None,
        published_at=published or modified,
        updated_at=modified,
    )


def _add_child(
    builder: EntryBuilder,
    children: list[tuple[datetime | None, str]],
    sitemap: etree._Element,
    base_url: str,
) -> None:
    loc = _text(sitemap, "loc")
    resolved = _child_url(loc, base_url)
    if resolved is None:
        builder.dropped["not_http" if loc else "no_link"] += 1
        return
    children.append((_date(sitemap, "lastmod"), resolved))


def _let_go(element: etree._Element) -> None:
    """Free a read element and the siblings before it (iterparse keeps the whole tree)."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _parse_text(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """A text sitemap: one absolute URL per line (sitemaps.org, "Text file")."""
    builder = EntryBuilder(feed, "sitemap", base_url, limits)
    for line in body.decode("utf-8", "replace").splitlines():
        if is_http_url(line.strip()):
            builder.add(line.strip())
        elif line.strip():
            builder.dropped["not_http"] += 1
    return builder.build()


def _child_url(loc: str | None, base_url: str) -> str | None:
    """A child sitemap's absolute URL, resolved but not canonicalised (its query matters)."""
    if not loc:
        return None
    try:
        url = urljoin(base_url, loc.strip()) if is_http_url(base_url) else loc.strip()
    except ValueError:  # "http://[::1": urljoin cannot split it
        return None
    return url if is_http_url(url) else None


def _text(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = element.find("{*}" + name)
    if child is None or child.text is None:
        return None
    return str(child.text).strip() or None


def _date(element: etree._Element | None, name: str) -> datetime | None:
    return parse_date(_text(element, name))
