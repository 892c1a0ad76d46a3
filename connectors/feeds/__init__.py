"""Feed connectors: RSS/Atom, JSON Feed, sitemaps and WARC backfills, behind one interface.

::

    from connectors.feeds import parse_feed, iter_warc_entries

    parsed = parse_feed(body, feed=feed, base_url=url)   # kind detected from the content
    parsed.entries        # list[FeedEntry] with canonical http(s) URLs
    parsed.child_sitemaps # for a sitemap index

Every bad document is a :class:`~pipeline.errors.FeedError` with a ``reason``.
"""

from connectors.feeds.base import FeedLimits, ParsedFeed
from connectors.feeds.detect import sniff_kind
from connectors.feeds.parse import parse_feed
from connectors.feeds.warc import is_warc_feed, iter_warc_entries

__all__ = [
    "FeedLimits",
    "ParsedFeed",
    "is_warc_feed",
    "iter_warc_entries",
    "parse_feed",
    "sniff_kind",
]
