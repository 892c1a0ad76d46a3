"""Metadata: one date from several witnesses, language, canonical URL and source domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from courlan import extract_domain

from pipeline.extraction.metadata import (
    DateWitness,
    DeclaredDates,
    choose_date,
    declared_dates,
    detect_language,
    entry_date,
    html_language,
    parse_page_date,
)
from pipeline.extraction.urls import canonical_link, choose_canonical, source_of
from pipeline.models import FeedEntry, article_id
from pipeline.urls import canonicalize_url

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def choose(*witnesses: DateWitness) -> tuple[datetime | None, str | None, list[str]]:
    choice = choose_date(
        list(witnesses),
        now=NOW,
        disagreement=timedelta(days=1),
        future_tolerance=timedelta(hours=1),
    )
    return choice.value, choice.source, choice.flags


def feed(value: datetime, kind: str = "rss") -> DateWitness:
    entry = FeedEntry(feed="f", feed_kind=kind, url="https://e.com/a", published_at=value)  # type: ignore[arg-type]
    witness = entry_date(entry)
    assert witness is not None
    return witness


def test_page_date_parsing_knows_its_precision() -> None:
    day = parse_page_date("2024-03-05T00:00:00")
    stamp = parse_page_date("2024-03-05T10:20:00+0100")
    assert day is not None and not day.precise
    assert (
        stamp is not None
        and stamp.precise
        and stamp.value == datetime(2024, 3, 5, 9, 20, tzinfo=UTC)
    )
    assert parse_page_date("not a date") is None


def test_agreeing_dates_prefer_the_more_precise_one() -> None:
    page_day = parse_page_date("2024-03-05")
    assert page_day is not None
    entry = feed(datetime(2024, 3, 5, 22, 30, tzinfo=UTC))
    assert choose(page_day, entry) == (entry.value, "feed", [])


def test_disagreeing_dates_are_flagged_and_the_page_wins() -> None:
    page = parse_page_date("2024-03-01T08:00:00+0000")
    assert page is not None
    entry = feed(datetime(2024, 3, 8, 8, 0, tzinfo=UTC), kind="sitemap")
    assert choose(page, entry) == (page.value, "page", ["date_disagreement"])


def test_future_dates_are_flagged_and_only_used_as_a_last_resort() -> None:
    future = feed(NOW + timedelta(days=30))
    page = parse_page_date("2024-03-09T10:00:00+0000")
    assert page is not None
    assert choose(page, future) == (page.value, "page", ["future_date"])
    assert choose(future) == (future.value, "feed", ["future_date"])
    assert choose(feed(NOW + timedelta(minutes=20)))[2] == []  # clock skew is tolerated


JSON_LD = '<script type="application/ld+json">{"datePublished": "%s", "dateModified": "x"}'


@pytest.mark.parametrize(
    ("html", "declared"),
    [
        ('<meta property="article:published_time" content="2026-02-30T10:00:00Z">',
         DeclaredDates(impossible=("2026-02-30T10:00:00Z",))),
        ('<meta content="2026-13-05" property="article:published_time">',
         DeclaredDates(impossible=("2026-13-05",))),
        ('<meta name="DC.date.issued" content="2024-2-29">', DeclaredDates(("2024-02-29",))),
        (JSON_LD % "2025-11-31T08:00:00Z", DeclaredDates(impossible=("2025-11-31T08:00:00Z",))),
        (JSON_LD % "2025-11-30T08:00:00Z", DeclaredDates(("2025-11-30T08:00:00Z",))),
        ('<meta name="pubdate" content="Tue, 05 Mar 2024 10:20:00 GMT">', DeclaredDates()),
        ('<meta name="description" content="2026-02-30 was no day">', DeclaredDates()),
        ("<head></head><body><meta name='publish-date' content='2026-02-30'></body>",
         DeclaredDates()),  # only the head's <meta> declare
    ],
    ids=["meta", "content-first", "dc-date", "json-ld", "json-ld-real", "rfc-822", "not-a-date",
         "in-body"],
)  # fmt: skip
def test_declared_publication_dates_are_read_as_calendar_days(
    html: str, declared: DeclaredDates
) -> None:
    assert declared_dates(html) == declared


def test_htmldate_is_the_witness_unless_it_made_its_date_up_from_an_impossible_one() -> None:
    assert DeclaredDates().page_date("2024-02-01") == "2024-02-01"
    assert DeclaredDates(impossible=("2024-02-30",)).page_date(None) is None
    assert DeclaredDates(impossible=("2024-02-30",)).page_date("2024-02-01T00:00:00") is None
    both = DeclaredDates(("2024-03-04T10:00:00+01:00",), ("2024-02-30",))
    assert both.page_date("2024-03-04T10:00:00+0100") == "2024-03-04T10:00:00+0100"
    assert both.page_date("2024-02-01") == "2024-03-04T10:00:00+01:00"


def test_a_day_only_page_date_takes_the_time_the_page_declares_that_day() -> None:
    declared = DeclaredDates(("2024-03-03T23:00:00Z", "2024-03-04T10:00:00+01:00"))
    assert declared.with_time_of_day("2024-03-04T00:00:00") == "2024-03-04T10:00:00+01:00"
    assert declared.with_time_of_day("2024-03-04") == "2024-03-04T10:00:00+01:00"
    assert declared.with_time_of_day("2024-03-04T08:00:00+0000") == "2024-03-04T08:00:00+0000"
    assert declared.with_time_of_day("2024-03-05T00:00:00") == "2024-03-05T00:00:00"
    assert DeclaredDates(("2024-03-04",)).with_time_of_day("2024-03-04") == "2024-03-04"
    assert declared.with_time_of_day(None) is None


def test_no_witness_no_date() -> None:
    assert choose() == (None, None, [])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The council approved the new budget on Monday after a long debate about schools.", "en"),
        ("Die Bundesregierung hat am Montag neue Maßnahmen für den Wohnungsbau beschlossen.", "de"),
        ("Le gouvernement a annoncé lundi de nouvelles mesures pour le logement social.", "fr"),
        ("El Gobierno anunció el lunes nuevas medidas para la vivienda en toda España.", "es"),
    ],
)
def test_language_is_detected_offline(text: str, code: str) -> None:
    assert detect_language(text, sample_chars=600, fallback=None) == code


def test_short_text_falls_back_to_the_declared_language() -> None:
    html = '<!DOCTYPE html><html lang="de-AT"><head></head><body></body></html>'
    assert html_language(html) == "de"
    assert detect_language("Kurz.", sample_chars=600, fallback=html_language(html)) == "de"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<link rel="canonical" href="https://www.example.com/a/1">',
            "https://www.example.com/a/1",
        ),
        ("<link href='/a/1?x=1#top' rel='canonical'>", "https://example.com/a/1?x=1"),
        (
            '<link rel="canonical" href="https://example.com/a/1?utm_source=x&id=3&fbclid=y#top">',
            "https://example.com/a/1?id=3",
        ),
        ('<link rel="canonical" href="HTTPS://M.Example.COM:443/a/1/">', "https://example.com/a/1"),
        (
            '<link rel="canonical" href="https://www.google.com/amp/s/partner-wire.example/story/9">',
            "https://example.com/page",
        ),
        (
            '<link rel="canonical" href="https://partner-wire.example/story/9">',
            "https://example.com/page",
        ),
        ('<link rel="canonical" href="javascript:alert(1)">', "https://example.com/page"),
        ('<link rel="canonical" href="http://[::1">', "https://example.com/page"),
        ('<link rel="canonical" href="http://[zz]/a">', "https://example.com/page"),
        ('<link rel="stylesheet" href="/s.css">', "https://example.com/page"),
    ],
)
def test_canonical_link_only_when_it_stays_on_the_same_site(head: str, expected: str) -> None:
    html = f"<html><head>{head}</head><body><p>x</p></body></html>"
    assert choose_canonical(html, "https://example.com/page") == expected


def test_a_canonical_link_with_tracking_parameters_gives_the_feed_links_id() -> None:
    """Sites echo a reader's campaign parameters into their canonical link; the article id
    is made from the canonical URL, so it must not change with them."""
    listed = canonicalize_url("https://example.com/a/1?utm_source=rss")
    head = '<link rel="canonical" href="https://example.com/a/1?utm_source=x#top">'
    html = f"<html><head>{head}</head><body><p>x</p></body></html>"
    assert article_id(choose_canonical(html, listed)) == article_id(listed)


def test_canonical_link_in_the_body_is_ignored() -> None:
    html = (
        '<html><head></head><body><link rel="canonical" href="https://example.com/x"></body></html>'
    )
    assert canonical_link(html) is None


def test_source_is_the_registrable_domain() -> None:
    assert source_of("https://www.example.com/a") == "example.com"
    assert source_of("https://news.bbc.co.uk/a") == "bbc.co.uk"
    assert source_of("https://www.harbourherald.example/x") == "harbourherald.example"
    assert source_of("http://127.0.0.1:8000/x") == "127.0.0.1"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.com/a?b=1#c",
        "https://user:secret@News.BBC.co.uk:8443/path",
        "https://news.bbc.co.uk./trailing-dot",
        "http://[2001:db8::1]:8080/v6",
        "http://192.168.0.7/ip",
        "https://bücher.example.de/idn",
        "https://xn--bcher-kva.de/punycode",
        "https://a.b.c.d.example.co.jp/deep",
        "https://localhost/x",
        "https://www/x",
        "https://blogspot.com/x",
        "https://someone.blogspot.com/x",
    ],
)
def test_source_per_host_is_what_the_lookup_gives_per_url(url: str) -> None:
    """The lookup is cached by host: it must give what the Public Suffix List lookup of
    the whole URL gives (registrable domain, else the host without ``www.``)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    assert source_of(url) == (extract_domain(url) or host.removeprefix("www."))


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://2130706433/a", "127.0.0.1"),
        ("http://%31%32%37.0.0.1/a", "127.0.0.1"),
        ("http://EXAMPLE.com%2E/", "example.com"),
        ("http://m.News.Example%2Ecom./a", "example.com"),
        ("http://B%C3%BCcher.example/a", "xn--bcher-kva.example"),
        ("https://bücher.de/a", "xn--bcher-kva.de"),
        ("https://m.news.example/a/amp", "news.example"),
        ("http://[0:0::1]:8080/", "::1"),
    ],
)
def test_source_is_read_from_the_host_the_key_names(url: str, source: str) -> None:
    """The publisher of a URL is the publisher of its key: ``0x7f.1`` or an escaped host was
    its own source while the key (and the fetcher) said 127.0.0.1 or example.com."""
    assert source_of(url) == source
    assert source_of(canonicalize_url(url)) == source


@pytest.mark.parametrize("url", ["http://example.123/", "http://xn--zz-.example/", "http:///x"])
def test_a_url_the_key_refuses_has_no_source(url: str) -> None:
    assert source_of(url) == ""
