"""Prometheus metrics of feed polling, labelled per feed (names ``newsflow_feed_...``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

POLLS = Counter("newsflow_feed_polls_total", "Feed polls, by outcome.", ["feed", "status"])
FAILURES = Counter(
    "newsflow_feed_failures_total", "Failed feed polls, by reason.", ["feed", "reason"]
)
ENTRIES = Counter("newsflow_feed_entries_total", "New entries a feed yielded.", ["feed"])
NOT_MODIFIED = Counter(
    "newsflow_feed_not_modified_total", "Polls answered 304 Not Modified.", ["feed"]
)
LAST_SUCCESS = Gauge(
    "newsflow_feed_last_success_timestamp_seconds", "When the feed was last polled fine.", ["feed"]
)
UNHEALTHY = Gauge(
    "newsflow_feed_unhealthy", "1 while a feed has failed too often in a row.", ["feed"]
)
CHILD_FAILURES = Counter(
    "newsflow_feed_child_sitemap_failures_total",
    "Child sitemaps of an index that could not be fetched or parsed, by reason.",
    ["feed", "reason"],
)
