"""Which candidate confirms, which match wins, and the canonical order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pipeline.config import DedupConfig
from pipeline.dedup.decide import Candidate, best_match, confirm, precedes
from pipeline.dedup.fingerprint import UNDATED, Fingerprint, Fingerprinter, order_key
from pipeline.models import EnrichedArticle, article_id

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
TEXT, OTHER = (p.read_text(encoding="utf-8") for p in SEEDS)
CONFIG = DedupConfig()
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def fingerprint(url: str, text: str, published: datetime | None = NOW) -> Fingerprint:
    article = EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title="t",
        text=text,
        published_at=published,
        source="example.com",
        fetched_at=NOW,
    )
    return Fingerprinter(CONFIG).of(article)


def candidate(fp: Fingerprint) -> Candidate:
    return Candidate(
        fp.article_id, fp.article_id, fp.order, fp.url_keys[0], fp.text_hash, fp.shingles
    )


def test_url_variants_match_by_url() -> None:
    original = fingerprint("https://news.example/a/story", TEXT)
    amp = fingerprint("https://m.news.example/a/story/amp?utm_source=rss", "Short teaser.")
    match = confirm(amp, candidate(original), CONFIG)
    assert match is not None and match.method == "url"


def test_reformatted_text_matches_by_hash() -> None:
    original = fingerprint("https://one.example/a", TEXT)
    copy = fingerprint("https://two.example/b", TEXT.upper().replace("\n\n", "\n"))
    match = confirm(copy, candidate(original), CONFIG)
    assert match is not None and (match.method, match.similarity) == ("text_hash", 1.0)


def test_copy_with_boilerplate_matches_by_jaccard() -> None:
    original = fingerprint("https://one.example/a", TEXT)
    copy = fingerprint(
        "https://two.example/b",
        "Subscribe to our newsletter.\n" + TEXT + "\nCopyright 2024 Wire. All rights reserved.",
    )
    match = confirm(copy, candidate(original), CONFIG)
    assert match is not None and match.method == "near_duplicate"
    assert CONFIG.near_duplicate_threshold <= match.similarity < 1.0


def test_seventy_to_ninety_percent_truncations_match() -> None:
    words = TEXT.split(" ")
    original = fingerprint("https://one.example/a", TEXT)
    for share in (0.7, 0.8, 0.9):
        cut = fingerprint("https://two.example/b", " ".join(words[: int(len(words) * share)]))
        match = confirm(cut, candidate(original), CONFIG)
        assert match is not None and match.method == "near_duplicate"
        assert abs(match.similarity - share) < 0.05  # Jaccard of a clean prefix ~ its share


def test_short_excerpt_below_jaccard_matches_by_containment() -> None:
    words = TEXT.split(" ")
    original = fingerprint("https://one.example/a", TEXT)
    cut = fingerprint("https://two.example/b", " ".join(words[: int(len(words) * 0.4)]))
    match = confirm(cut, candidate(original), CONFIG)
    assert match is not None and match.similarity == 1.0  # recorded score: containment


def test_same_topic_different_story_is_not_confirmed() -> None:
    a = fingerprint("https://one.example/a", TEXT)
    b = fingerprint("https://two.example/b", OTHER)
    assert confirm(a, candidate(b), CONFIG) is None


def test_texts_below_min_shingles_are_not_compared_by_text() -> None:
    a = fingerprint("https://one.example/a", "Watch the video.")
    b = fingerprint("https://two.example/b", "Watch the video.")
    assert a.text_hash is None and len(a.shingles) == 0 and a.bucket_keys == ()
    assert confirm(a, candidate(b), CONFIG) is None


def test_best_match_prefers_url_then_score_then_earliest() -> None:
    new = fingerprint("https://one.example/a", TEXT)
    by_url = candidate(fingerprint("https://one.example/a?utm_source=x", OTHER))
    early = candidate(fingerprint("https://two.example/b", TEXT, NOW - timedelta(hours=1)))
    late = candidate(fingerprint("https://three.example/c", TEXT, NOW + timedelta(hours=1)))
    assert best_match(new, [late, early, by_url], CONFIG).candidate == by_url
    assert best_match(new, [late, early], CONFIG).candidate == early
    assert best_match(new, [], CONFIG) is None


def test_canonical_order_is_publication_time_then_id() -> None:
    assert order_key(None) == UNDATED
    naive = datetime(2024, 5, 1, 12, 0)
    assert order_key(naive) == order_key(naive.replace(tzinfo=UTC))
    assert order_key(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == order_key(
        naive
    )
    assert order_key(naive) < UNDATED
    assert precedes((order_key(naive), "b"), (order_key(naive), "c"))
    assert not precedes((UNDATED, "a"), (order_key(naive), "z"))
