"""cut_long_fields: over-long short fields cost themselves, not their feed, in bounded time."""

from __future__ import annotations

import time

import pytest

from connectors.feeds import FeedLimits, parse_feed
from connectors.feeds.base import HINT_FIELD_CHARS, cut_long_fields, email_work
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
    authors = "Jane Doe, " * 100  # 1,000 characters of names: long, and cheap to read
    body = rss(
        item(1, f"<author>{authors}</author><category>{'c' * HINT_FIELD_CHARS}</category>"),
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


def atom(*entries: str) -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{"".join(entries)}</feed>'
    ).encode()


def entry(i: int, authors: str) -> str:
    link = f"https://example.com/{i}"
    return f"<entry><title>Story {i}</title><link href='{link}'/><id>{link}</id>{authors}</entry>"


WORST = "a" * 400 + "@" + "a." * 299
"""999 characters, under the length cap: feedparser's e-mail pattern took 19 ms on it."""

COSTLY_AUTHORS = {
    "letters": "<author>" + "a" * 999 + "</author>",
    "dotted": "<author>" + "a." * 499 + "</author>",
    "address_without_domain": f"<author>{WORST}</author>",
    "dc_creator": "<dc:creator>" + "a" * 999 + "</dc:creator>",
    "managing_editor": "<managingEditor>" + "a" * 999 + "</managingEditor>",
    "split_by_comments": "<author>" + ("a" * 90 + "<!---->") * 10 + "</author>",
    "split_by_cdata": "<author>" + ("a" * 90 + "<![CDATA[a]]>") * 9 + "</author>",
    "split_by_tags": "<author>" + ("a" * 90 + "<x/>") * 10 + "</author>",
    "split_by_references": "<author>" + ("a" * 90 + "&#97;") * 10 + "</author>",
    "ten_runs_of_64": "<author>" + " ".join(["a" * 64] * 10) + "</author>",
}


@pytest.mark.parametrize("author", COSTLY_AUTHORS.values(), ids=COSTLY_AUTHORS.keys())
def test_an_author_under_the_length_cap_but_costly_to_read_is_emptied(author: str) -> None:
    """Under 1,000 characters, an author of one long run of e-mail characters was read:
    feedparser's e-mail pattern took 8.4 ms an item on 999 letters (19 ms on ``WORST``),
    0.13 ms without an author; a feed of 2,000 such items cost 17 s a poll."""
    body = rss(*(item(i, author) for i in range(20))).replace(
        b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
    )
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert [e.url for e in parsed.entries] == [f"https://example.com/{i}" for i in range(20)]
    assert all(e.authors == [] and e.title for e in parsed.entries)
    assert (parsed.fields_cut, parsed.dropped) == (20, {})


@pytest.mark.parametrize(
    ("content", "work"),
    [
        (b"jane@example.com (Jane)", 16**2 + 4**2),
        (b"a<!-- -->a", 2**2),
        (b"a<x>a</x>a", 3**2),
        (b"a&#97;a", 7**2),  # read as "aaa": a reference counts as its characters
        (b"<![CDATA[a<!--]]>a-->", 1 + 5**2),  # the parser reads "a<!--a-->"
        (b"Jane Doe \xc3\xa9", 4**2 + 3**2),
    ],
)
def test_email_work_is_measured_on_the_text_the_parser_reads(content: bytes, work: int) -> None:
    assert email_work(content) == work


def test_a_feed_of_near_cap_authors_costs_what_an_ordinary_feed_does() -> None:
    """2,000 items with 999-letter authors took 17 s to read; now ~0.4 s (0.3 s without)."""
    body = rss(*(item(i, f"<author>{'a' * 999}</author>") for i in range(2000)))
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert time.perf_counter() - started < 4
    assert (len(parsed.entries), parsed.fields_cut) == (2000, 2000)


def test_atom_authors_of_costly_names_are_emptied_their_entry_kept() -> None:
    """feedparser runs its e-mail pattern over each author's name when the next author of
    the entry begins: five 980-letter names (each author under 1,000 characters) took
    36 ms an entry."""
    authors = f"<author><name>{'a' * 980}</name></author>" * 5
    parsed = parse_feed(atom(entry(1, authors)), feed=FEED, base_url=FEED.url)
    assert [(e.url, e.authors) for e in parsed.entries] == [("https://example.com/1", [])]
    assert parsed.fields_cut == 5


ORDINARY_AUTHORS = [
    "<author>desk@news.example (Desk)</author>",
    "<author>firstname.middlename.lastname@international-desk.example.co.uk"
    " (Firstname Middlename Lastname)</author>",
    "<dc:creator><![CDATA[<a href='https://www.example.com/authors/jane-doe-correspondent/'>"
    "Jane Doe</a>, <a href='https://www.example.com/authors/john-smith-data-desk/'>"
    "John Smith</a> and <a href='https://www.example.com/authors/ann-other/'>Ann Other</a>"
    "]]></dc:creator>",
    f"<dc:creator>{', '.join(f'Reporter Number{i} in City{i}' for i in range(30))}</dc:creator>",
]


def test_ordinary_authors_beside_a_costly_one_are_kept_as_written() -> None:
    body = rss(
        *(item(i, author) for i, author in enumerate(ORDINARY_AUTHORS)),
        item(9, COSTLY_AUTHORS["letters"]),
    ).replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ')
    cut, count = cut_long_fields(body, LIMITS)
    assert count == 1
    assert cut == body.replace(b"a" * 999, b"")
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert [len(e.authors) for e in parsed.entries] == [1, 1, 1, 1, 0]


def test_an_atom_author_longer_than_its_parts_is_kept_beside_a_costly_one() -> None:
    """An Atom author holds a name, an e-mail and a URI: 300 characters in all here, kept;
    only the author whose name alone is costly is emptied."""
    uri = "https://www.example.com/people/jane-doe-senior-correspondent-middle-east/" + "x" * 100
    ordinary = (
        "<author>\n  <name>Jane Doe</name>\n  <email>jane.doe@news.example.com</email>\n"
        f"  <uri>{uri}</uri>\n</author><author><name>John Smith</name>"
        "<email>john.smith@news.example.com</email></author>"
    )
    assert len(ordinary) > 300
    costly = f"<author><name>{'a' * 980}</name></author>"
    body = atom(entry(1, ordinary), entry(2, costly + costly))
    cut, count = cut_long_fields(body, LIMITS)
    assert count == 2
    assert cut == atom(entry(1, ordinary), entry(2, "<author></author><author></author>"))
    parsed = parse_feed(body, feed=FEED, base_url=FEED.url)
    assert [e.authors for e in parsed.entries] == [["Jane Doe", "John Smith"], []]
