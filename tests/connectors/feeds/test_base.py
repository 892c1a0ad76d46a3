"""cut_long_fields: over-long short fields cost themselves, not their feed, in bounded time."""

from __future__ import annotations

import time

import pytest

from connectors.feeds import FeedLimits, parse_feed
from connectors.feeds.base import HINT_FIELD_CHARS, cut_long_fields
from pipeline.config import FeedConfig

FEED = FeedConfig(name="long-fields", url="https://example.com/feed")
LIMITS = FeedLimits()


def rss(*items: str) -> bytes:
    return f'<rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'.encode()


def item(i: int, extra: str) -> str:
    return f"<item><title>Story {i}</title><link>https://example.com/{i}</link>{extra}</item>"


def test_a_feed_of_megabyte_authors_is_kept_without_its_authors_in_bounded_time() -> None:
    """Each author over the cap refused the whole feed (field_too_long), every entry lost."""
    author = "a." * 500_000
    body = rss(*(item(i, f"<author>{author}</author>") for i in range(40)))

    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)

    assert time.perf_counter() - started < 2  # 40 MB: ~0.2 s
    assert [e.url for e in parsed.entries] == [f"https://example.com/{i}" for i in range(40)]
    assert all(e.authors == [] and e.title for e in parsed.entries)
    assert parsed.fields_cut == 40


def test_fields_within_their_caps_are_left_as_written() -> None:
    body = rss(
        item(1, f"<author>{'a' * 1000}</author><category>{'c' * HINT_FIELD_CHARS}</category>"),
        item(2, "<author>me@example.com (Me)</author><pubDate/><guid isPermaLink='false'>g</guid>"),
    )
    assert cut_long_fields(body, LIMITS) == (body, 0)


def test_an_over_long_field_is_emptied_and_the_rest_of_the_document_kept() -> None:
    body = rss(
        item(1, f"<dc:creator>{'x' * 1001}</dc:creator><description>d</description>"),
        item(2, f"<title>{'t' * (HINT_FIELD_CHARS + 1)}</title>"),
    )
    cut, count = cut_long_fields(body, LIMITS)
    assert count == 2
    assert cut == rss(
        item(1, "<dc:creator></dc:creator><description>d</description>"),
        item(2, "<title></title>"),
    )


def test_a_field_without_an_end_tag_is_measured_to_the_next_tag() -> None:
    body = rss(item(1, f"<author>{'x' * 2000}<description>d</description>"), item(2, ""))
    cut, count = cut_long_fields(body, LIMITS)
    assert count == 1
    assert cut == rss(item(1, "<author><description>d</description>"), item(2, ""))


def test_many_unclosed_fields_cost_one_pass_not_one_each() -> None:
    """Each unclosed field looks for its end tag to the end of the document: remembered,
    not searched again (5,000 of them in 11 MB: minutes, searched each time)."""
    body = rss(*(item(i, f"<name>{'n' * 2000}<x/>") for i in range(5000)))
    started = time.perf_counter()
    _, count = cut_long_fields(body, LIMITS)
    assert time.perf_counter() - started < 1
    assert count == 5000


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_wide_document_is_cut_as_text_and_keeps_its_encoding(encoding: str) -> None:
    long_name = "\u00e9" * 2000
    text = rss(item(1, f"<author>{long_name}</author>"), item(2, "<author>B</author>"))
    body = text.decode().replace("<rss", f'<?xml version="1.0" encoding="{encoding}"?><rss')
    parsed = parse_feed(body.encode(encoding), feed=FEED, base_url=FEED.url)
    assert [(e.url, e.authors) for e in parsed.entries] == [
        ("https://example.com/1", []), ("https://example.com/2", ["B"])
    ]  # fmt: skip
    assert parsed.fields_cut == 1


def test_an_end_tag_inside_a_comment_does_not_end_the_field() -> None:
    """``<author>a<!-- </author> -->`` and 40,000 characters: measured to the commented
    end tag, the author was kept, and feedparser read all of it (minutes)."""
    author = "a<!-- </author> -->" + "a." * 20_000
    body = rss(item(1, f"<author>{author}</author>"))
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert time.perf_counter() - started < 1
    assert [(e.url, e.authors) for e in parsed.entries] == [("https://example.com/1", [])]
    assert parsed.fields_cut == 1


def test_a_field_tag_in_a_cdata_description_is_text_not_a_field() -> None:
    """A ``<link>`` of the HTML in a CDATA description was taken for a field that ended
    at the next item's ``</link>``: the over-long author between them was skipped."""
    html = '<p>Hi</p><link rel="stylesheet" href="/s.css">'
    body = rss(
        item(1, f"<description><![CDATA[{html}]]></description><author>{'a.' * 20_000}</author>"),
        item(2, "<author>B</author>"),
    )
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert time.perf_counter() - started < 1
    assert [(e.authors, e.summary) for e in parsed.entries] == [([], "Hi"), (["B"], None)]
    assert parsed.fields_cut == 1


def test_fields_of_items_over_the_entry_cap_are_not_counted_as_cut() -> None:
    body = rss(*(item(i, f"<author>{'x' * 2000}</author>") for i in range(5)))
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url, limits=FeedLimits(max_entries=2))
    assert (len(parsed.entries), parsed.fields_cut, parsed.dropped) == (2, 2, {"over_cap": 3})
