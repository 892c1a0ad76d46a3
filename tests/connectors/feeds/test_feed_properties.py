"""Properties of parse_feed on damaged and hostile documents (deterministic, a few seconds).

Every body is either entries or one FeedError on one line, and a hostile item
costs at most itself: the items around it are kept. The damage is the kind that
found defects here (a non-UTF-8 encoding name, a mis-nested </link>, one bad byte
in a sitemap, NULs, lying numeric references).
"""

from __future__ import annotations

import gzip
import json
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.feeds import FeedLimits, parse_feed
from pipeline.config import FeedConfig
from pipeline.errors import FeedError

FEED = FeedConfig(name="prop", url="https://example.com/feed")
BASE = "https://example.com/feed"
GOOD = ["https://example.com/good/0", "https://example.com/good/1"]

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>C</title>'
    b"<item><title>A</title><link>https://example.com/a</link><pubDate>Mon, 06 May 2024"
    b" 10:00:00 GMT</pubDate></item><item><title>B &amp; b</title>"
    b"<link>https://example.com/b</link><guid>b</guid></item></channel></rss>"
)
ATOM = (
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>C</title>'
    b'<entry><title>A</title><link href="https://example.com/a"/><id>a</id>'
    b"<updated>2024-05-06T10:00:00Z</updated></entry></feed>"
)
SITEMAP = (
    b"<?xml version='1.0' encoding='UTF-8'?><urlset"
    b" xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
    b" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'><url>"
    b"<loc>https://example.com/a</loc><lastmod>2024-05-01</lastmod><news:news>"
    b"<news:title>A</news:title></news:news></url><url><loc>https://example.com/b</loc>"
    b"</url></urlset>"
)
JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "C",
        "items": [{"id": 1, "url": "https://example.com/a", "title": "A"}],
    }
).encode()
SEEDS = [RSS, ATOM, SITEMAP, JSON_FEED, gzip.compress(SITEMAP), b"https://example.com/a\n"]

PIECES = [
    b"<", b">", b"&", b"&#xD800;", b"&#99999999999;", b"\x00", b"\xff", b"\xe9", b"\xfe\xff",
    b"</item></link>", b"<item><link>", b"</url>", b"<url><loc>", b"<![CDATA[", b"]]>",
    b' encoding="utf\xa1-8"', b"<!-- ", b"http://[fe80::1%eth0\x00]/", b"null", b"[]", b"{",
    b"\x1f\x8b\x08\x00", b"\r\n", b"\x1b[31m",
]  # fmt: skip


SWAPS = [
    (b"utf-8", b"utf\xa1-8"), (b"UTF-8", b"\xfcTF-8"), (b"</link></item>", b"</item></link>"),
    (b"</loc>", b"\xe9</loc>"), (b"</loc>", b"&</loc>"), (b"</title>", b"&#x110000;</title>"),
]  # fmt: skip
"""Damage that once cost a whole feed: found by fuzzing, fixed at the boundary."""


def _one_line(error: FeedError) -> bool:
    return bool(str(error)) and "\n" not in str(error) and "\r" not in str(error)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        how = draw(st.sampled_from(["cut", "insert", "flip", "drop", "swap"]))
        if how == "swap":
            was, now = draw(st.sampled_from(SWAPS))
            body = bytearray(bytes(body).replace(was, now, 1))
        elif how == "cut":
            del body[at:]
        elif how == "insert":
            body[at:at] = draw(st.sampled_from(PIECES))
        elif how == "flip" and at < len(body):
            body[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del body[at : at + draw(st.integers(1, 20))]
    return bytes(body)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(damaged(), st.sampled_from(["auto", "rss", "sitemap", "jsonfeed"]))
def test_a_damaged_document_is_entries_or_one_feed_error(body: bytes, kind: str) -> None:
    try:
        parsed = parse_feed(body, feed=FEED, base_url=BASE, kind=kind, limits=FeedLimits())
    except FeedError as error:
        assert _one_line(error), str(error)
        return
    for entry in parsed.entries:
        assert entry.url.startswith(("http://", "https://")) and entry.url.isprintable()
        entry.to_json()


HOSTILE = [
    "", " ", "\x00", "\x0b", "\ud800", "&#xD800;", "&#0;", "<b>x</b>", "javascript:alert(1)",
    "http://[::1", "http://[fe80::1%eth0]/", "https://a:99999/", "//evil.example/x", "/relative",
    "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59+14:00", "Mon, 99 Xyz 2024 99:99:99 +9999",
    "1e308", "nan", "-1", "x" * 900, "\u202e", "https://m\u00fcnchen.de/\u00e4",
]  # fmt: skip


def _item(kind: str, values: list[str], raw: bool) -> str:
    text = [v if raw else escape(v) for v in values]
    if kind == "rss":
        return (
            f"<item><title>{text[0]}</title><link>{text[1]}</link><pubDate>{text[2]}</pubDate>"
            f"<author>{text[3]}</author><guid>{text[4]}</guid></item>"
        )
    if kind == "atom":
        return (
            f"<entry><title>{text[0]}</title><link href={quoteattr(values[1])}/>"
            f"<updated>{text[2]}</updated><author><name>{text[3]}</name></author>"
            f"<id>{text[4]}</id></entry>"
        )
    return (
        f"<url><loc>{text[1]}</loc><lastmod>{text[2]}</lastmod><news:news><news:title>"
        f"{text[0]}</news:title><news:publication_date>{text[3]}</news:publication_date>"
        "</news:news></url>"
    )


def _xml(kind: str, hostile: str) -> bytes:
    good = [_item(kind, ["G", url, "2024-05-06T10:00:00Z", "Al", url], False) for url in GOOD]
    items = good[0] + hostile + good[1]
    if kind == "rss":
        text = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{items}'
        text += "</channel></rss>"
    elif kind == "atom":
        text = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{items}</feed>'
    else:
        text = (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
            f" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{items}</urlset>"
        )
    return text.encode("utf-8", "surrogatepass")


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.sampled_from(["rss", "atom", "sitemap"]),
    st.lists(st.sampled_from(HOSTILE), min_size=5, max_size=5),
    st.booleans(),
)
def test_a_hostile_item_costs_at_most_itself(kind: str, values: list[str], raw: bool) -> None:
    """Raw values (``raw``) break the XML itself: a bare ``&``, a NUL, a lone surrogate."""
    body = _xml(kind, _item(kind, values, raw))
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert set(GOOD) <= {entry.url for entry in parsed.entries}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.dictionaries(
        st.sampled_from(["id", "url", "external_url", "title", "summary", "content_text",
                         "date_published", "date_modified", "author", "authors"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(HOSTILE),
                  st.lists(st.sampled_from(HOSTILE), max_size=2),
                  st.dictionaries(st.sampled_from(["name", "url"]), st.sampled_from(HOSTILE))),
    )
)  # fmt: skip
def test_a_json_feed_item_of_any_shape_costs_at_most_itself(item: dict[str, object]) -> None:
    items = [{"url": GOOD[0]}, item, {"url": GOOD[1]}]
    document = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    body = json.dumps(document).encode("utf-8", "surrogatepass")
    parsed = parse_feed(body, feed=FEED, base_url=BASE)
    assert set(GOOD) <= {entry.url for entry in parsed.entries}
    for entry in parsed.entries:
        entry.to_json()
