"""extract_article on real pages: the seed pages of the demo, bad input, metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import SHIPPED_RESIDUE_RULES, ExtractConfig
from pipeline.errors import ExtractionError
from pipeline.extraction import ExtractionResult, LearnedBoilerplate, extract_article, load_rules
from pipeline.extraction.lines import line_key
from pipeline.extraction.nesting import MAX_TAGS
from pipeline.extraction.parse import load_page, parse_page
from pipeline.extraction.rules import ResidueRules
from pipeline.models import FeedEntry

REPO = Path(__file__).resolve().parents[3]
MANIFEST = json.loads((REPO / "demo" / "manifest.json").read_text(encoding="utf-8"))
SEED_PAGES = [p for p in MANIFEST["pages"] if p.get("source_seed")]
NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> ResidueRules:
    return load_rules(SHIPPED_RESIDUE_RULES)


def extract(
    html: str,
    rules: ResidueRules,
    url: str = "https://example.com/news/1",
    entry: FeedEntry | None = None,
) -> ExtractionResult:
    return extract_article(
        html, url=url, entry=entry, rules=rules, learned=None, config=ExtractConfig(), now=NOW
    )


@pytest.mark.parametrize("page", SEED_PAGES, ids=[p["id"] for p in SEED_PAGES])
def test_seed_pages_keep_every_paragraph_and_lose_every_residue_line(
    page: dict[str, object], rules: ResidueRules
) -> None:
    html = (REPO / "demo" / str(page["file"])).read_text(encoding="utf-8")
    result = extract(html, rules, url=str(page["url"]))
    kept = result.text.splitlines()
    for paragraph in page["article_paragraphs"]:  # type: ignore[attr-defined]
        assert paragraph in result.text
    for residue in page["residue_lines"]:  # type: ignore[attr-defined]
        assert residue not in kept
    assert result.language == "en"
    assert result.canonical_url == page["url"]


def test_all_five_seed_residue_lines_are_reported_with_reasons(rules: ResidueRules) -> None:
    page = next(p for p in SEED_PAGES if p["id"] == "presstv-strategic-partnership")
    html = (REPO / "demo" / page["file"]).read_text(encoding="utf-8")
    removed = {r.text: r.reason for r in extract(html, rules, url=page["url"]).removed}
    assert set(MANIFEST["seed_residue_lines"]) <= set(removed)
    assert all(
        removed[line].split(":")[0] in {"rule", "shape"} for line in MANIFEST["seed_residue_lines"]
    )


ARTICLE = """<!DOCTYPE html><html lang="en"><head><title>Budget approved | The Courier</title>
<link rel="canonical" href="https://www.example.com/news/budget">
<meta property="og:site_name" content="The Courier">
<meta property="og:image" content="https://www.example.com/img/1.jpg">
<meta property="article:published_time" content="{date}">
<meta name="author" content="Maria Okafor"></head>
<body><nav><a href="/">Home</a></nav><main><article><h1>Budget approved</h1>
<div class="body"><p>By Maria Okafor</p>
<p>The regional council approved the budget on Monday after a debate that lasted all night.</p>
<p>Opposition members said the plan would cut services in the northern districts by a fifth.</p>
<p>The council will meet again next month to discuss the transport plan and the new bus lanes.</p>
<p>Subscribe to our newsletter</p></div></article></main>
<footer>All rights reserved</footer></body></html>"""


def test_metadata_of_an_ordinary_article(rules: ResidueRules) -> None:
    entry = FeedEntry(
        feed="courier",
        feed_kind="rss",
        url="https://www.example.com/news/budget",
        published_at=datetime(2024, 3, 4, 9, 0, tzinfo=UTC),
    )
    html = ARTICLE.format(date="2024-03-04T10:00:00+01:00")
    result = extract(html, rules, url="https://www.example.com/news/budget?utm=x", entry=entry)
    assert result.title == "Budget approved"
    assert result.authors == ["Maria Okafor"]
    assert result.published_at == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert result.canonical_url == "https://www.example.com/news/budget"
    assert result.site_name == "The Courier"
    assert result.top_image == "https://www.example.com/img/1.jpg"
    assert result.language == "en"
    assert result.flags == []
    assert [(r.text, r.reason) for r in result.removed] == [
        ("By Maria Okafor", "metadata:byline"),
        ("Subscribe to our newsletter", "rule:newsletter"),
    ]
    assert result.text.startswith("Budget approved\nThe regional council approved")


@pytest.mark.parametrize("page", MANIFEST["pages"], ids=[p["id"] for p in MANIFEST["pages"]])
def test_without_a_feed_date_the_page_gives_its_publication_time(
    page: dict[str, str], rules: ResidueRules
) -> None:
    """A WARC backfill or a sitemap without dates has only the page's date. htmldate reads
    the day from a URL like /2026/11/19/ and drops the time the page declares: 10 of the 18
    demo pages were stored at midnight UTC, and a WARC of the demo made the syndicated copy
    (11:05, stored as 00:00) the original of the article it copied (07:40)."""
    html = (REPO / "demo" / page["file"]).read_text(encoding="utf-8")
    result = extract(html, rules, url=page["url"])
    assert result.published_at == datetime.fromisoformat(page["published"])
    assert result.flags == []


def test_a_future_page_date_is_flagged(rules: ResidueRules) -> None:
    html = ARTICLE.format(date="2027-06-01T10:00:00+00:00")
    result = extract(html, rules)
    assert "future_date" in result.flags


@pytest.mark.parametrize(
    ("declared", "repaired"),
    [("2024-02-30T10:00:00Z", "2024-02-01"), ("2024-13-03", "2024-03-13")],
    ids=["no-such-day", "no-such-month"],
)
def test_an_impossible_page_date_gives_way_to_the_feed_date(
    rules: ResidueRules, declared: str, repaired: str
) -> None:
    """htmldate turns an impossible date into another real one (the 1st of the month, or
    day and month swapped), which disagreed with the feed and won: a wrong stored date."""
    published = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    entry = FeedEntry(feed="courier", feed_kind="rss", url="https://www.example.com/news/budget",
                      published_at=published)  # fmt: skip
    html = ARTICLE.format(date=declared)
    page = load_page(html, url=entry.url)
    assert parse_page(page, url=entry.url, config=ExtractConfig(), now=NOW).date.startswith(
        repaired
    )  # what trafilatura reports: the reason for the check
    result = extract(html, rules, url=entry.url, entry=entry)
    assert result.published_at == published
    assert result.flags == ["page_date_invalid"]
    assert extract(html, rules, url=entry.url).published_at is None  # no witness left


def test_a_real_date_declared_next_to_an_impossible_one_is_the_pages(
    rules: ResidueRules,
) -> None:
    """htmldate prefers the "repaired" impossible date (2024-02-01) to the real one."""
    html = ARTICLE.format(date="2024-02-30T10:00:00Z").replace(
        "</head>",
        '<script type="application/ld+json">{"datePublished": "2024-03-04T10:00:00+01:00"}'
        "</script></head>",
    )
    result = extract(html, rules)
    assert result.published_at == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert result.flags == ["page_date_invalid"]


@pytest.mark.parametrize("offset", ["+99:00", "+24:00", "-99:00", "+9999"])
def test_a_page_date_trafilatura_cannot_read_loses_the_metadata_not_the_article(
    rules: ResidueRules, offset: str
) -> None:
    """htmldate raises on an impossible time-zone offset and trafilatura then discards the
    whole page: it was a dead letter "no article text found" (reason empty)."""
    entry = FeedEntry(
        feed="courier",
        feed_kind="rss",
        url="https://www.example.com/news/budget",
        title="Budget approved (feed)",
        published_at=datetime(2024, 3, 4, 9, 0, tzinfo=UTC),
    )
    html = ARTICLE.format(date=f"2024-03-04T10:00:00{offset}")
    result = extract(html, rules, url="https://www.example.com/news/budget", entry=entry)
    assert "The regional council approved the budget on Monday" in result.text
    assert (result.title, result.published_at) == (entry.title, entry.published_at)
    assert result.flags == ["metadata_lost"]


@pytest.mark.parametrize(
    "content",
    [
        "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        "just some plain text, no markup at all, many words here",
        "\x89PNG\r\n\x1a\n\x00\x00",
        "<html>" + "\x00\x01\x02\x00" * 200 + "</html>",  # binary behind a markup-like start
    ],
)
def test_non_html_is_refused_with_a_reason(content: str, rules: ResidueRules) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract(content, rules)
    assert caught.value.reason == "not_html"


def test_a_stray_nul_in_a_page_does_not_lose_the_article(rules: ResidueRules) -> None:
    html = ARTICLE.format(date="2026-11-20T08:00:00Z").replace(
        "regional council", "regional\x00council", 1
    )
    result = extract(html, rules)
    assert "The regionalcouncil approved" in result.text


def test_a_page_without_article_text_is_empty(rules: ResidueRules) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract("<html><head><title>x</title></head><body><nav>Home</nav></body></html>", rules)
    assert caught.value.reason == "empty"


def test_the_page_hash_names_the_page_not_the_filtered_text(rules: ResidueRules) -> None:
    """A learned template line removed on a later extraction changes the text, not the
    page hash; a change on the page changes the hash."""
    html = ARTICLE.format(date="2026-11-20T08:00:00Z")
    line = (
        "The council will meet again next month to discuss the transport plan"
        " and the new bus lanes."
    )
    learned = LearnedBoilerplate("example.com", template=frozenset({line_key(line)}), articles=9)
    cold = extract(html, rules)
    warm = extract_article(
        html, url="https://example.com/news/1", entry=None, rules=rules, learned=learned,
        config=ExtractConfig(max_removed_share=0.9), now=NOW,  # a short page: no guard trip
    )  # fmt: skip
    edited = extract(html.replace("by a fifth", "by a quarter"), rules)
    assert line in cold.text and line not in warm.text
    assert cold.page_hash == warm.page_hash
    assert edited.page_hash not in {None, cold.page_hash}


def nested(html: str, opening: Callable[[int], str], depth: int) -> str:
    """``html`` with its body's content inside ``depth`` elements opened by ``opening(i)``."""
    body = html.index(">", html.index("<body")) + 1
    end = html.rindex("</body>")
    wrappers = "".join(opening(i) for i in range(depth))
    return html[:body] + wrappers + html[body:end] + "</div>" * depth + html[end:]


@pytest.mark.parametrize("depth", [300, 100_000])
def test_an_article_nested_past_the_parsers_limit_is_found_flattened(
    depth: int, rules: ResidueRules
) -> None:
    """libxml2 stops at 256 nested elements and drops the rest of the page: the seed
    article inside 300 (or 100,000) wrapper divs was 'empty'."""
    page = SEED_PAGES[0]
    html = (REPO / "demo" / str(page["file"])).read_text(encoding="utf-8")
    plain = extract(html, rules, url=str(page["url"]))
    result = extract(nested(html, lambda _: "<div>", depth), rules, url=str(page["url"]))
    assert result.text == plain.text
    assert (result.title, result.published_at) == (plain.title, plain.published_at)
    assert result.flags == [*plain.flags, "flattened"]


def test_a_page_nested_too_deep_to_flatten_is_refused_with_its_reason(
    rules: ResidueRules,
) -> None:
    page = SEED_PAGES[0]
    html = (REPO / "demo" / str(page["file"])).read_text(encoding="utf-8")
    hostile = nested(html, lambda i: f'<div id="w{i}">', MAX_TAGS)
    with pytest.raises(ExtractionError) as caught:
        extract(hostile, rules, url=str(page["url"]))
    assert caught.value.reason == "too_deeply_nested"
    assert "stops at 256 nested elements" in str(caught.value)


def test_a_deeply_nested_page_without_an_article_is_still_empty(rules: ResidueRules) -> None:
    html = "<html><head><title>x</title></head><body><nav>Home</nav></body></html>"
    with pytest.raises(ExtractionError) as caught:
        extract(nested(html, lambda _: "<div>", 1000), rules)
    assert caught.value.reason == "empty"
    assert "nested past the HTML parser's limit of 256" in str(caught.value)


def seed_page() -> tuple[str, str, ExtractionResult]:
    """The first seed page's HTML, URL and article as extracted."""
    page = SEED_PAGES[0]
    html = (REPO / "demo" / str(page["file"])).read_text(encoding="utf-8")
    return (
        html,
        str(page["url"]),
        extract(html, load_rules(SHIPPED_RESIDUE_RULES), url=str(page["url"])),
    )


def nested_from_middle(html: str, plain: ExtractionResult, opening: Callable[[int], str],
                       depth: int) -> str:  # fmt: skip
    """``html`` with its body from the article's middle paragraph on inside ``depth``
    elements opened by ``opening(i)``."""
    lines = plain.text.splitlines()
    middle = html.rindex("<p", 0, html.index(lines[len(lines) // 2][:40]))
    end = html.rindex("</body>")
    wrappers = "".join(opening(i) for i in range(depth))
    return html[:middle] + wrappers + html[middle:end] + "</div>" * depth + html[end:]


def test_an_article_cut_in_its_middle_by_the_parser_is_found_whole(rules: ResidueRules) -> None:
    """The parser keeps what comes before its nesting limit: half the article was found,
    and kept as the article, without a sign that the rest was lost."""
    html, url, plain = seed_page()
    result = extract(nested_from_middle(html, plain, lambda _: "<div>", 300), rules, url=url)
    assert result.text == plain.text
    assert result.flags == [*plain.flags, "flattened"]


def test_a_cut_article_too_deep_to_flatten_keeps_its_first_part_flagged(
    rules: ResidueRules,
) -> None:
    html, url, plain = seed_page()
    hostile = nested_from_middle(html, plain, lambda i: f'<div id="w{i}">', MAX_TAGS)
    result = extract(hostile, rules, url=url)
    assert 0 < len(result.text) < len(plain.text)
    assert plain.text.startswith(result.text)
    assert result.flags == [*plain.flags, "nesting_cut"]


def test_a_page_stopped_at_the_parsers_buffer_limit_is_empty_not_too_deeply_nested(
    rules: ResidueRules,
) -> None:
    """A 10 MB script stops libxml2 at its buffer limit, reported as a resource limit as
    its nesting limit is: the page was refused as too deeply nested, after a walk over
    its 10 MB for nothing."""
    html, url, _ = seed_page()
    body = html.index(">", html.index("<body")) + 1
    huge = html[:body] + "<script>" + "x" * 10_500_000 + "</script>" + html[body:]
    with pytest.raises(ExtractionError) as caught:
        extract(huge, rules, url=url)
    assert caught.value.reason == "empty"
    assert "nested" not in str(caught.value)
