"""Every feed kind parses into entries with canonical http(s) URLs and the feed's own hints."""

from __future__ import annotations

import gzip
import json
import random
import re
import tracemalloc
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from connectors.feeds import FeedLimits, parse_feed, sniff_kind
from pipeline.config import FeedConfig

FEED = FeedConfig(name="example", url="https://example.com/feed")
BASE = "https://example.com/news/feed.xml"

RSS_091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old news</title><link>https://example.com/</link>
<item><title>Caf\xe9 opens</title><link>https://EXAMPLE.com/cafe/?utm_source=rss</link>
<description>A &lt;b&gt;new&lt;/b&gt; caf\xe9</description></item>
</channel></rss>"""

RSS_10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="https://example.com/"><title>RDF news</title><link>https://example.com/</link>
<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency></channel>
<item rdf:about="https://example.com/a"><title>A</title><link>/a?fbclid=zz</link>
<dc:creator>Jane Roe</dc:creator><dc:date>2024-05-01T10:00:00Z</dc:date></item>
</rdf:RDF>"""

RSS_20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
<channel><title>Daily</title><link>https://example.com/</link><ttl>30</ttl>
<item><title>One</title><link>story-1/</link><guid isPermaLink="false">id-1</guid>
<author>jane@example.com (Jane Doe)</author><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate>
<description><![CDATA[<p>First <i>story</i></p>]]></description></item>
<item><title>Two</title><guid isPermaLink="true">https://m.example.com/story-2/amp</guid></item>
<item><title>Tracked</title><link>https://feeds.example.com/x</link>
<feedburner:origLink>https://example.com/story-3?gclid=1&amp;id=7</feedburner:origLink></item>
<item><title>Mail</title><link>mailto:desk@example.com</link></item>
<item><title>FTP</title><link>ftp://example.com/file</link></item>
<item><title>No link</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.com/blog/">
<title>Atom news</title><id>urn:x</id><updated>2024-05-02T00:00:00Z</updated>
<entry><title>Entry one</title><id>tag:example.com,2024:1</id>
<link rel="alternate" type="text/html" href="posts/one.html?utm_medium=feed"/>
<link rel="enclosure" href="https://cdn.example.com/one.mp3"/>
<author><name>Ann Atom</name></author><author><name>Bob Atom</name></author>
<published>2024-05-02T08:30:00+02:00</published><summary>Sum one</summary></entry>
<entry><title>Entry two</title><id>tag:example.com,2024:2</id>
<link href="https://example.com/blog/posts/two.html#comments"/>
<updated>2024-05-02T09:00:00Z</updated></entry>
</feed>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON news",
        "home_page_url": "https://example.com/",
        "authors": [{"name": "Desk"}],
        "items": [
            {
                "id": "1",
                "url": "https://example.com/j/1?utm_campaign=x",
                "title": "J1",
                "summary": "S1",
                "date_published": "2024-05-03T12:00:00Z",
                "authors": [{"name": "Jay Son"}],
            },
            {"id": 2, "external_url": "/j/2", "content_text": "Body two"},
            {"id": "3", "url": "javascript:alert(1)"},
            "not an item",
        ],
    }
).encode()

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://example.com/business/article55.html?utm_source=gn</loc>
<news:news><news:publication><news:name>The Example Times</news:name>
<news:language>en</news:language></news:publication>
<news:publication_date>2024-05-04T09:00:00+00:00</news:publication_date>
<news:title>Companies A, B in Merger Talks</news:title></news:news></url>
<url><loc>https://example.com/sport/match.html</loc>
<news:news><news:publication><news:name>The Example Times</news:name>
<news:language>en</news:language></news:publication>
<news:publication_date>2024-05-04</news:publication_date>
<news:title>Match report</news:title></news:news></url>
</urlset>"""

PLAIN_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://example.com/p/old</loc><lastmod>2020-01-01</lastmod></url>
<url><loc>https://example.com/p/new</loc><lastmod>2024-05-05T00:00:00Z</lastmod></url>
<url><loc>https://example.com/p/mid</loc><lastmod>2022-01-01</lastmod></url>
</urlset>"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.com/sitemap-2023.xml</loc><lastmod>2023-12-31</lastmod></sitemap>
<sitemap><loc>/sitemap-2024.xml.gz?page=1</loc><lastmod>2024-05-05</lastmod></sitemap>
<sitemap><loc>file:///etc/passwd</loc></sitemap>
<sitemap><loc>http://[::1</loc></sitemap>
<sitemap><loc>http://[zz]/x.xml</loc></sitemap>
</sitemapindex>"""


def urls(parsed):  # type: ignore[no-untyped-def]
    return [e.url for e in parsed.entries]


def test_rss_091_latin1_with_netscape_doctype() -> None:
    parsed = parse_feed(RSS_091, feed=FEED, base_url=BASE)
    assert parsed.kind == "rss"
    assert urls(parsed) == ["https://example.com/cafe"]
    entry = parsed.entries[0]
    assert entry.title == "Café opens"
    assert entry.summary == "A new café"
    assert entry.feed == "example" and entry.feed_kind == "rss"


def test_rss_10_rdf_resolves_links_and_reads_syndication_period() -> None:
    parsed = parse_feed(RSS_10, feed=FEED, base_url=BASE)
    assert parsed.kind == "rss"
    assert urls(parsed) == ["https://example.com/a"]
    assert parsed.entries[0].authors == ["Jane Roe"]
    assert parsed.entries[0].published_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parsed.ttl_seconds == 1800  # hourly, twice


def test_rss_20_links_guids_hints_and_dropped_schemes() -> None:
    parsed = parse_feed(RSS_20, feed=FEED, base_url=BASE)
    assert urls(parsed) == [
        "https://example.com/news/story-1",
        "https://example.com/story-2",
        "https://example.com/story-3?id=7",
    ]
    first = parsed.entries[0]
    assert first.guid == "id-1"
    assert first.title == "One"
    assert first.summary == "First story"
    assert first.authors == ["Jane Doe"]
    assert first.published_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parsed.ttl_seconds == 30 * 60
    assert parsed.title == "Daily"
    assert parsed.dropped == {"not_http": 2, "no_link": 1}


def test_atom_uses_alternate_link_xml_base_and_all_authors() -> None:
    parsed = parse_feed(ATOM, feed=FEED, base_url=BASE)
    assert parsed.kind == "atom"
    assert urls(parsed) == [
        "https://example.com/blog/posts/one.html",
        "https://example.com/blog/posts/two.html",
    ]
    one, two = parsed.entries
    assert one.authors == ["Ann Atom", "Bob Atom"]
    assert one.published_at == datetime(2024, 5, 2, 6, 30, tzinfo=UTC)
    assert one.guid == "tag:example.com,2024:1"
    assert two.published_at == datetime(2024, 5, 2, 9, tzinfo=UTC)


def test_json_feed_11() -> None:
    parsed = parse_feed(JSON_FEED, feed=FEED, base_url=BASE)
    assert parsed.kind == "jsonfeed"
    assert urls(parsed) == ["https://example.com/j/1", "https://example.com/j/2"]
    first, second = parsed.entries
    assert first.authors == ["Jay Son"]
    assert first.published_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    assert second.guid == "2"
    assert second.summary == "Body two"
    assert second.authors == ["Desk"]
    assert parsed.dropped == {"not_http": 1, "bad_item": 1}


def test_google_news_sitemap() -> None:
    parsed = parse_feed(NEWS_SITEMAP, feed=FEED, base_url=BASE)
    assert parsed.kind == "sitemap"
    by_url = {e.url: e for e in parsed.entries}
    assert set(by_url) == {
        "https://example.com/business/article55.html",
        "https://example.com/sport/match.html",
    }
    merger = by_url["https://example.com/business/article55.html"]
    assert merger.title == "Companies A, B in Merger Talks"
    assert merger.published_at == datetime(2024, 5, 4, 9, tzinfo=UTC)


def test_plain_sitemap_over_the_cap_keeps_the_newest() -> None:
    parsed = parse_feed(PLAIN_SITEMAP, feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=2))
    assert urls(parsed) == ["https://example.com/p/new", "https://example.com/p/mid"]
    assert parsed.dropped == {"over_cap": 1}


def test_a_huge_sitemap_is_read_as_a_stream_keeping_the_newest() -> None:
    """5,000 URLs in shuffled date order, 100 kept: the newest, newest first, with ties in
    document order, whatever the pruning along the way dropped."""
    days = list(range(5000))
    random.Random(3).shuffle(days)
    base = datetime(2020, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<url><loc>https://example.com/p/{n}</loc>"
        f"<lastmod>{(base + timedelta(days=day // 2)).date().isoformat()}</lastmod></url>"
        for n, day in enumerate(days)
    )
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    parsed = parse_feed(body.encode(), feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=100))

    by_date = sorted(range(5000), key=lambda n: (-(days[n] // 2), n))
    assert urls(parsed) == [f"https://example.com/p/{n}" for n in by_date[:100]]
    assert parsed.dropped == {"over_cap": 4900}


def test_a_huge_json_feed_holds_only_the_items_it_keeps() -> None:
    """json.loads held every item: 100,000 items (5.2 MB) took 35 MB at once; read one
    item at a time, the peak is the body's text and the kept entries."""
    items = ",".join(f'{{"id": {n}, "url": "https://example.com/j/{n}"}}' for n in range(100_000))
    body = f'{{"version": "https://jsonfeed.org/version/1.1", "items": [{items}, 7]}}'.encode()
    tracemalloc.start()
    try:
        parsed = parse_feed(body, feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=100))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert urls(parsed) == [f"https://example.com/j/{n}" for n in range(100)]
    assert parsed.dropped == {"over_cap": 99_900, "bad_item": 1}
    assert peak < 3 * len(body), f"{peak / len(body):.1f} times the body"


def test_json_feed_members_after_the_items_still_apply_to_them() -> None:
    """The items are read after the rest of the document: base URL and authors may follow."""
    body = (
        b'{"items": [{"url": "/a"}, {"url": "b", "title": "B"}], "title": "T",'
        b' "version": "https://jsonfeed.org/version/1.1", "authors": [{"name": "Ann"}],'
        b' "home_page_url": "https://home.example.org/news/"}'
    )
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert urls(parsed) == ["https://home.example.org/a", "https://home.example.org/news/b"]
    assert [e.authors for e in parsed.entries] == [["Ann"], ["Ann"]] and parsed.title == "T"


def test_sitemap_index_lists_http_children_newest_first() -> None:
    parsed = parse_feed(SITEMAP_INDEX, feed=FEED, base_url="https://example.com/sitemap.xml")
    assert parsed.entries == []
    assert parsed.child_sitemaps == [
        "https://example.com/sitemap-2024.xml.gz?page=1",
        "https://example.com/sitemap-2023.xml",
    ]
    assert parsed.dropped == {"not_http": 1, "bad_url": 2}  # file:; hosts urljoin cannot split


def test_a_child_sitemap_with_a_bad_host_or_port_is_a_bad_url_as_a_page_link_is() -> None:
    """Child sitemaps that are http(s) URLs no fetch could take were counted not_http (as
    if they were file: or mailto: links); page links written so are bad_url."""
    locs = [
        "http://example.123/s.xml",
        "http://a%2Fb.example/s.xml",
        "https://example.com:0/s.xml",
        "https://example.com:99999/s.xml",
        "http://[::1",
        "mailto:maps@example.com",
        "/ok.xml",
    ]
    body = "<sitemapindex>{}</sitemapindex>".format(
        "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    ).encode()
    parsed = parse_feed(body, feed=FEED, base_url="https://example.com/sitemap.xml")
    assert parsed.child_sitemaps == ["https://example.com/ok.xml"]
    assert parsed.dropped == {"bad_url": 5, "not_http": 1}
    page_links = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    pages = parse_feed(f"<urlset>{page_links}</urlset>".encode(), feed=FEED, base_url=BASE)
    assert pages.dropped == parsed.dropped


def test_gzipped_sitemap() -> None:
    parsed = parse_feed(gzip.compress(PLAIN_SITEMAP), feed=FEED, base_url=BASE)
    assert sorted(urls(parsed)) == [
        "https://example.com/p/mid",
        "https://example.com/p/new",
        "https://example.com/p/old",
    ]


def test_text_sitemap() -> None:
    body = b"https://example.com/t/1?utm_source=x\n\nhttps://example.com/t/2\nnot a url\n"
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert urls(parsed) == ["https://example.com/t/1", "https://example.com/t/2"]
    assert parsed.dropped == {"not_http": 1}


def test_feed_entries_over_the_cap_keep_document_order() -> None:
    items = "".join(f"<item><link>https://example.com/{i}</link></item>" for i in range(10))
    body = f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    parsed = parse_feed(body, feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=3))
    assert urls(parsed) == [f"https://example.com/{i}" for i in range(3)]
    assert parsed.dropped == {"over_cap": 7}


def test_configured_kind_forces_the_parser() -> None:
    forced = parse_feed(ATOM, feed=FEED, base_url=BASE, kind="rss")
    assert len(forced.entries) == 2  # feedparser reads Atom either way; detection is bypassed
    with pytest.raises(Exception, match="version must start with"):
        parse_feed(b'{"items": []}', feed=FEED, base_url=BASE, kind="jsonfeed")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (RSS_091, "rss"),
        (RSS_10, "rss"),
        (RSS_20, "rss"),
        (ATOM, "atom"),
        (JSON_FEED, "jsonfeed"),
        (NEWS_SITEMAP, "sitemap"),
        (SITEMAP_INDEX, "sitemap"),
        (b"\xef\xbb\xbf  <!-- hello --><?xml-stylesheet href='x'?><feed/>", "atom"),
        ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"), "rss"),
        (b"WARC/1.1\r\n", "warc"),
    ],
)
def test_sniff_kind(body: bytes, kind: str) -> None:
    assert sniff_kind(body) == kind


def test_utf16_feed_parses() -> None:
    body = RSS_20.decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert len(parsed.entries) == 3


def _long_feed(kind: str, items: int) -> bytes:
    if kind == "rss":
        entries = "".join(
            f"<item><title>Story {i}</title><link>https://example.com/s/{i}</link>"
            f"<description><![CDATA[<p>Text {i}</p>]]></description></item>"
            for i in range(items)
        )
        return f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()
    if kind == "atom":
        entries = "".join(
            f'<entry><title>Story {i}</title><link href="https://example.com/s/{i}"/>'
            f"<id>urn:s:{i}</id></entry>"
            for i in range(items)
        )
        return (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()
        )
    entries = "".join(
        f'<item rdf:about="https://example.com/s/{i}"><title>Story {i}</title>'
        f"<link>https://example.com/s/{i}</link></item>"
        for i in range(items)
    )
    return (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://example.com/">'
        f"<title>t</title></channel>{entries}</rdf:RDF>"
    ).encode()


@pytest.mark.parametrize("kind", ["rss", "atom", "rdf"])
def test_a_feed_longer_than_the_cap_is_cut_before_parsing_with_the_same_entries(
    kind: str,
) -> None:
    """Only the first max_entries are kept: the rest is cut off before feedparser reads it
    (100,000 items took 14 s), and the entries kept are those of the whole document."""
    body = _long_feed(kind, 2500)
    whole = parse_feed(body, feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=10_000))
    capped = parse_feed(body, feed=FEED, base_url=BASE, limits=FeedLimits(max_entries=2000))

    assert [(e.url, e.title) for e in capped.entries] == [
        (e.url, e.title) for e in whole.entries[:2000]
    ]
    assert capped.dropped == {"over_cap": 500}
    assert capped.title == whole.title == "t"


def test_an_entry_keeps_its_link_as_listed_when_the_canonical_form_differs() -> None:
    body = b"""<rss version="2.0"><channel>
    <item><link>/reviews/guitar/amp?utm_source=rss#top</link></item>
    <item><link>https://example.com/plain</link></item>
    <item><link>https://example.com/a b</link></item>
    </channel></rss>"""

    entries = parse_feed(body, feed=FEED, base_url=BASE).entries

    assert [(e.url, e.link) for e in entries] == [
        (
            "https://example.com/reviews/guitar",
            "https://example.com/reviews/guitar/amp?utm_source=rss",
        ),
        ("https://example.com/plain", None),
        ("https://example.com/a%20b", None),  # cannot go on a request line as written
    ]


def test_each_format_gives_the_entrys_own_updated_time_and_a_pubdate_is_not_one() -> None:
    def updated(body: bytes) -> list[datetime | None]:
        return [e.updated_at for e in parse_feed(body, feed=FEED, base_url=BASE).entries]

    may_2 = datetime(2024, 5, 2, 9, tzinfo=UTC)
    assert updated(ATOM) == [None, may_2]
    assert updated(RSS_20)[0] is None  # pubDate only: feedparser would answer it for updated
    rss_updated = RSS_20.replace(
        b'<rss version="2.0"', b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
    ).replace(b"</pubDate>", b"</pubDate><atom:updated>2024-05-02T09:00:00Z</atom:updated>", 1)
    assert updated(rss_updated)[0] == may_2
    document = json.loads(JSON_FEED)
    document["items"][0]["date_modified"] = "2024-05-02T09:00:00Z"
    assert updated(json.dumps(document).encode())[0] == may_2
    assert [when.year if when else None for when in updated(PLAIN_SITEMAP)] == [2020, 2024, 2022]
    assert updated(NEWS_SITEMAP) == [None, None]  # publication dates, no <lastmod>


def test_an_entry_with_an_unreadable_published_time_is_read_without_a_deprecation() -> None:
    """feedparser's ``get("updated_parsed")`` warns (and answers ``published_parsed``, here
    None) when the entry has no updated time; the parser reads past it."""
    undated = re.sub(rb"<pubDate>[^<]*</pubDate>", b"<pubDate>not a date</pubDate>", RSS_20)
    assert b"not a date" in undated
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        entries = parse_feed(undated, feed=FEED, base_url=BASE).entries
    assert entries and all(e.published_at is None for e in entries)


def test_a_text_sitemap_line_with_a_bad_host_is_a_bad_url_as_in_any_feed() -> None:
    """An http(s) line the key cannot read is counted as an RSS link would be (bad_url),
    not as a line that is no URL at all (not_http)."""
    body = (
        b"http://example.123/a\nhttp:///x\nhttps://example.com/ok\nhttps://a.example:99999/\n"
        b"https://a.example:0/b\n"
    )
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert urls(parsed) == ["https://example.com/ok"]
    assert parsed.dropped == {"bad_url": 4}


def test_a_feed_link_on_port_0_is_a_bad_url() -> None:
    """Port 0 got a key (and the page then failed at every fetch); now it is dropped as a
    link with a bad host is."""
    body = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><link>https://example.com:0/a</link></item>"
        b"<item><link>https://example.com/b</link></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert urls(parsed) == ["https://example.com/b"]
    assert parsed.dropped == {"bad_url": 1}
