"""Hostile and broken feed bodies: one FeedError with a clear reason each, never a crash."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.feeds import FeedLimits, parse_feed
from pipeline.config import FeedConfig
from pipeline.errors import FeedError

FEED = FeedConfig(name="hostile", url="https://example.com/feed")
BASE = "https://example.com/feed"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><item><title>&lol9;</title><link>https://example.com/a</link>
</item></channel></rss>"""

XXE_RSS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><link>https://example.com/a</link>
</item></channel></rss>"""

XXE_SITEMAP = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/secret">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&xxe;</loc></url></urlset>"""

UTF16_ENTITIES = (
    BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="utf-16"?>')
    .decode()
    .encode("utf-16")
)


MANY_ATTRIBUTES = (
    b'<rss version="2.0"><channel><item><link>https://example.com/a</link><title '
    + b" ".join(b'a%d="x"' % i for i in range(150_000))
    + b">t</title></item></channel></rss>"
)
MANY_NAMESPACES = (
    b'<rss version="2.0" '
    + b" ".join(b'xmlns:x%d="urn:%d"' % (i, i) for i in range(100_000))
    + b"><channel><item><link>https://example.com/a</link></item></channel></rss>"
)


def redos_rss(field: str) -> bytes:
    hostile = "a@" + "a." * 40_000 + "!"
    return (
        f'<rss version="2.0"><channel><item><link>https://example.com/a</link>'
        f"<{field}>{hostile}</{field}></item></channel></rss>"
    ).encode()


def reason_of(body: bytes, **kwargs: object) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(body, feed=FEED, base_url=BASE, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.feed == "hostile"
    assert "\n" not in str(error) and str(error)
    return error


@pytest.mark.parametrize(
    ("body", "reason", "words"),
    [
        (b"", "empty", "empty"),
        (b"   \r\n\t ", "empty", "empty"),
        (BILLION_LAUGHS, "xml_entities", "entity declarations"),
        (XXE_RSS, "xml_entities", "entity declarations"),
        (XXE_SITEMAP, "xml_entities", "entity declarations"),
        (UTF16_ENTITIES, "xml_entities", "entity declarations"),
        (b"<!DOCTYPE html><html><body><a href='/x'>x</a></body></html>", "html_not_feed", "HTML"),
        (b"<html><head><title>Login</title></head></html>", "html_not_feed", "HTML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "unknown_format", "not a feed"),
        (b"<rss version='2.0'><channel><item><title>x</ti", "malformed", "malformed XML"),
        (b"<?xml version='1.0'?><rss \x00\xff\xfe garbage", "malformed", "malformed XML"),
        (b"<urlset><url><loc>https://example.com/a</loc></url", "malformed", "malformed XML"),
        (b"<urlset><url><loc>https://e.com/a</loc>\x00</url></urlset>", "malformed", "Char 0x0"),
        (b"<sitemapindex>\n<sitema{}p><loc>https://e.com/s.xml</loc>", "malformed", "attribute"),
        (b"<urlset xmlns='urn:a{b}'><url><loc>https://e.com/a</loc></url>", "malformed", "URI"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unknown_format", "unknown root"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "bad_json", "malformed"),
        (b'{"version": "1", "items": []}', "json_version", "version"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "bad_json", "list"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep", "nested"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "\xff\xfe\xfa"}',
            "encoding",
            "decode",
        ),
        (b"\x1f\x8b\x08\x00garbage", "bad_gzip", "gzip"),
        (MANY_ATTRIBUTES, "tag_too_long", "attributes"),
        (MANY_NAMESPACES, "tag_too_long", "namespaces"),
        (gzip.compress(b"<rss>")[:-8], "bad_gzip", "truncated"),
    ],
)
def test_bad_bodies_give_one_clear_feed_error(body: bytes, reason: str, words: str) -> None:
    error = reason_of(body)
    assert error.reason == reason
    assert words.lower() in str(error).lower()


@pytest.mark.parametrize("field", ["author", "dc:creator", "managingEditor", "pubDate"])
def test_redos_prone_fields_are_emptied_before_regex_work(field: str) -> None:
    """An over-long author refused the whole feed (field_too_long): now it is emptied, and
    its entry kept, before feedparser's quadratic e-mail pattern sees it."""
    body = redos_rss(field).replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ')
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert time.perf_counter() - started < 2  # feedparser alone needs minutes on this input
    [entry] = parsed.entries
    assert (entry.url, entry.authors, entry.published_at) == ("https://example.com/a", [], None)
    assert parsed.fields_cut == 1 and parsed.dropped == {}


@pytest.mark.parametrize(
    "content",
    [
        b"<![CDATA[" + b"a." * 5000 + b"]]>",
        (b"a." * 400 + b"<!-- -->") * 50,
        (b"a." * 400 + b"<![CDATA[a.]]>") * 50,
    ],
    ids=["cdata", "split_by_comments", "split_by_cdata"],
)
def test_an_author_split_into_short_runs_is_measured_whole(content: bytes) -> None:
    """The guard measured an author to its first ``<``: split by comments, 40,000
    characters reached feedparser's e-mail pattern whole: 20 such entries took 351 s."""
    items = b"".join(
        b"<item><link>https://example.com/%d</link><author>%s</author></item>" % (i, content)
        for i in range(20)
    )
    body = b'<rss version="2.0"><channel>' + items + b"</channel></rss>"
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert time.perf_counter() - started < 1  # 0.01 s
    assert len(parsed.entries) == 20 and parsed.fields_cut == 20
    assert all(entry.authors == [] for entry in parsed.entries)


def test_an_over_long_sitemap_date_costs_that_date_not_the_sitemap() -> None:
    """The short-field guard (for feedparser's quadratic regular expressions) refused the
    whole sitemap as hostile; lxml runs no such expression, and the date alone is ignored."""
    body = (
        b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
        b" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        b"<url><loc>https://example.com/a</loc><lastmod>" + b"a@" + b"a." * 40_000 + b"</lastmod>"
        b"<news:news><news:publication_date>" + b"9" * 5000 + b"</news:publication_date>"
        b"</news:news></url><url><loc>https://example.com/b</loc></url></urlset>"
    )
    started = time.perf_counter()
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert time.perf_counter() - started < 2
    assert sorted((e.url, e.published_at) for e in parsed.entries) == [
        ("https://example.com/a", None), ("https://example.com/b", None)
    ]  # fmt: skip


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (20 * 1024 * 1024) + b"</urlset>", compresslevel=9)
    assert len(bomb) < 100_000
    error = reason_of(bomb, limits=FeedLimits(max_bytes=1024 * 1024))
    assert error.reason == "too_large"


def test_oversized_body_is_refused() -> None:
    body = b"<rss>" + b" " * 2048 + b"</rss>"
    assert reason_of(body, limits=FeedLimits(max_bytes=1024)).reason == "too_large"


def test_recoverable_breakage_still_yields_entries() -> None:
    """Real feeds are often slightly broken; what can be read is kept."""
    unescaped = (
        b'<rss version="2.0"><channel><item><title>Q&A</title>'
        b"<link>https://example.com/qa</link></item></channel></rss>"
    )
    parsed = parse_feed(unescaped, feed=FEED, base_url=BASE)
    assert [e.url for e in parsed.entries] == ["https://example.com/qa"]


def test_wrong_declared_encoding_is_decoded_anyway() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item>'
        "<title>Zürich öffnet</title><link>https://example.com/z</link></item></channel></rss>"
    ).encode("latin-1")
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert parsed.entries[0].title == "Zürich öffnet"


def test_unknown_declared_encoding_is_decoded_anyway() -> None:
    body = (
        b'<?xml version="1.0" encoding="x-no-such"?><rss version="2.0"><channel><item>'
        b"<title>Plain</title><link>https://example.com/p</link></item></channel></rss>"
    )
    assert parse_feed(body, feed=FEED, base_url=BASE).entries[0].title == "Plain"


@pytest.mark.parametrize("name", [b"utf\xa1-8", b"\xfctf-8", b"\xff\xfe", b"undefined", b"a\x00b"])
def test_an_unusable_declared_encoding_name_is_decoded_anyway(name: bytes) -> None:
    """feedparser decodes the declared name as UTF-8 unguarded (UnicodeDecodeError), looks up
    a NUL (ValueError) and the undefined codec (UnicodeError): each lost the feed."""
    body = (
        b'<?xml version="1.0" encoding="' + name + b'"?><rss version="2.0"><channel><item>'
        b"<title>Z\xfcrich</title><link>https://example.com/z</link></item></channel></rss>"
    )
    [entry] = parse_feed(body, feed=FEED, base_url=BASE).entries
    assert (entry.url, entry.title) == ("https://example.com/z", "Z\xfcrich")


@pytest.mark.parametrize("charset", ["undefined", '"UNDEFINED"', "\xe9"])
def test_a_content_type_charset_feedparser_cannot_use_is_left_out(charset: str) -> None:
    """charset=undefined made feedparser raise UnicodeError: the whole feed was lost."""
    body = (
        b'<rss version="2.0"><channel><item><title>Z\xfcrich</title>'
        b"<link>https://example.com/z</link></item></channel></rss>"
    )
    content_type = f"application/rss+xml; charset={charset}"
    [entry] = parse_feed(body, feed=FEED, base_url=BASE, content_type=content_type).entries
    assert entry.title == "Z\xfcrich"


def test_a_body_naming_a_local_file_is_not_read_from_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """feedparser opens strings as files or URLs; we only ever hand it a file object."""
    secret = tmp_path / "secret.xml"
    secret.write_text(
        '<rss version="2.0"><channel><item><link>https://example.com/leak</link></item>'
        "</channel></rss>"
    )
    with pytest.raises(FeedError):
        parse_feed(str(secret).encode(), feed=FEED, base_url=BASE, kind="rss")


def test_external_dtd_and_xinclude_are_never_fetched() -> None:
    """A DOCTYPE pointing at a DTD (no entity declarations) parses without any request."""
    hits: list[str] = []

    class Canary(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY boom "x">')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    dtd = f"http://127.0.0.1:{server.server_address[1]}/evil.dtd"
    try:
        rss_body = (
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd}"><rss version="2.0"><channel>'
            f"<item><link>https://example.com/a</link></item></channel></rss>"
        ).encode()
        map_body = (
            f'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "{dtd}">'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            f' xmlns:xi="http://www.w3.org/2001/XInclude"><url><loc>https://example.com/b</loc>'
            f'</url><xi:include href="{dtd}"/></urlset>'
        ).encode()
        rss = parse_feed(rss_body, feed=FEED, base_url=BASE)
        sitemap = parse_feed(map_body, feed=FEED, base_url=BASE)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert [e.url for e in rss.entries] == ["https://example.com/a"]
    assert [e.url for e in sitemap.entries] == ["https://example.com/b"]
    assert hits == []


# --- one bad item must not cost the feed ---


@pytest.mark.parametrize("reference", ["&#xD800;", "&#x110000;", "&#99999999999;", "&#xDFFF;"])
def test_a_character_reference_to_no_character_costs_one_title_not_the_feed(
    reference: str,
) -> None:
    """feedparser failed the whole document (UnicodeEncodeError, ValueError, OverflowError)."""
    body = (
        '<rss version="2.0"><channel>'
        f"<item><title>Bad {reference} title</title><link>https://example.com/a</link></item>"
        "<item><title>Good &#233;t&#xE9;</title><link>https://example.com/b</link></item>"
        "</channel></rss>"
    ).encode()

    entries = parse_feed(body, feed=FEED, base_url=BASE).entries

    assert [e.title for e in entries] == ["Bad \ufffd title", "Good été"]


def test_an_item_feedparser_fails_on_costs_that_item_not_the_feed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``<link>`` closed after ``</item>``: feedparser's lenient parser raised KeyError
    ('links') and every entry of the feed was lost to an internal error."""
    body = (
        b'<rss version="2.0"><channel><title>Chan</title>'
        b"<item><title>A</title><link>https://example.com/a</link></item>"
        b"<item><title>B</title><link>https://example.com/b</item></link>"
        b"<item><title>C</title><link>https://example.com/c</link></item>"
        b"</channel></rss>"
    )
    with caplog.at_level(logging.WARNING):
        parsed = parse_feed(body, feed=FEED, base_url=BASE)

    assert [(e.title, e.url) for e in parsed.entries] == [
        ("A", "https://example.com/a"), ("C", "https://example.com/c")
    ]  # fmt: skip
    assert parsed.title == "Chan" and sum(parsed.dropped.values()) == 1
    assert "feed hostile: 1 entries left out" in caplog.text


def test_a_document_feedparser_fails_on_item_by_item_is_one_feed_error() -> None:
    error = reason_of(b"<channel<item<link</item</link<", kind="rss")
    assert error.reason == "malformed" and "feedparser failed on it (KeyError" in str(error)


@pytest.mark.parametrize(
    "bad_loc",
    [b"https://example.com/caf\xe9", b"https://example.com/\x00x", b"https://example.com/a&b"],
    ids=["latin1_in_utf8", "nul", "bare_ampersand"],
)
def test_a_sitemap_url_that_is_not_well_formed_costs_that_url_not_the_sitemap(
    bad_loc: bytes,
) -> None:
    """One bad byte made the whole sitemap malformed and lost every entry; libxml2's
    recover mode would keep them but read ``a&b`` as ``a``: the bad <url> alone is left out."""
    body = (
        b"<?xml version='1.0' encoding='UTF-8'?>"
        b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
        b" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        b"<url><loc>https://example.com/a</loc><news:news><news:title>A</news:title></news:news>"
        b"</url><url><loc>" + bad_loc + b"</loc></url>"
        b"<url><loc>https://example.com/c</loc></url></urlset>"
    )

    parsed = parse_feed(body, feed=FEED, base_url=BASE)

    assert sorted((e.url, e.title) for e in parsed.entries) == [
        ("https://example.com/a", "A"), ("https://example.com/c", None)
    ]  # fmt: skip
    assert parsed.dropped == {"bad_item": 1}


def test_a_sitemap_index_with_a_bad_child_keeps_the_others() -> None:
    body = (
        b"<sm:sitemapindex xmlns:sm='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        b"<sm:sitemap><sm:loc>https://example.com/s1.xml</sm:loc></sm:sitemap>"
        b"<sm:sitemap><sm:loc>https://example.com/\x00</sm:loc></sm:sitemap>"
        b"</sm:sitemapindex>"
    )
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert parsed.child_sitemaps == ["https://example.com/s1.xml"]


def test_a_json_number_too_long_for_an_int_costs_that_field_not_the_feed() -> None:
    """json.loads raised ValueError (Python's 4,300-digit limit) and the feed was lost."""
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"url":'
        b' "https://example.com/a"}, {"id": '
        + b"9" * 5000
        + b', "title": -'
        + b"1" * 5000
        + b', "url": "https://example.com/b"}]}'
    )
    entries = parse_feed(body, feed=FEED, base_url=BASE).entries
    assert [(e.url, e.guid, e.title) for e in entries] == [
        ("https://example.com/a", None, None), ("https://example.com/b", None, None)
    ]  # fmt: skip


def test_lone_surrogates_in_a_json_feed_become_replacement_characters() -> None:
    """``"\\ud800"`` is valid JSON; the entry could not be serialised, and the run ended."""
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "s\\udfff",'
        b' "url": "https://example.com/a", "title": "t\\ud800", "summary": "Sum \\ud800 x",'
        b' "authors": [{"name": "Al\\ud800ice"}]}]}'
    )

    [entry] = parse_feed(body, feed=FEED, base_url=BASE).entries

    assert (entry.title, entry.summary, entry.authors, entry.guid) == (
        "t\ufffd", "Sum \ufffd x", ["Al\ufffdice"], "s\ufffd"
    )  # fmt: skip
    assert b"\xef\xbf\xbd" in entry.to_json()


def jsonfeed_dated(date: str) -> bytes:
    item = f'{{"url": "https://example.com/a", "date_published": "{date}"}}'
    return f'{{"version": "https://jsonfeed.org/version/1.1", "items": [{item}]}}'.encode()


def rss_dated(date: str) -> bytes:
    return (
        f'<rss version="2.0"><channel><item><link>https://example.com/a</link>'
        f"<pubDate>{date}</pubDate></item></channel></rss>"
    ).encode()


def sitemap_dated(date: str) -> bytes:
    return (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
        f"<loc>https://example.com/a</loc><lastmod>{date}</lastmod></url></urlset>"
    ).encode()


@pytest.mark.parametrize(
    "body",
    [
        jsonfeed_dated("0001-01-01T00:00:00+14:00"),  # OverflowError in astimezone
        sitemap_dated("9999-12-31T23:00:00-01:00"),  # OverflowError in astimezone
        rss_dated("1700000000"),  # read as year 1699
        rss_dated("Sat, 01 Jan 0001 00:00:00 +1400"),
        jsonfeed_dated("9999-01-01T00:00:00Z"),
        jsonfeed_dated("1970-01-01T00:00:00Z"),
    ],
    ids=["overflow-json", "overflow-sitemap", "epoch", "year-1", "year-9999", "epoch-zero"],
)
def test_an_impossible_or_implausible_date_is_left_out_not_the_feed(body: bytes) -> None:
    """A date overflowing UTC failed the whole feed as an internal error; an implausible one
    was trusted, and decided which copy of a story dedup keeps as the original."""
    parsed = parse_feed(body, feed=FEED, base_url=BASE)

    assert [(e.url, e.published_at) for e in parsed.entries] == [("https://example.com/a", None)]


def test_plausible_dates_are_kept() -> None:
    parsed = parse_feed(rss_dated("Wed, 01 May 2024 10:00:00 GMT"), feed=FEED, base_url=BASE)
    [entry] = parsed.entries
    assert entry.published_at is not None and entry.published_at.year == 2024
    assert parsed.dates_ignored == 0
    assert parse_feed(rss_dated("1700000000"), feed=FEED, base_url=BASE).dates_ignored == 1


def test_json_feed_fields_of_the_wrong_type_count_as_missing() -> None:
    """``"external_url": 5`` became the relative link https://example.com/5 and a 404."""
    items = [
        {"id": "a", "external_url": 5},
        {"id": "b", "url": 7, "external_url": ["https://example.com/x"]},
        {"id": "c", "url": 8, "external_url": "/c"},
        {
            "id": {"x": 1},
            "url": "/d",
            "title": 9,
            "summary": True,
            "content_text": 10,
            "date_published": 1714737600,
            "date_modified": ["2024-05-03"],
            "authors": [{"name": 11}],
        },
        {"id": 12, "url": "/e"},
        {"id": float("nan"), "url": "/f"},
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": 13, "items": items}

    parsed = parse_feed(json.dumps(document).encode(), feed=FEED, base_url=BASE)

    assert [e.url for e in parsed.entries] == [
        "https://example.com/c", "https://example.com/d",
        "https://example.com/e", "https://example.com/f",
    ]  # fmt: skip
    assert parsed.dropped == {"no_link": 2}
    assert parsed.title is None
    c, d, e, f = parsed.entries
    assert c.guid == "c"
    assert (d.guid, d.title, d.summary, d.published_at, d.authors) == (None, None, None, None, [])
    assert (e.guid, f.guid) == ("12", None)


def test_links_left_out_are_one_line_naming_the_feed_and_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    links = ["javascript:alert(1)", "file:///etc/passwd", "http://127.0.0.1:99999/x", "/ok"]
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    caplog.set_level(logging.INFO, logger="connectors.feeds.parse")

    parsed = parse_feed(body, feed=FEED, base_url=BASE)

    assert [e.url for e in parsed.entries] == ["https://example.com/ok"]
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.feed == "hostile"  # type: ignore[attr-defined]
    assert record.getMessage() == (
        "feed hostile: 3 entries left out (1 bad_url, 2 not_http;"
        " newsflow_feed_links_dropped_total)"
    )
