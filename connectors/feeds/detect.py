"""Which kind of feed a body is, from its content (the URL and Content-Type often lie).

Looks only at the start of the document: the first JSON character, or the
first XML element after the prolog (declaration, comments, DOCTYPE,
processing instructions)::

    >>> sniff_kind(b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    'rss'
    >>> sniff_kind(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}')
    'jsonfeed'

An HTML page, an empty body or something unrecognisable is a
:class:`~pipeline.errors.FeedError` with reason ``html_not_feed``,
``empty`` or ``unknown_format``.
"""

from __future__ import annotations

import re
from typing import Literal

from connectors.feeds.base import wide_text
from pipeline.errors import FeedError

SniffedKind = Literal["rss", "atom", "jsonfeed", "sitemap", "warc"]

HEAD_BYTES = 64 * 1024

_ROOTS: dict[str, SniffedKind] = {
    "rss": "rss",
    "rdf": "rss",
    "channel": "rss",  # RSS 0.9x fragments seen in the wild
    "feed": "atom",
    "urlset": "sitemap",
    "sitemapindex": "sitemap",
}
_HTML_ROOTS = frozenset({"html", "head", "body", "div", "p", "a", "title", "meta", "script"})
_MARKUP = re.compile(r"<(!--.*?-->|!\[CDATA\[|![^>]*>|\?.*?\?>|[A-Za-z_][\w:.-]*)", re.S)
_BOM = b"\xef\xbb\xbf"


def sniff_kind(body: bytes, *, feed_name: str = "feed") -> SniffedKind:
    """The kind of feed ``body`` holds; raises :class:`FeedError` for anything else."""
    head = _head_text(body)
    stripped = head.lstrip()
    if not stripped:
        raise FeedError("empty response body", feed=feed_name, reason="empty")
    if stripped[0] in "{[":
        return "jsonfeed"
    if stripped.startswith("WARC/"):
        return "warc"
    if stripped.lower().startswith(("http://", "https://")):
        return "sitemap"  # a plain-text sitemap: one URL per line
    root = first_element(stripped)
    if root is None:
        raise FeedError(
            "not a feed: no XML or JSON document found", feed=feed_name, reason="unknown_format"
        )
    local = root.rsplit(":", 1)[-1].lower()
    if local in _ROOTS:
        return _ROOTS[local]
    if local in _HTML_ROOTS or stripped[:15].lower().startswith("<!doctype html"):
        raise FeedError(
            "an HTML page was served instead of a feed", feed=feed_name, reason="html_not_feed"
        )
    raise FeedError(
        f"not a feed: unknown root element <{root}>", feed=feed_name, reason="unknown_format"
    )


def first_element(text: str) -> str | None:
    """The name of the first element, skipping declaration, comments, DOCTYPE and PIs."""
    for match in _MARKUP.finditer(text):
        token = match.group(1)
        if token.startswith(("!", "?")):
            if token.lower().startswith("!doctype html"):
                return "html"
            continue
        return token
    return None


def _head_text(body: bytes) -> str:
    head = body[:HEAD_BYTES]
    wide = wide_text(head[: len(head) // 4 * 4])
    if wide is not None:
        return wide
    return head.removeprefix(_BOM).decode("utf-8", "replace")
