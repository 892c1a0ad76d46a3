"""FeedPoller against a fake fetcher: new entries only, conditional GET, crash-safe commits."""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from connectors.http.base import FetchResponse, Purpose
from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Database
from connectors.storage.feed_state import FeedStateRepository, Validators
from pipeline.config import Config, FeedConfig, parse_config
from pipeline.errors import (
    FetchTimeout,
    HostBlocked,
    HttpStatusError,
    RateLimited,
    StoreUnavailable,
)
from pipeline.models import EnrichedArticle, article_id, utcnow
from pipeline.polling import FeedPoller, PollResult
from pipeline.polling import poller as poller_module
from pipeline.polling.poller import WARC_BATCH

Handler = Callable[[str, str | None, str | None], FetchResponse]


@dataclass
class Call:
    url: str
    purpose: str
    etag: str | None
    last_modified: str | None


@dataclass
class FakeFetcher:
    """Serves bodies from a dict and honours ETags like a well-behaved server."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    etags: bool = True
    errors: dict[str, Exception] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        self.calls.append(Call(url, purpose, etag, last_modified))
        if url in self.errors:
            raise self.errors[url]
        body = self.bodies[url]
        tag = f'"{hash(body) & 0xFFFFFFFF:x}"' if self.etags else None
        headers = {"content-type": "application/xml", **self.headers}
        if tag:
            headers["etag"] = tag
            if etag == tag:
                return FetchResponse(url=url, status=304, body=b"", headers=headers)
        return FetchResponse(url=url, status=200, body=body, headers=headers)

    def fetch_local_feed(
        self, path: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResponse:
        self.calls.append(Call(path, "local", etag, last_modified))
        return FetchResponse(url=path, status=200, body=Path(path).read_bytes(), headers={})

    def close(self) -> None:
        pass


def rss(*items: tuple[str, str | None]) -> bytes:
    """An RSS 2.0 body with (link, guid) items."""
    parts = []
    for link, guid in items:
        guid_xml = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
        parts.append(f"<item><title>t</title><link>{link}</link>{guid_xml}</item>")
    return f'<rss version="2.0"><channel>{"".join(parts)}</channel></rss>'.encode()


URL = "https://news.example.com/feed.xml"
FEED = FeedConfig(name="news", url=URL)


def make_config(**schedule: object) -> Config:
    return parse_config({"feeds": [FEED.model_dump()], "schedule": schedule})


@pytest.fixture
def repo(tmp_path: Path) -> FeedStateRepository:
    return FeedStateRepository(Database(f"sqlite:///{tmp_path / 'state.db'}"))


def poll_and_commit(poller: FeedPoller, feed: FeedConfig = FEED) -> PollResult:
    result = poller.poll(feed)
    poller.commit(feed, result)
    return result


def test_second_poll_of_unchanged_feed_sends_validators_and_yields_nothing(
    repo: FeedStateRepository,
) -> None:
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "1a"), ("/b", "2b"))})
    poller = FeedPoller(fetcher, repo, make_config())
    first = poll_and_commit(poller)
    assert first.status == "ok" and first.kind == "rss"
    assert [e.url for e in first.entries] == [
        "https://news.example.com/a",
        "https://news.example.com/b",
    ]
    second = poll_and_commit(poller)
    assert fetcher.calls[0].etag is None
    assert fetcher.calls[1].etag == repo.get("news").validators[URL].etag is not None
    assert fetcher.calls[1].purpose == "feed"
    assert second.status == "not_modified" and second.not_modified
    assert second.entries == []


def test_unchanged_feed_without_validators_yields_nothing_new(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "g-a"))}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    assert len(poll_and_commit(poller).entries) == 1
    again = poll_and_commit(poller)
    assert again.status == "ok" and again.entries == [] and again.total_entries == 1


def test_unstable_guids_and_tracking_variants_are_not_new(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher(
        {
            URL: rss(
                ("https://news.example.com/a", "guid-a-1"), ("https://news.example.com/s", "g-s")
            )
        },
        etags=False,
    )
    poller = FeedPoller(fetcher, repo, make_config())
    poll_and_commit(poller)
    fetcher.bodies[URL] = rss(
        ("https://news.example.com/a", "guid-a-2"),  # same URL, new GUID
        ("https://news.example.com/a/?utm_source=rss", "guid-a-3"),  # tracking variant
        ("https://news.example.com/slug-edited", "g-s"),  # same GUID, edited slug
        ("https://news.example.com/c", "guid-c"),  # really new
    )
    result = poll_and_commit(poller)
    assert [e.url for e in result.entries] == ["https://news.example.com/c"]


def test_unusable_guids_do_not_hide_new_articles(repo: FeedStateRepository) -> None:
    """Positional GUIDs ("1", "2") and GUIDs repeated in one document are ignored."""
    fetcher = FakeFetcher(
        {
            URL: rss(
                ("https://news.example.com/a", "1"),
                ("https://news.example.com/b", "same"),
                ("https://news.example.com/c", "same"),
            )
        },
        etags=False,
    )
    poller = FeedPoller(fetcher, repo, make_config())
    assert len(poll_and_commit(poller).entries) == 3
    fetcher.bodies[URL] = rss(
        ("https://news.example.com/new", "1"), ("https://news.example.com/newer", "same")
    )
    assert [e.url for e in poll_and_commit(poller).entries] == [
        "https://news.example.com/new",
        "https://news.example.com/newer",
    ]


def test_entries_are_redelivered_until_committed(repo: FeedStateRepository) -> None:
    """A crash between poll and commit re-delivers: nothing is marked seen before commit."""
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    poller = FeedPoller(fetcher, repo, make_config())
    first = poller.poll(FEED)
    # ... process dies here: no commit ...
    restarted = FeedPoller(fetcher, FeedStateRepository(repo.db), make_config())
    again = restarted.poll(FEED)
    assert fetcher.calls[1].etag is None  # validators were not saved either
    assert [e.url for e in again.entries] == [e.url for e in first.entries]
    restarted.commit(FEED, again)
    restarted.commit(FEED, again)  # committing twice is harmless
    assert restarted.poll(FEED).entries == []


def test_entries_marked_before_the_commit_are_numbered_once(repo: FeedStateRepository) -> None:
    """The embedded service marks entries seen as they are stored; the commit then numbers
    only the rest, so the seen window keeps as many keys as without the early marks."""
    items = [(f"https://news.example.com/{n}", f"guid-{n}") for n in "abcd"]
    fetcher = FakeFetcher({URL: rss(*items)})
    poller = FeedPoller(fetcher, repo, make_config())
    result = poller.poll(FEED)
    poller.mark_seen(FEED, result, result.entries[:2])
    assert repo.get("news").seen_seq == 4  # two entries, a URL key and a GUID key each
    assert repo.get("news").validators == {}
    poller.commit(FEED, result)
    assert repo.get("news").seen_seq == repo.count_seen("news") == 8
    assert poller.poll(FEED).entries == []


def test_seen_window_is_bounded_and_listed_entries_stay_seen(repo: FeedStateRepository) -> None:
    config = make_config(seen_window=10, max_entries_per_poll=5)
    pinned = ("https://news.example.com/pinned", "pinned")
    fetcher = FakeFetcher({}, etags=False)
    poller = FeedPoller(fetcher, repo, config)
    delivered: list[str] = []
    for round_ in range(12):
        fresh = [(f"https://news.example.com/{round_}-{i}", f"{round_}-{i}") for i in range(2)]
        fetcher.bodies[URL] = rss(pinned, *fresh)
        delivered += [e.url for e in poll_and_commit(poller).entries]
        assert repo.count_seen("news") <= 10
    assert delivered.count("https://news.example.com/pinned") == 1
    assert len(delivered) == 1 + 12 * 2


def test_failures_back_off_log_once_and_recover(
    repo: FeedStateRepository, caplog: pytest.LogCaptureFixture
) -> None:
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    fetcher.errors[URL] = FetchTimeout("timed out after 30 s", url=URL)
    poller = FeedPoller(fetcher, repo, make_config(unhealthy_after_failures=3))
    caplog.set_level(logging.WARNING, logger="pipeline.polling.poller")
    for _ in range(6):
        result = poll_and_commit(poller)
        assert result.status == "error" and result.entries == []
        assert result.error is not None and result.error.reason == "timeout"
    state = repo.get("news")
    assert state.failures == 6 and state.unhealthy
    assert state.last_error_reason == "timeout" and "timed out" in (state.last_error or "")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # first failure, then "marked unhealthy": not one per poll
    assert "unhealthy" in warnings[1]
    del fetcher.errors[URL]
    assert len(poll_and_commit(poller).entries) == 1
    state = repo.get("news")
    assert state.failures == 0 and not state.unhealthy and state.last_success_at is not None


def test_a_feed_on_a_blocked_host_is_deferred_not_failed(repo: FeedStateRepository) -> None:
    """An article of the same host answered 503 with Retry-After: the feed is not
    requested, and that is not the feed's failure (six of these made it unhealthy)."""
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    fetcher.errors[URL] = HostBlocked("news.example.com: 40 s left", url=URL, status=503,
                                      retry_after=40)  # fmt: skip
    poller = FeedPoller(fetcher, repo, make_config(unhealthy_after_failures=3))
    for _ in range(4):
        result = poll_and_commit(poller)
        assert result.deferred and result.retry_after == 40
    state = repo.get("news")
    assert (state.failures, state.unhealthy, state.last_error) == (0, False, None)
    del fetcher.errors[URL]
    assert len(poll_and_commit(poller).entries) == 1


def test_a_bug_met_on_one_feed_fails_that_feed_only(
    repo: FeedStateRepository, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever a feed's input provokes that the code did not foresee (here a ValueError,
    as urljoin raised for "http://[::1"), it is that feed's failure, logged as a bug."""
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    fetcher.errors[URL] = ValueError("Invalid IPv6 URL")
    caplog.set_level(logging.ERROR, logger="pipeline.polling.poller")

    result = poll_and_commit(FeedPoller(fetcher, repo, make_config()))

    assert result.status == "error" and result.error is not None
    assert result.error.reason == "internal"
    assert "ValueError: Invalid IPv6 URL" in str(result.error)
    [line] = [r.getMessage() for r in caplog.records]
    assert "this is a bug" in line
    assert repo.get("news").last_error_reason == "internal"


def test_a_storage_error_is_not_mistaken_for_a_feed_failure(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({})
    fetcher.errors[URL] = StoreUnavailable("the store went away")
    with pytest.raises(StoreUnavailable):
        FeedPoller(fetcher, repo, make_config()).poll(FEED)


def test_retry_after_is_carried_in_the_result(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({})
    fetcher.errors[URL] = RateLimited("429", url=URL, status=429, retry_after=120)
    result = FeedPoller(fetcher, repo, make_config()).poll(FEED)
    assert result.status == "error" and result.retry_after == 120


def test_bad_feed_body_is_an_error_result_not_an_exception(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: b"<html><body>Sign in</body></html>"})
    result = FeedPoller(fetcher, repo, make_config()).poll(FEED)
    assert result.status == "error"
    assert result.error is not None and result.error.reason == "html_not_feed"


SITEMAP_INDEX = "https://news.example.com/sitemap_index.xml"


def sitemap(*locs: str) -> bytes:
    urls = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()


def index(*children: str) -> bytes:
    items = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<sitemapindex xmlns="{namespace}">{items}</sitemapindex>'.encode()


def test_sitemap_index_children_are_followed_bounded_and_conditionally(
    repo: FeedStateRepository,
) -> None:
    feed = FeedConfig(name="maps", url=SITEMAP_INDEX)
    children = [f"https://news.example.com/sitemap-{i}.xml" for i in range(5)]
    fetcher = FakeFetcher({SITEMAP_INDEX: index(*children)})
    for i, child in enumerate(children):
        fetcher.bodies[child] = sitemap(f"https://news.example.com/story-{i}")
    fetcher.errors[children[1]] = HttpStatusError("404", url=children[1], status=404)
    poller = FeedPoller(fetcher, repo, make_config(max_child_sitemaps=3))
    first = poll_and_commit(poller, feed)
    assert first.status == "ok" and first.kind == "sitemap"
    assert sorted(e.url for e in first.entries) == [
        "https://news.example.com/story-0",
        "https://news.example.com/story-2",
    ]
    assert len(first.child_errors) == 1 and "sitemap-1.xml" in first.child_errors[0]
    assert [c.url for c in fetcher.calls] == [SITEMAP_INDEX, *children[:3]]
    fetcher.calls.clear()
    fetcher.bodies[SITEMAP_INDEX] = index(*children, "https://news.example.com/sitemap-new.xml")
    fetcher.bodies["https://news.example.com/sitemap-new.xml"] = sitemap(
        "https://news.example.com/story-new"
    )
    second = poll_and_commit(poller, feed)
    sent = {c.url: c.etag for c in fetcher.calls}
    assert sent[children[0]] is not None  # the unchanged child was asked "changed since?"
    assert second.entries == []  # children 0 and 2 unchanged, 1 still failing, budget of 3


def test_children_over_the_cap_are_said_and_counted_not_left_out_silently(
    repo: FeedStateRepository, caplog: pytest.LogCaptureFixture
) -> None:
    """An index of 10,000 children read 20 of them and said nothing of the other 9,980."""
    feed = FeedConfig(name="big-index", url=SITEMAP_INDEX)
    children = [f"https://news.example.com/sitemap-{i}.xml" for i in range(10)]
    fetcher = FakeFetcher({SITEMAP_INDEX: index(*children, children[0])})
    for i, child in enumerate(children):
        fetcher.bodies[child] = sitemap(f"https://news.example.com/story-{i}")
    caplog.set_level(logging.WARNING, logger="pipeline.polling.poller")
    counted = "newsflow_feed_child_sitemaps_over_cap_total"
    before = REGISTRY.get_sample_value(counted, {"feed": "big-index"}) or 0

    result = poll_and_commit(FeedPoller(fetcher, repo, make_config(max_child_sitemaps=3)), feed)

    assert result.status == "ok" and len(result.entries) == 3
    [warning] = [r.getMessage() for r in caplog.records]
    assert "7 child sitemaps of the index not read, over schedule.max_child_sitemaps (3)" in (
        warning
    )
    assert REGISTRY.get_sample_value(counted, {"feed": "big-index"}) == before + 7


def test_an_index_whose_every_child_fails_is_the_feeds_failure(
    repo: FeedStateRepository,
) -> None:
    children = [f"https://news.example.com/sitemap-{i}.xml" for i in range(3)]
    fetcher = FakeFetcher({SITEMAP_INDEX: index(*children)})
    for child in children:
        fetcher.errors[child] = HttpStatusError("404", url=child, status=404)
    feed = FeedConfig(name="news", url=SITEMAP_INDEX)

    result = FeedPoller(fetcher, repo, make_config()).poll(feed)

    assert result.status == "error" and result.error is not None
    assert result.error.reason == "children_failed"
    assert "every child sitemap of the index failed (3)" in str(result.error)


def _loops_counted(feed: str) -> float:
    labels = {"feed": feed, "reason": "loop"}
    return REGISTRY.get_sample_value("newsflow_feed_child_sitemap_failures_total", labels) or 0.0


@pytest.mark.parametrize("shape", ["itself", "each-other"])
def test_an_index_that_leads_only_back_to_itself_is_the_feeds_failure(
    repo: FeedStateRepository, shape: str
) -> None:
    """It was polled "ok" with no entries, every time, with no word in the log or metrics."""
    other = "https://news.example.com/sitemap-other.xml"
    fetcher = FakeFetcher({SITEMAP_INDEX: index(SITEMAP_INDEX)})
    if shape == "each-other":
        fetcher.bodies = {SITEMAP_INDEX: index(other), other: index(SITEMAP_INDEX)}
    feed = FeedConfig(name=f"loop-{shape}", url=SITEMAP_INDEX)
    before = _loops_counted(feed.name)

    result = FeedPoller(fetcher, repo, make_config()).poll(feed)

    assert result.status == "error" and result.error is not None
    assert result.error.reason == "sitemap_loop"
    assert f"leads back to {SITEMAP_INDEX}, already read" in str(result.error)
    assert _loops_counted(feed.name) == before + 1


def test_an_index_listing_itself_beside_its_sitemaps_is_read_as_usual(
    repo: FeedStateRepository,
) -> None:
    child = "https://news.example.com/sitemap-news.xml"
    fetcher = FakeFetcher(
        {SITEMAP_INDEX: index(SITEMAP_INDEX, child), child: sitemap("https://news.example.com/1")}
    )
    feed = FeedConfig(name="self-listed", url=SITEMAP_INDEX)
    before = _loops_counted(feed.name)

    result = FeedPoller(fetcher, repo, make_config()).poll(feed)

    assert result.status == "ok" and [e.url for e in result.entries] == [
        "https://news.example.com/1"
    ]
    assert result.child_errors == []
    assert _loops_counted(feed.name) == before + 1


def test_hostile_children_of_an_index_cost_themselves_and_the_others_still_yield(
    repo: FeedStateRepository,
) -> None:
    """An index whose children are hostile: one malformed, one over the size cap, one with
    entity declarations behind a nested index, one with a broken root tag and one with a
    title over lxml's 10 MB text limit. The last two were lost whole (malformed) or lost
    the entry holding the title; each of the others costs only itself."""
    root = "https://news.example.com/sitemap-"
    namespace = b"xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
    news = b" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'"
    broken_root = b"<urlset " + namespace + b" a='1' a='2'><url><loc>" + root.encode() + b"b</loc>"
    long_title = (
        b"<urlset " + namespace + news + b"><url><loc>" + root.encode() + b"t</loc><news:news>"
        b"<news:title>" + b"x" * 11_000_000 + b"</news:title></news:news></url></urlset>"
    )
    fetcher = FakeFetcher(
        {
            SITEMAP_INDEX: index(
                *(root + name for name in ("good", "bad", "big", "nest", "b", "t"))
            ),
            root + "good": sitemap(root + "g"),
            root + "bad": b"<urlset><url><loc>https://news.example.com/x</loc></url",
            root + "big": sitemap(root + "z").replace(b"<url>", b" " * 21_000_000 + b"<url>"),
            root + "nest": index(root + "deep", root + "entities"),
            root + "deep": sitemap(root + "d"),
            root + "entities": b'<!DOCTYPE x [<!ENTITY a "b">]><urlset/>',
            root + "b": broken_root + b"</url></urlset>",
            root + "t": long_title,
        }
    )
    config = make_config(max_feed_bytes=20_000_000)

    result = FeedPoller(fetcher, repo, config).poll(FeedConfig(name="hostile", url=SITEMAP_INDEX))

    assert result.status == "ok"
    assert sorted(e.url for e in result.entries) == [root + n for n in ("b", "d", "g", "t")]
    failed = sorted(error.split(": ", 1)[0] for error in result.child_errors)
    assert failed == [root + n for n in ("bad", "big", "entities")]


def test_some_failing_children_are_logged_once(
    repo: FeedStateRepository, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = "https://news.example.com/sitemap-a.xml", "https://news.example.com/sitemap-b.xml"
    fetcher = FakeFetcher({SITEMAP_INDEX: index(good, bad), good: sitemap(URL + "/story")})
    fetcher.errors[bad] = FetchTimeout("timed out", url=bad)
    caplog.set_level(logging.WARNING, logger="pipeline.polling.poller")

    result = FeedPoller(fetcher, repo, make_config()).poll(
        FeedConfig(name="news", url=SITEMAP_INDEX)
    )

    assert result.status == "ok" and len(result.entries) == 1
    [line] = [r.getMessage() for r in caplog.records]
    assert "1 child sitemaps failed (1 read)" in line and "sitemap-b.xml" in line


def test_children_are_fetched_within_a_time_budget(
    repo: FeedStateRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Children that stall take their deadline each; the poll stops asking after twice
    fetch.deadline and leaves the rest for the next poll.

    The poll's clock moves only when a child is fetched (0.1 s each), so how many fit in
    the budget (0.25 s: children started at 0, 0.1 and 0.2 s) does not depend on how fast
    the machine is; without the budget all 10 would be fetched."""
    clock = FakeClock()
    monkeypatch.setattr(poller_module, "time", clock)
    children = [f"https://news.example.com/sitemap-{i}.xml" for i in range(10)]
    slow = SlowFetcher({SITEMAP_INDEX: index(*children)}, delay=0.1, clock=clock)
    for i, child in enumerate(children):
        slow.bodies[child] = sitemap(f"https://news.example.com/story-{i}")
    config = parse_config(
        {"feeds": [FEED.model_dump()], "fetch": {"deadline": 0.125}, "schedule": {}}
    )

    result = FeedPoller(slow, repo, config).poll(FeedConfig(name="news", url=SITEMAP_INDEX))

    assert result.status == "ok" and len(result.entries) == 3
    assert result.child_errors[-1].startswith("7 child sitemaps left for the next poll")


@dataclass
class FakeClock:
    """Stands in for the poller module's ``time``: ``monotonic`` moves only when told."""

    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now


@dataclass
class SlowFetcher(FakeFetcher):
    """Each child sitemap takes ``delay`` seconds of ``clock``, as a stalling server up to
    its deadline."""

    delay: float = 0.0
    clock: FakeClock = field(default_factory=FakeClock)

    def fetch(self, url: str, **kwargs: object) -> FetchResponse:  # type: ignore[override]
        if url != SITEMAP_INDEX:
            self.clock.now += self.delay
        return super().fetch(url, **kwargs)  # type: ignore[arg-type]


def test_children_are_rechecked_when_the_index_is_unchanged(repo: FeedStateRepository) -> None:
    feed = FeedConfig(name="maps", url=SITEMAP_INDEX)
    news = "https://news.example.com/sitemap-news.xml"
    fetcher = FakeFetcher({SITEMAP_INDEX: index(news), news: sitemap("https://news.example.com/1")})
    poller = FeedPoller(fetcher, repo, make_config())
    assert len(poll_and_commit(poller, feed).entries) == 1
    unchanged = poll_and_commit(poller, feed)
    assert unchanged.status == "not_modified" and unchanged.entries == []
    fetcher.bodies[news] = sitemap("https://news.example.com/2", "https://news.example.com/1")
    fetcher.calls.clear()
    changed = poll_and_commit(poller, feed)
    assert fetcher.calls[0].etag is not None  # the index answered 304
    assert changed.status == "ok" and changed.kind == "sitemap"
    assert [e.url for e in changed.entries] == ["https://news.example.com/2"]


def test_cache_control_max_age_is_a_ttl_hint(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    fetcher.headers["cache-control"] = "public, max-age=1800"
    assert FeedPoller(fetcher, repo, make_config()).poll(FEED).ttl_seconds == 1800


def test_local_feed_file_is_read_through_the_local_door(
    repo: FeedStateRepository, tmp_path: Path
) -> None:
    path = tmp_path / "local.xml"
    path.write_bytes(rss(("https://news.example.com/local", "l")))
    feed = FeedConfig(name="local", url=str(path))
    fetcher = FakeFetcher({})
    result = FeedPoller(fetcher, repo, make_config()).poll(feed)
    assert [e.url for e in result.entries] == ["https://news.example.com/local"]
    assert fetcher.calls[0].purpose == "local"


def test_check_lists_every_entry_and_writes_no_state(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))})
    poller = FeedPoller(fetcher, repo, make_config())
    poll_and_commit(poller)
    checked = poller.check(FEED)
    assert checked.status == "ok" and len(checked.entries) == 1
    assert fetcher.calls[-1].etag is None
    assert repo.get("news").seen_seq == 2  # unchanged by the check (url key + guid key)


def write_warc(path: Path, first: int, count: int) -> None:
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for i in range(first, first + count):
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"
            )
            body = BytesIO(f"<html><body><p>Page {i}</p></body></html>".encode())
            writer.write_record(
                writer.create_warc_record(
                    f"https://archive.example.com/p/{i}",
                    "response",
                    payload=body,
                    http_headers=headers,
                )
            )


def test_warc_backfill_is_delivered_in_batches_exactly_once(
    repo: FeedStateRepository, tmp_path: Path
) -> None:
    write_warc(tmp_path / "a.warc.gz", 0, 300)
    write_warc(tmp_path / "b.warc.gz", 300, 200)
    (tmp_path / "c.warc.gz").write_bytes(gzip.compress(b"this is not a WARC record\r\n" * 10))
    feed = FeedConfig(name="cc", url=str(tmp_path / "*.warc.gz"))
    poller = FeedPoller(FakeFetcher({}), repo, make_config())
    first = poller.poll(feed)
    assert first.kind == "warc" and first.more and len(first.entries) == WARC_BATCH
    assert first.entries[0].body is not None and "Page 0" in first.entries[0].body
    # killed before commit: the same batch again
    assert [e.url for e in poller.poll(feed).entries] == [e.url for e in first.entries]
    delivered: list[str] = []
    result = first
    for _ in range(10):
        delivered += [e.url for e in result.entries]
        poller.commit(feed, result)
        if not result.more:
            break
        result = poller.poll(feed)
    assert sorted(delivered) == sorted(f"https://archive.example.com/p/{i}" for i in range(500))
    assert len(delivered) == 500
    assert any("c.warc.gz" in e for e in result.child_errors)
    assert poller.poll(feed).entries == []  # every file done
    write_warc(tmp_path / "d.warc.gz", 500, 3)  # a new file dropped into the directory
    assert [e.url for e in poller.poll(feed).entries] == [
        f"https://archive.example.com/p/{i}" for i in range(500, 503)
    ]


def test_a_damaged_warc_delivers_the_pages_before_the_damage_once(
    repo: FeedStateRepository, tmp_path: Path
) -> None:
    path = tmp_path / "a.warc.gz"
    write_warc(path, 0, 10)
    data = path.read_bytes()
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 40])
                     + data[middle + 40 :])  # fmt: skip
    feed = FeedConfig(name="cc", url=str(path))
    poller = FeedPoller(FakeFetcher({}), repo, make_config())

    result = poller.poll(feed)

    assert result.error is None and result.status == "ok"
    urls = [e.url for e in result.entries]
    assert 1 <= len(urls) < 10
    assert urls == [f"https://archive.example.com/p/{i}" for i in range(len(urls))]
    [problem] = result.child_errors
    assert problem.startswith("cannot read WARC file a.warc.gz:")
    poller.commit(feed, result)
    assert poller.poll(feed).entries == []  # read up to the damage, and not again


# -- entries listed as updated --------------------------------------------------------------


def atom(*entries: tuple[str, str]) -> bytes:
    """An Atom body of (path, updated) entries, each published on 2026-01-01."""
    parts = [
        f"<entry><id>tag:news.example.com,2026:{path}</id><title>t</title>"
        f'<link href="https://news.example.com/{path}"/>'
        f"<published>2026-01-01T00:00:00Z</published><updated>{updated}</updated></entry>"
        for path, updated in entries
    ]
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{"".join(parts)}</feed>'.encode()


def _feed_counts() -> tuple[float, float]:
    """``news``'s new entries and entries fetched again, as exported so far."""
    new = REGISTRY.get_sample_value("newsflow_feed_entries_total", {"feed": "news"})
    updated = REGISTRY.get_sample_value(
        "newsflow_feed_updated_entries_total", {"feed": "news", "outcome": "fetched"}
    )
    return new or 0.0, updated or 0.0


def urls_of(result: PollResult) -> list[str]:
    return [e.url.rsplit("/", 1)[1] for e in result.entries]


def test_an_entry_listed_as_updated_is_handed_on_again_once_per_update(
    repo: FeedStateRepository,
) -> None:
    fetcher = FakeFetcher({URL: atom(("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z"))})
    poller = FeedPoller(fetcher, repo, make_config())
    assert urls_of(poll_and_commit(poller)) == ["a", "b"]
    fetcher.bodies[URL] = atom(("a", "2026-01-03T09:30:00Z"), ("b", "2026-01-02T00:00:00Z"))
    counted = _feed_counts()
    again = poll_and_commit(poller)
    assert (urls_of(again), again.updated) == (["a"], 1)
    assert _feed_counts() == (counted[0], counted[1] + 1)  # not a new entry: an update
    assert again.entries[0].updated_at is not None and again.entries[0].updated_at.day == 3
    fetcher.etags = False  # the same document again, served in full
    assert poll_and_commit(poller).entries == []
    fetcher.bodies[URL] = atom(("c", "2026-01-04T00:00:00Z"), ("a", "2026-01-04T12:00:00Z"))
    third = poll_and_commit(poller)
    assert (urls_of(third), third.updated) == (["c", "a"], 1)  # new ones first
    fetcher.bodies[URL] = atom(("a", "2026-01-03T00:00:00Z"))  # an earlier time is no update
    assert poll_and_commit(poller).entries == []


class CountedPages:
    """The article store's page validators, counting the lookups the poller makes."""

    def __init__(self, articles: ArticleRepository) -> None:
        self.articles = articles
        self.asked: list[list[str]] = []

    def page_validators(self, urls: Iterable[str]) -> dict[str, Validators]:
        self.asked.append(list(urls))
        return self.articles.page_validators(self.asked[-1])


def stored_page(url: str, **validators: str) -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        text="Text.",
        source="news.example.com",
        fetched_at=utcnow(),
        **validators,
    )


def test_an_update_carries_the_validators_of_its_stored_page(repo: FeedStateRepository) -> None:
    """Its fetch asks "changed since?"; new entries cost no lookup, a poll with updates one."""
    fetcher = FakeFetcher({URL: atom(("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z"))})
    pages = CountedPages(ArticleRepository(repo.db))
    poller = FeedPoller(fetcher, repo, make_config(), pages=pages)
    first = poll_and_commit(poller)
    assert [(e.etag, e.last_modified) for e in first.entries] == [(None, None)] * 2
    assert pages.asked == []
    a, b = (e.url for e in first.entries)
    pages.articles.upsert(stored_page(a, page_etag='"a1"', page_last_modified="Thu, 01 Jan 2026"))
    pages.articles.upsert(stored_page(b))  # served without validators

    fetcher.bodies[URL] = atom(("a", "2026-01-03T00:00:00Z"), ("b", "2026-01-04T00:00:00Z"))
    again = poll_and_commit(poller)

    assert again.updated == 2 and pages.asked == [[a, b]]
    assert [(e.url, e.etag, e.last_modified) for e in again.entries] == [
        (a, '"a1"', "Thu, 01 Jan 2026"),
        (b, None, None),
    ]


def test_an_update_is_handed_on_again_until_it_is_committed(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: atom(("a", "2026-01-01T00:00:00Z"))}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    poll_and_commit(poller)
    fetcher.bodies[URL] = atom(("a", "2026-01-02T00:00:00Z"))
    assert urls_of(poller.poll(FEED)) == ["a"]  # ... and the process dies before the commit
    restarted = FeedPoller(fetcher, FeedStateRepository(repo.db), make_config())
    result = restarted.poll(FEED)
    assert urls_of(result) == ["a"]
    restarted.mark_seen(FEED, result, result.entries)  # stored; the commit is not made
    assert FeedPoller(fetcher, repo, make_config()).poll(FEED).entries == []


def test_times_that_look_like_the_documents_generation_time_are_ignored(
    repo: FeedStateRepository,
) -> None:
    fetcher = FakeFetcher({}, etags=False)
    now = time.time()
    poller = FeedPoller(fetcher, repo, make_config(), clock=lambda: now)
    paths = [f"p{n}" for n in range(4)]
    own = [(p, f"2026-01-0{n + 1}T00:00:00Z") for n, p in enumerate(paths)]
    fetcher.bodies[URL] = atom(*own)
    assert len(poll_and_commit(poller).entries) == 4
    fetcher.bodies[URL] = atom(*((p, "2026-01-06T04:12:09Z") for p in paths))  # one time
    stamped = poll_and_commit(poller)
    assert (stamped.entries, stamped.updates_stamped) == ([], True)
    fresh = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - n)) for n in range(4)]
    fetcher.bodies[URL] = atom(*zip(paths, fresh, strict=True))  # all "updated" just now
    assert poll_and_commit(poller).entries == []
    fetcher.bodies[URL] = atom(("p0", "2026-01-07T00:00:00Z"), *own[1:])
    assert urls_of(poll_and_commit(poller)) == ["p0"]  # times of their own: one update


def test_an_update_on_a_sitemap_of_dates_most_entries_share_is_fetched(
    repo: FeedStateRepository,
) -> None:
    """A <lastmod> without a time is a date: a day's stories share it, and an entry moved
    to today's date is an update, not a sign the document stamps its entries."""
    fetcher = FakeFetcher({}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    feed = FeedConfig(name="map", url=SITEMAP_INDEX)

    def dated(*lastmods: str) -> bytes:
        urls = "".join(
            f"<url><loc>https://news.example.com/p{n}</loc><lastmod>{day}</lastmod></url>"
            for n, day in enumerate(lastmods)
        )
        return (
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
        )

    fetcher.bodies[SITEMAP_INDEX] = dated("2026-01-05", "2026-01-05", "2026-01-05", "2026-01-04")
    assert len(poll_and_commit(poller, feed).entries) == 4
    fetcher.bodies[SITEMAP_INDEX] = dated(*["2026-01-05"] * 4)
    result = poll_and_commit(poller, feed)
    assert (urls_of(result), result.updated, result.updates_stamped) == (["p3"], 1, False)


def test_an_update_on_a_busy_feed_of_just_published_entries_is_fetched(
    repo: FeedStateRepository,
) -> None:
    """Most entries of a feed publishing several stories a minute are minutes old at
    every poll: that is their publication, not the document's generation time."""
    fetcher = FakeFetcher({}, etags=False)
    now = time.time()
    poller = FeedPoller(fetcher, repo, make_config(), clock=lambda: now)
    stamp = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30 * n)) for n in range(6)]
    listed = [(f"p{n}", when) for n, when in enumerate(stamp)]
    fetcher.bodies[URL] = atom(*listed[2:])
    assert len(poll_and_commit(poller).entries) == 4
    just_now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    fetcher.bodies[URL] = atom(*listed[:2], ("p2", just_now), *listed[3:])  # two new, p2 fixed
    result = poll_and_commit(poller)
    assert (urls_of(result), result.updates_stamped) == (["p0", "p1", "p2"], False)


def test_an_entry_handed_on_before_its_time_was_recorded_is_not_fetched_again(
    repo: FeedStateRepository,
) -> None:
    """Keys stored by a version without revisions have none: the first time listed is
    recorded, not taken for an update (else an upgrade would fetch every feed again)."""
    fetcher = FakeFetcher({URL: rss(("https://news.example.com/a", "a"))}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    poll_and_commit(poller)  # RSS without an updated time
    fetcher.bodies[URL] = atom(("a", "2026-02-01T00:00:00Z"))
    assert poll_and_commit(poller).entries == []
    fetcher.bodies[URL] = atom(("a", "2026-02-02T00:00:00Z"))
    assert urls_of(poll_and_commit(poller)) == ["a"]


def rss_dated(*items: tuple[str, str]) -> bytes:
    """An RSS 2.0 body of (path, pubDate) items, each with its GUID."""
    parts = [
        f"<item><title>t</title><link>https://news.example.com/{path}</link>"
        f'<guid isPermaLink="false">news-{path}</guid><pubDate>{date}</pubDate></item>'
        for path, date in items
    ]
    return f'<rss version="2.0"><channel>{"".join(parts)}</channel></rss>'.encode()


def test_an_rss_item_republished_with_a_later_pubdate_is_handed_on_again(
    repo: FeedStateRepository,
) -> None:
    """RSS has no updated time; a later pubDate under the same GUID and link is the
    publisher's update. The same or an earlier one is not."""
    fetcher = FakeFetcher({}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    days = [f"Thu, 0{n + 1} Jan 2026 08:00:00 GMT" for n in range(3)]
    fetcher.bodies[URL] = rss_dated(("a", days[0]), ("b", days[1]), ("c", days[2]))
    assert urls_of(poll_and_commit(poller)) == ["a", "b", "c"]
    assert poll_and_commit(poller).entries == []
    fetcher.bodies[URL] = rss_dated(("a", "Mon, 05 Jan 2026 10:30:00 GMT"), *[
        ("b", days[1]), ("c", "Wed, 31 Dec 2025 08:00:00 GMT")])  # fmt: skip
    again = poll_and_commit(poller)
    assert (urls_of(again), again.updated) == (["a"], 1)
    assert poll_and_commit(poller).entries == []


def test_an_rss_feed_that_redates_every_item_at_each_poll_fetches_nothing_again(
    repo: FeedStateRepository,
) -> None:
    """Feeds that stamp every item with the time they were generated (one time, or each
    item a few seconds apart) would fetch every item at every poll: their pubDates are
    taken for the generation stamp they are."""
    fetcher = FakeFetcher({}, etags=False)
    now = time.time()
    poller = FeedPoller(fetcher, repo, make_config(), clock=lambda: now)
    paths = [f"p{n}" for n in range(4)]
    fetcher.bodies[URL] = rss_dated(*((p, f"Thu, 0{n + 1} Jan 2026 08:00:00 GMT")
                                      for n, p in enumerate(paths)))  # fmt: skip
    assert len(poll_and_commit(poller).entries) == 4
    shared = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
    fetcher.bodies[URL] = rss_dated(*((p, shared) for p in paths))
    first = poll_and_commit(poller)
    assert (first.entries, first.updates_stamped) == ([], True)
    apart = [time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now - n)) for n in range(4)]
    fetcher.bodies[URL] = rss_dated(*zip(paths, apart, strict=True))
    second = poll_and_commit(poller)
    assert (second.entries, second.updates_stamped) == ([], True)


def test_rss_items_seen_before_pubdates_counted_are_not_fetched_again_at_once(
    repo: FeedStateRepository,
) -> None:
    """An upgrade must not fetch every RSS item again: items handed on without a recorded
    time have their pubDate recorded at their next listing; a later one then counts."""
    fetcher = FakeFetcher({}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config())
    fetcher.bodies[URL] = rss(("https://news.example.com/a", "news-a"))  # recorded no time
    poll_and_commit(poller)
    fetcher.bodies[URL] = rss_dated(("a", "Thu, 01 Jan 2026 08:00:00 GMT"))
    assert poll_and_commit(poller).entries == []
    fetcher.bodies[URL] = rss_dated(("a", "Fri, 02 Jan 2026 08:00:00 GMT"))
    assert urls_of(poll_and_commit(poller)) == ["a"]


def test_updates_over_the_bound_wait_for_the_next_poll(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config(max_updated_per_poll=2))
    fetcher.bodies[URL] = atom(*((p, f"2026-01-0{n + 1}T00:00:00Z") for n, p in enumerate("abc")))
    poll_and_commit(poller)
    fetcher.bodies[URL] = atom(*((p, f"2026-02-0{n + 1}T00:00:00Z") for n, p in enumerate("abc")))
    first = poll_and_commit(poller)
    assert (urls_of(first), first.updates_waiting) == (["a", "b"], 1)
    second = poll_and_commit(poller)
    assert (urls_of(second), second.updates_waiting) == (["c"], 0)
    assert poll_and_commit(poller).entries == []


def test_no_entry_is_fetched_again_when_the_bound_is_zero(repo: FeedStateRepository) -> None:
    fetcher = FakeFetcher({URL: atom(("a", "2026-01-01T00:00:00Z"))}, etags=False)
    poller = FeedPoller(fetcher, repo, make_config(max_updated_per_poll=0))
    poll_and_commit(poller)
    fetcher.bodies[URL] = atom(("a", "2026-01-02T00:00:00Z"))
    result = poll_and_commit(poller)
    assert (result.entries, result.updates_waiting) == ([], 1)


EMPTY_WARC = "the file is empty (0 bytes): a download or copy that never started?"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x1f\x8b" + bytes(range(256)) * 4, "not a WARC record (damaged, or another format)"),
        (b"", EMPTY_WARC),
    ],
    ids=["damaged", "empty"],
)
def test_a_backfill_whose_every_file_is_unreadable_fails(
    repo: FeedStateRepository, tmp_path: Path, content: bytes, problem: str
) -> None:
    """Not "read in part": nothing of it can be read. One bad file among good ones is
    read in part, once (above and below)."""
    (tmp_path / "a.warc.gz").write_bytes(content)
    feed = FeedConfig(name="cc", url=str(tmp_path / "*.warc.gz"))
    poller = FeedPoller(FakeFetcher({}), repo, make_config())

    result = poller.poll(feed)

    assert result.status == "error" and result.error is not None
    assert result.error.reason == "bad_warc"
    assert str(result.error) == (
        f"1 of 1 WARC files unreadable: cannot read WARC file a.warc.gz: {problem}"
    )


def test_an_empty_warc_among_good_ones_is_reported_once(
    repo: FeedStateRepository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 0-byte file (a transfer that never started) was passed as read without a word."""
    write_warc(tmp_path / "a.warc.gz", 0, 3)
    (tmp_path / "b.warc.gz").touch()
    feed = FeedConfig(name="cc", url=str(tmp_path / "*.warc.gz"))
    poller = FeedPoller(FakeFetcher({}), repo, make_config())
    caplog.set_level(logging.WARNING, logger="pipeline.polling.poller")

    result = poller.poll(feed)
    poller.commit(feed, result)
    again = poller.poll(feed)

    assert result.status == "ok" and len(result.entries) == 3
    assert result.child_errors == [f"cannot read WARC file b.warc.gz: {EMPTY_WARC}"]
    assert [r.getMessage() for r in caplog.records] == [f"feed cc: {result.child_errors[0]}"]
    assert (again.entries, again.child_errors) == ([], [])
    write_warc(tmp_path / "b.warc.gz", 3, 2)  # the transfer done at last: a new file
    assert len(poller.poll(feed).entries) == 2
