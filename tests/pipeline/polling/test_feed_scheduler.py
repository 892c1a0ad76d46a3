"""Scheduler: adaptive intervals, jitter, backoff, leases, persistence; deterministic clocks."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.storage.db import Database
from connectors.storage.feed_state import FeedStateRepository
from pipeline.config import FeedConfig, ScheduleConfig
from pipeline.errors import FetchTimeout, HostBlocked, RateLimited
from pipeline.models import FeedEntry
from pipeline.polling import IntervalPolicy, PollResult, Scheduler, metrics

T0 = 1_700_000_000.0
CONFIG = ScheduleConfig(
    default_interval_seconds=900,
    min_interval_seconds=120,
    max_interval_seconds=21600,
    jitter=0.1,
    unhealthy_after_failures=4,
)
FEED = FeedConfig(name="f", url="https://e.com/feed")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def entry(i: int) -> FeedEntry:
    return FeedEntry(feed="f", feed_kind="rss", url=f"https://e.com/{i}")


def ok(new: int = 0, ttl: float | None = None) -> PollResult:
    return PollResult(
        feed="f", status="ok", entries=[entry(i) for i in range(new)], ttl_seconds=ttl
    )


def failed(retry_after: float | None = None) -> PollResult:
    error = (
        RateLimited("429", url="u", status=429, retry_after=retry_after)
        if retry_after
        else FetchTimeout("timeout", url="u")
    )
    return PollResult(feed="f", status="error", error=error, retry_after=retry_after)


def scheduler(
    feeds: list[FeedConfig] | None = None,
    config: ScheduleConfig = CONFIG,
    seed: int = 1,
    clock: Clock | None = None,
    state: FeedStateRepository | None = None,
) -> Scheduler:
    rng = random.Random(seed)
    return Scheduler(feeds or [FEED], config, state, clock=clock or Clock(), rng=rng)


def test_first_polls_are_spread_within_the_jitter_window() -> None:
    feeds = [FeedConfig(name=f"f{i}", url=f"https://e{i}.com/") for i in range(1000)]
    s = scheduler(feeds)
    dues = [s.due_at(f.name) for f in feeds]
    assert all(d is not None and T0 <= d <= T0 + 90 for d in dues)
    assert statistics.pstdev([d for d in dues if d]) > 20  # spread, not bunched
    assert len(s.due(T0 + 90)) == 1000


def test_same_seed_same_schedule_different_seed_different() -> None:
    def run(seed: int) -> list[float]:
        s = scheduler(seed=seed)
        out = []
        for i in range(5):
            s.due(T0 + 10**6)
            out.append(s.record(FEED, ok(new=i % 2), now=T0 + i * 1000))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_interval_halves_while_every_poll_has_news_and_grows_when_quiet() -> None:
    s = scheduler(config=CONFIG.model_copy(update={"jitter": 0.0}))
    s.record(FEED, ok(new=20), now=T0)  # first poll: everything is new, no signal
    assert s.interval_of("f") == 900
    intervals = []
    for _ in range(4):
        s.record(FEED, ok(new=3), now=T0)
        intervals.append(s.interval_of("f"))
    assert intervals == [450, 225, 225, 225]  # floor: base / 4
    for _ in range(12):
        s.record(FEED, ok(new=0), now=T0)
    assert s.interval_of("f") == 900 * 8  # ceiling: base * 8
    updated_only = replace(ok(new=2), updated=2)  # seen entries fetched again: not news
    s.record(FEED, updated_only, now=T0)
    assert s.interval_of("f") == 900 * 8


def test_ttl_is_a_floor_and_min_max_clamp() -> None:
    policy = IntervalPolicy(CONFIG)
    assert policy.adapt(FEED, 900, new_entries=5, ttl_seconds=3600) == 3600
    fast = FeedConfig(name="fast", url="https://e.com/", interval_seconds=10)
    assert policy.base(fast) == 120  # global minimum
    assert policy.adapt(fast, 120, new_entries=5, ttl_seconds=None) == 120
    slow = FeedConfig(name="slow", url="https://e.com/", interval_seconds=10**6)
    assert policy.base(slow) == 21600


def test_per_feed_override_and_no_adaptation_when_disabled() -> None:
    hourly = FeedConfig(name="h", url="https://e.com/", interval_seconds=3600)
    fixed = IntervalPolicy(CONFIG.model_copy(update={"adaptive": False}))
    assert fixed.adapt(hourly, 3600, new_entries=10, ttl_seconds=None) == 3600
    assert fixed.adapt(hourly, 3600, new_entries=0, ttl_seconds=None) == 3600
    adaptive = IntervalPolicy(CONFIG)
    assert adaptive.adapt(hourly, 3600, new_entries=10, ttl_seconds=None) == 1800
    assert adaptive.bounds(hourly, None) == (900, 21600)


def test_jitter_stays_within_bounds_and_varies() -> None:
    s = scheduler(seed=3)
    s.record(FEED, ok(), now=T0)
    delays = [s.record(FEED, ok(new=1), now=T0) - T0 for _ in range(200)]
    # interval pinned at the floor (225 s) after the first few halvings
    settled = delays[5:]
    assert all(225 * 0.9 <= d <= 225 * 1.1 for d in settled)
    assert len({round(d, 3) for d in settled}) > 150


def test_failures_back_off_exponentially_then_slowly_when_unhealthy() -> None:
    s = scheduler(config=CONFIG.model_copy(update={"jitter": 0.0}))
    delays = [s.record(FEED, failed(), now=T0) - T0 for _ in range(6)]
    assert delays == [900, 1800, 3600, 21600, 21600, 21600]
    assert s.record(FEED, ok(), now=T0) - T0 == 900  # recovered: back to the interval


def test_a_deferred_poll_is_due_when_the_hosts_window_ends_and_is_no_failure() -> None:
    s = scheduler()
    blocked = HostBlocked("e.com: 40 s left", url="u", status=503, retry_after=40)
    deferred = PollResult(feed="f", status="error", error=blocked, retry_after=40)
    for _ in range(5):
        due = s.record(FEED, deferred, now=T0)
        assert T0 + 36 <= due <= T0 + 44  # 40 s +/- jitter, not an interval or a backoff
    assert s.record(FEED, failed(), now=T0) <= T0 + 900 * 1.1  # the first real failure


def test_retry_after_is_honoured() -> None:
    s = scheduler()
    due = s.record(FEED, failed(retry_after=7200), now=T0)
    assert due >= T0 + 7200


def test_due_returns_each_feed_once_until_recorded_then_after_its_lease() -> None:
    clock = Clock()
    s = scheduler(clock=clock)
    clock.now = T0 + 100
    assert [f.name for f in s.due()] == ["f"]
    assert s.due() == []
    assert s.next_wakeup() == pytest.approx(T0 + 100 + 900)  # the lease
    assert s.due(T0 + 100 + 900) == [FEED]  # never recorded: comes round again
    due = s.record(FEED, ok(), now=T0 + 1000)
    assert s.next_wakeup() == due and s.seconds_until_next(T0 + 1000) == due - (T0 + 1000)


def test_schedule_survives_a_restart(tmp_path: Path) -> None:
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 's.db'}"))
    repo.record_success("f", url=FEED.url, at=T0, validators={}, window=10)
    s = scheduler(state=repo)
    s.record(FEED, ok(), now=T0)
    due = s.record(FEED, ok(new=2), now=T0)
    restarted = scheduler(state=repo, seed=99)
    assert restarted.due_at("f") == due
    assert restarted.interval_of("f") == 900 * 1.5 * 0.5  # quiet poll, then one with news


def test_overdue_feeds_after_downtime_are_spread_not_fired_at_once(tmp_path: Path) -> None:
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 's.db'}"))
    feeds = [FeedConfig(name=f"f{i}", url=f"https://e{i}.com/") for i in range(50)]
    for feed in feeds:
        repo.set_schedule(feed.name, interval_seconds=900, next_due_at=T0 - 3600)
    s = scheduler(feeds, state=repo, clock=Clock(T0))
    assert len(s.due(T0)) < 5
    assert len(s.due(T0 + 90)) + len(s.due(T0)) >= 45


def test_a_backfill_with_more_to_deliver_is_due_again_at_once() -> None:
    s = scheduler()
    more = PollResult(feed="f", status="ok", entries=[entry(1)], more=True)
    assert s.record(FEED, more, now=T0 + 5) == T0 + 5
    assert s.due(T0 + 5) == [FEED]


def test_disabled_and_removed_feeds_are_not_scheduled() -> None:
    feeds = [FEED, FeedConfig(name="off", url="https://e.com/x", enabled=False)]
    s = scheduler(feeds)
    assert len(s) == 1
    s.set_feeds([FeedConfig(name="g", url="https://g.com/")])
    assert [f.name for f in s.due(T0 + 10**5)] == ["g"]


def _unhealthy_repo(tmp_path: Path) -> FeedStateRepository:
    """A feed failed 5 times at its old URL: unhealthy, next poll at the maximum interval."""
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 's.db'}"))
    repo.record_success("f", url=FEED.url, at=T0 - 10**5, validators={}, window=10)
    for _ in range(5):
        repo.record_failure("f", url=FEED.url, at=T0, error="HTTP 404", reason="http_404",
                            unhealthy_after=4)  # fmt: skip
    repo.set_schedule("f", interval_seconds=900, next_due_at=T0 + 21600)
    return repo


def test_a_feed_whose_url_was_fixed_is_polled_at_once_not_after_the_old_backoff(
    tmp_path: Path,
) -> None:
    repo = _unhealthy_repo(tmp_path)
    fixed = FeedConfig(name="f", url="https://e.com/feed-fixed")
    running = scheduler(state=repo)
    assert running.due_at("f") == T0 + 21600
    running.set_feeds([fixed])  # a reload
    assert running.due(T0) == [fixed]
    assert running.interval_of("f") == 900
    assert scheduler([fixed], state=repo).due_at("f") <= T0 + 90  # a restart: spread, not 6 h
    assert scheduler([FEED], state=repo).due_at("f") == T0 + 21600  # the same URL: unchanged


def test_failures_at_a_feeds_old_url_do_not_count_at_its_new_one(tmp_path: Path) -> None:
    repo = _unhealthy_repo(tmp_path)
    after = repo.record_failure("f", url="https://e.com/feed-fixed", at=T0 + 1, error="HTTP 500",
                                reason="http_500", unhealthy_after=4)  # fmt: skip
    assert (after.failures, after.unhealthy) == (1, False)


def test_feed_gauges_follow_the_feeds_followed_and_their_stored_state(tmp_path: Path) -> None:
    """A restart shows the stored health at once; a feed removed or disabled by a reload
    loses its series, gauges and counters with every value of their other labels (an
    alert on it would otherwise never clear, its counters be exported for ever)."""
    unhealthy, last_success = (
        "newsflow_feed_unhealthy",
        "newsflow_feed_last_success_timestamp_seconds",
    )

    def gauge(name: str, feed: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"feed": feed})

    def counters(feed: str) -> list[float | None]:
        return [
            REGISTRY.get_sample_value(name, {"feed": feed, **labels})
            for name, labels in _FEED_COUNTER_SAMPLES
        ]

    repo = _unhealthy_repo(tmp_path)
    other = FeedConfig(name="g", url="https://g.com/")
    running = scheduler([FEED, other], state=repo)
    assert gauge(unhealthy, "f") == 1 and gauge(last_success, "f") == T0 - 10**5
    assert gauge(unhealthy, "g") == 0 and gauge(last_success, "g") is None
    for feed in ("f", "g"):
        _count_polls(feed)
    assert None not in counters("f") + counters("g")
    running.set_feeds([other, FEED.model_copy(update={"enabled": False})])
    assert gauge(unhealthy, "f") is None and gauge(last_success, "f") is None
    assert counters("f") == [None] * len(_FEED_COUNTER_SAMPLES)
    assert gauge(unhealthy, "g") == 0
    assert None not in counters("g")
    running.set_feeds([other, FEED])
    assert gauge(unhealthy, "f") == 1


_FEED_COUNTER_SAMPLES: list[tuple[str, dict[str, str]]] = [
    ("newsflow_feed_polls_total", {"status": "ok"}),
    ("newsflow_feed_polls_total", {"status": "error"}),
    ("newsflow_feed_polls_total", {"status": "deferred"}),
    ("newsflow_feed_failures_total", {"reason": "http_404"}),
    ("newsflow_feed_entries_total", {}),
    ("newsflow_feed_updated_entries_total", {"outcome": "fetched"}),
    ("newsflow_feed_updates_stamped_total", {}),
    ("newsflow_feed_not_modified_total", {}),
    ("newsflow_feed_child_sitemap_failures_total", {"reason": "parse"}),
]


def _count_polls(feed: str) -> None:
    """Polls of ``feed`` as the poller counts them: a series in every per-feed counter."""
    for status in ("ok", "error", "deferred"):
        metrics.POLLS.labels(feed, status).inc()
    metrics.FAILURES.labels(feed, "http_404").inc()
    metrics.ENTRIES.labels(feed).inc(3)
    metrics.UPDATED.labels(feed, "fetched").inc()
    metrics.UPDATES_STAMPED.labels(feed).inc()
    metrics.NOT_MODIFIED.labels(feed).inc()
    metrics.CHILD_FAILURES.labels(feed, "parse").inc()


def test_ten_thousand_feeds() -> None:
    feeds = [FeedConfig(name=f"f{i}", url=f"https://e{i}.com/") for i in range(10_000)]
    s = scheduler(feeds)
    due = s.due(T0 + 90)
    assert len(due) == 10_000
    for feed in due:
        s.record(feed, ok(new=1), now=T0 + 90)
    assert s.due(T0 + 90 + 700) == []
    assert len(s.due(T0 + 90 + 1000)) == 10_000


def test_a_feed_retried_soon_is_due_after_the_delay_but_never_after_its_lease() -> None:
    s = scheduler()
    assert s.due(T0 + 90) == [FEED]  # leased: due again an interval later
    assert s.due(T0 + 100) == []
    assert s.retry_soon(FEED, 5, now=T0 + 100) == T0 + 105
    assert s.due(T0 + 104) == []
    assert s.due(T0 + 105) == [FEED]
    assert s.retry_soon(FEED, 10**6, now=T0 + 110) == T0 + 105 + 900  # the lease is sooner
