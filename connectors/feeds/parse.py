"""``parse_feed``: one entry point for every feed kind, detected from the content.

::

    parsed = parse_feed(response.body, feed=feed, base_url=response.url)
    for entry in parsed.entries:        # FeedEntry, canonical http(s) URLs
        ...

Gzip bodies (``sitemap.xml.gz``) are decompressed with a cap first. The
configured ``kind`` forces a parser, but an HTML page or an empty body is
refused whatever the config says. Every failure is a :class:`FeedError` with a
``reason`` and counted in ``newsflow_feed_parse_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Counter

from connectors.feeds import jsonfeed, rss_atom, sitemap
from connectors.feeds.base import GZIP_MAGIC, FeedLimits, ParsedFeed, gunzip_bounded
from connectors.feeds.detect import SniffedKind, sniff_kind
from pipeline.config import FeedConfig
from pipeline.errors import FeedError

PARSED = Counter(
    "newsflow_feed_documents_parsed_total", "Feed documents parsed, by kind.", ["kind"]
)
PARSE_ERRORS = Counter(
    "newsflow_feed_parse_errors_total", "Feed documents refused, by reason.", ["reason"]
)
DROPPED = Counter(
    "newsflow_feed_links_dropped_total",
    "Feed entries left out (not http(s), no link, over the cap...), and over-long fields"
    " of entries kept emptied (field_too_long), by feed and reason.",
    ["feed", "reason"],
)

log = logging.getLogger(__name__)

DATES_IGNORED = Counter(
    "newsflow_feed_dates_ignored_total",
    "Entry dates left out as implausible (before 1990, or over a day ahead).",
)

_FORCED: dict[str, SniffedKind] = {
    "rss": "rss",
    "atom": "atom",
    "jsonfeed": "jsonfeed",
    "sitemap": "sitemap",
    "warc": "warc",
}


def parse_feed(
    body: bytes,
    *,
    feed: FeedConfig,
    base_url: str,
    kind: str = "auto",
    limits: FeedLimits | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse one fetched feed document into entries; raise :class:`FeedError` when it cannot."""
    try:
        parsed = _parse(body, feed, base_url, kind, limits or FeedLimits(), content_type)
    except FeedError as exc:
        PARSE_ERRORS.labels(exc.reason).inc()
        raise
    PARSED.labels(parsed.kind).inc()
    for reason, count in parsed.dropped.items():
        DROPPED.labels(feed.name, reason).inc(count)
    if parsed.fields_cut:
        DROPPED.labels(feed.name, "field_too_long").inc(parsed.fields_cut)
    _say_dropped(feed, parsed.dropped, parsed.fields_cut)
    DATES_IGNORED.inc(parsed.dates_ignored)
    return parsed


def _say_dropped(feed: FeedConfig, dropped: dict[str, int], fields_cut: int = 0) -> None:
    """One line per document that left links out or emptied over-long fields (not one per
    entry: a feed of 2,000 megabyte authors is one warning): ``javascript:`` or ``file:``
    links left a feed's entries missing without a word. A warning when links were
    unusable or fields cut; only over the cap (a long feed), information."""
    if not any(dropped.values()) and not fields_cut:
        return
    counted = {**dropped, "field_too_long": fields_cut}
    counts = ", ".join(f"{count} {reason}" for reason, count in sorted(counted.items()) if count)
    said = [f"{sum(dropped.values())} entries left out"] if any(dropped.values()) else []
    said += [f"{fields_cut} over-long fields emptied"] if fields_cut else []
    level = logging.INFO if set(dropped) <= {"over_cap"} and not fields_cut else logging.WARNING
    log.log(
        level,
        "feed %s: %s (%s; newsflow_feed_links_dropped_total)",
        feed.name,
        ", ".join(said),
        counts,
        extra={
            "feed": feed.name,
            "event": "feed_links_dropped",
            "count": sum(dropped.values()),
            "fields_cut": fields_cut,
        },
    )


def _parse(
    body: bytes,
    feed: FeedConfig,
    base_url: str,
    kind: str,
    limits: FeedLimits,
    content_type: str | None,
) -> ParsedFeed:
    if len(body) > limits.max_bytes:
        raise FeedError(
            f"feed is larger than {limits.max_bytes} bytes", feed=feed.name, reason="too_large"
        )
    if body.startswith(GZIP_MAGIC):
        body = gunzip_bounded(body, feed=feed, max_bytes=limits.max_bytes)
    sniffed = sniff_kind(body, feed_name=feed.name)
    chosen = _FORCED.get(kind, sniffed) if kind != "auto" else sniffed
    return _parser_for(chosen, feed, content_type)(
        body, feed=feed, base_url=base_url, limits=limits
    )


def _parser_for(
    kind: SniffedKind, feed: FeedConfig, content_type: str | None
) -> Callable[..., ParsedFeed]:
    if kind in ("rss", "atom"):
        return lambda body, **kw: rss_atom.parse(body, content_type=content_type, **kw)
    if kind == "jsonfeed":
        return jsonfeed.parse
    if kind == "sitemap":
        return sitemap.parse
    raise FeedError(
        "a WARC file is read with iter_warc_entries, not fetched and parsed as a feed",
        feed=feed.name,
        reason="warc_not_polled",
    )
