"""Which media types each fetch purpose accepts, and the Accept header it sends.

A feed fetch wants XML or JSON (RSS, Atom, JSON Feed, sitemaps, gzipped
sitemaps), an article fetch wants HTML or text. Anything else (a PDF, a video,
an image) is refused with reason ``content_type`` before its body is read.
A feed served as ``text/html`` is common enough on misconfigured servers that
its body is sniffed: it passes when it starts like a feed.
"""

from __future__ import annotations

from enum import Enum

from connectors.http.base import Purpose
from pipeline.errors import FetchRefused, excerpt

ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.1",
    "article": "text/html, application/xhtml+xml;q=0.9, text/*;q=0.5",
    "robots": "text/plain, */*;q=0.1",
}

_FEED_WORDS = ("xml", "json", "rss", "atom")
_FEED_EXTRA = {"application/gzip", "application/x-gzip", "application/octet-stream"}
_ARTICLE_TYPES = {"application/xhtml+xml"}
_FEED_STARTS = (b"<?xml", b"<rss", b"<feed", b"<rdf:rdf", b"<urlset", b"<sitemapindex", b"{")


class Verdict(Enum):
    ACCEPT = "accept"
    SNIFF = "sniff"
    """Accept only if the body looks like a feed (HTML type on a feed fetch)."""


def judge_content_type(purpose: Purpose, content_type: str, *, url: str) -> Verdict:
    """Accept, sniff, or refuse (FetchRefused reason ``content_type``) a media type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or purpose == "robots":
        return Verdict.ACCEPT
    if purpose == "feed":
        if media == "text/html":
            return Verdict.SNIFF
        if any(w in media for w in _FEED_WORDS) or media.startswith("text/"):
            return Verdict.ACCEPT
        if media in _FEED_EXTRA:
            return Verdict.ACCEPT
    elif media.startswith("text/") or media in _ARTICLE_TYPES:
        return Verdict.ACCEPT
    raise refuse_content_type(purpose, media, url)


def looks_like_feed(body: bytes) -> bool:
    """True when the body starts like XML or JSON (after BOM and whitespace)."""
    head = body[:512].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(_FEED_STARTS)


_FETCH_NAMES: dict[Purpose, str] = {
    "feed": "a feed fetch",
    "article": "an article fetch",
    "robots": "a robots.txt fetch",
}
"""How a refusal names each purpose, with its indefinite article ("an article", not "a")."""


def refuse_content_type(purpose: Purpose, media: str, url: str) -> FetchRefused:
    return FetchRefused(
        f"refused {excerpt(url)!r}: {_FETCH_NAMES[purpose]} does not accept content type"
        f" {excerpt(media, 80)!r}",
        url=url,
        reason="content_type",
    )
