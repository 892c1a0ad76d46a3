"""Sitemap salvage: entries outside the broken part of a document are kept."""

from __future__ import annotations

import time

import pytest

from connectors.feeds import parse_feed
from pipeline.config import FeedConfig

FEED = FeedConfig(name="sitemap", url="https://example.com/sitemap.xml")
NS = b"xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
NEWS = b" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'"


def urls(*names: str) -> bytes:
    return b"".join(f"<url><loc>https://example.com/{n}</loc></url>".encode() for n in names)


def names(body: bytes) -> list[str]:
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    return sorted(entry.url.rsplit("/", 1)[-1] for entry in parsed.entries)


@pytest.mark.parametrize(
    "head",
    [
        b"<?xml version='1.0' encoding='UTF-8'?>\x00junk<urlset " + NS + b">",
        b"<?xml version='1.0' encoding='no-such-encoding'?><urlset " + NS + b">",
        b"<urlset " + NS + b" broken=>",
        b"<urlset " + NS + NEWS + b" a='1' a='2'>",
    ],
    ids=["junk_in_prolog", "unknown_encoding", "broken_attribute", "repeated_attribute"],
)
def test_a_broken_prolog_or_root_tag_costs_no_entry(head: bytes) -> None:
    """Every piece was read after the broken head and failed: the sitemap was refused
    (malformed), every entry lost, though the break was outside them."""
    body = head + urls("a", "b") + b"</urlset>"
    assert names(body) == ["a", "b"]


def test_a_url_commented_out_is_not_read_when_another_part_is_broken() -> None:
    body = (
        b"<urlset " + NS + b">\x00" + urls("a") + b"<!-- " + urls("hidden") + b" -->"
        b"<![CDATA[" + urls("quoted") + b"]]>" + urls("b") + b"</urlset>"
    )
    assert names(body) == ["a", "b"]


def test_an_unclosed_comment_does_not_hide_the_entries_after_it() -> None:
    body = b"<urlset " + NS + b">" + urls("a") + b"<!-- oops " + urls("b", "c") + b"</urlset>"
    assert names(body) == ["a", "b", "c"]


def test_a_news_title_over_lxmls_text_limit_costs_the_title_not_the_entry() -> None:
    """A text node over 10 MB made lxml refuse the document; read piece by piece, the
    entry holding it was left out (bad_item)."""
    title = b"<news:news><news:title>" + b"x" * 11_000_000 + b"</news:title></news:news>"
    body = (
        b"<urlset " + NS + NEWS + b">" + urls("a")
        + b"<url><loc>https://example.com/t</loc>" + title + b"</url>" + urls("b") + b"</urlset>"
    )  # fmt: skip
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert time.perf_counter() - started < 2
    assert sorted(e.url for e in parsed.entries) == [
        "https://example.com/a", "https://example.com/b", "https://example.com/t"
    ]  # fmt: skip
    assert parsed.dropped == {} and parsed.fields_cut == 1
