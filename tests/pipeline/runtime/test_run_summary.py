"""The run summary counts each article once, by its last verdict."""

import pytest

from pipeline.cli.run import exit_status
from pipeline.errors import FetchError, HostBlocked
from pipeline.models import DuplicateEvent, EnrichedArticle, FeedEntry, utcnow
from pipeline.polling import PollResult
from pipeline.runtime.summary import RunSummary


def article(article_id: str, topics: list[str]) -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id, url=f"http://a.example/{article_id}", canonical_url=f"http://a.example/{article_id}",
        text="t", source="a.example", fetched_at=utcnow(), topics=topics, cluster_id=article_id,
    )  # fmt: skip


def test_a_repeat_counts_once_and_a_re_pointed_article_counts_as_a_duplicate() -> None:
    summary = RunSummary()
    copy = article("copy", ["economy-business-finance"])
    summary.count_stored(copy)
    summary.count_stored(article("original", ["economy-business-finance", "politics/elections"]))
    summary.count_stored(article("original", ["economy-business-finance", "politics/elections"]))
    summary.count_stored(
        DuplicateEvent(
            id="copy",
            url=copy.url,
            duplicate_of="original",
            cluster_id="original",
            similarity=0.9,
            method="near_duplicate",
            article=copy,
        )
    )
    assert (summary.articles, summary.duplicates) == (1, 1)
    assert summary.topics == {"economy-business-finance": 1}
    assert "duplicates found:  1" in summary.render()


def test_a_long_run_keeps_a_bounded_summary_with_exact_totals() -> None:
    summary = RunSummary(max_tracked=10)
    for n in range(1_000):
        summary.count_stored(article(f"a{n}", ["sport"]))
    assert len(summary.verdicts) == 10
    assert (summary.articles, summary.duplicates) == (1_000, 0)
    assert summary.topics == {"sport": 1_000}


def test_a_page_two_feeds_list_is_counted_as_listed_again_within_the_bound() -> None:
    def poll(feed: str, *paths: str) -> PollResult:
        listed = [FeedEntry(feed=feed, feed_kind="rss", url=f"http://a.example/{p}") for p in paths]
        return PollResult(feed, "ok", entries=listed)

    summary = RunSummary(max_tracked=2)
    summary.count_poll(poll("f", "1", "2"))
    summary.count_poll(poll("g", "2", "3"))
    assert (summary.entries, summary.listed_again) == (4, 1)
    assert "new entries:       4 (1 listed by another feed too)" in summary.render()
    summary.count_poll(poll("h", "1"))  # forgotten: only the last two URLs are kept
    assert summary.listed_again == 1
    assert list(summary.listed) == ["http://a.example/3", "http://a.example/1"]
    other = RunSummary()
    other.count_poll(poll("k", "9", "9"))
    summary.merge(other)
    assert summary.listed_again == 2
    assert list(summary.listed) == ["http://a.example/1", "http://a.example/9"]
    assert "new entries:       0" in RunSummary().render()


def test_a_feed_read_in_part_is_shown_and_fails_a_once_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = RunSummary()
    entries = [FeedEntry(feed="f", feed_kind="rss", url=f"http://a.example/{i}") for i in range(3)]
    summary.count_poll(PollResult("f", "ok", entries=entries, child_errors=["x.warc: damaged"]))
    summary.count_poll(PollResult("g", "not_modified"))

    assert "feeds polled:      2 (0 failed, 1 not modified, 1 read in part)" in summary.render()
    assert exit_status(summary) == 1
    assert "1 feed read in part" in capsys.readouterr().err
    clean = RunSummary()
    clean.count_poll(PollResult("f", "ok", entries=entries[:1]))
    assert "(0 failed, 0 not modified)" in clean.render()
    assert exit_status(clean) == 0


def test_a_deferred_feed_is_shown_apart_and_does_not_fail_a_once_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = RunSummary()
    blocked = HostBlocked("a.example asked to wait", url="http://a.example/feed", status=503)
    summary.count_poll(PollResult("f", "error", error=blocked))
    summary.count_poll(PollResult("g", "not_modified"))

    assert exit_status(summary) == 0
    assert capsys.readouterr().err == ""
    assert "feeds polled:      2 (0 failed, 1 deferred, 1 not modified)" in summary.render()
    assert (summary.feeds_failed, summary.feeds_deferred) == (0, 1)
    broken = RunSummary()
    broken.count_poll(
        PollResult("h", "error", error=FetchError("refused", url="http://b.example/feed"))
    )
    summary.merge(broken)
    assert (summary.feeds_failed, summary.feeds_deferred) == (1, 1)
    assert exit_status(summary) == 1
    assert "1 feed failed" in capsys.readouterr().err


def test_dead_lettered_says_it_counts_failures_retries_included() -> None:
    """A long-running service retries pages by itself: its count of failures exceeds the
    letters still waiting, and the line must not read as the number waiting."""
    assert "  dead-lettered:     0\n" in RunSummary().render()
    failing = RunSummary(failures=3)
    assert "dead-lettered:     3 (failures, retries that failed again included)" in (
        failing.render()
    )
