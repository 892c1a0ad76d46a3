"""parse_feed's accounting: links left out and fields emptied, per feed, said once a document."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from connectors.feeds import parse_feed
from pipeline.config import FeedConfig


def dropped(feed: str, reason: str) -> float:
    labels = {"feed": feed, "reason": reason}
    return REGISTRY.get_sample_value("newsflow_feed_links_dropped_total", labels) or 0.0


def rss(items: str) -> bytes:
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_links_left_out_are_counted_per_feed() -> None:
    """The counter had no feed label: which feed lost its entries could not be told."""
    first, second = (FeedConfig(name=n, url=f"https://{n}.example.com/f") for n in ("p1", "p2"))
    body = rss("<item><link>javascript:x()</link></item><item><link>/ok</link></item>")
    before = dropped("p1", "not_http"), dropped("p2", "not_http")

    parse_feed(body, feed=first, base_url=first.url)
    parse_feed(body, feed=first, base_url=first.url)
    parse_feed(body, feed=second, base_url=second.url)

    assert (dropped("p1", "not_http"), dropped("p2", "not_http")) == (before[0] + 2, before[1] + 1)


def test_over_long_fields_are_counted_and_said_once_per_document(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = FeedConfig(name="authors", url="https://example.com/f")
    author = "x" * 5000
    items = "".join(f"<item><link>/{i}</link><author>{author}</author></item>" for i in range(300))
    body = rss(items + "<item><link>file:///etc/passwd</link></item>")
    before = dropped("authors", "field_too_long")
    caplog.set_level(logging.INFO, logger="connectors.feeds.parse")

    parsed = parse_feed(body, feed=feed, base_url=feed.url)

    assert len(parsed.entries) == 300
    assert dropped("authors", "field_too_long") == before + 300
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "feed authors: 1 entries left out, 300 over-long fields emptied"
        " (300 field_too_long, 1 not_http; newsflow_feed_links_dropped_total)"
    )
