"""When each feed is polled next: adaptive intervals, backoff, jitter, on a heap.

The runtime asks the scheduler which feeds are due, polls them, and reports
back; the scheduler decides the next time, persists it, and says how long to
sleep::

    scheduler = Scheduler(config.feeds, config.schedule, feed_state)
    while running:
        for feed in scheduler.due():
            result = poller.poll(feed); ...; poller.commit(feed, result)
            scheduler.record(feed, result)
        sleep(scheduler.seconds_until_next())

The interval of a feed starts at its ``interval_seconds`` (or the configured
default) and adapts: halved after a poll with new entries, grown by half after
one without, within [base/4, base*8] and the global [min, max]. The feed's own
``<ttl>`` or Cache-Control max-age is a floor: we never poll faster than the
publisher asks. A failing feed backs off exponentially (Retry-After is
honoured); an unhealthy one is retried at the maximum interval. Every delay
gets +/- ``jitter`` so thousands of feeds do not fire together.

Clock and random source are injected, so a test is deterministic. ``due``
and ``record`` are O(log n) on a heap: 10,000 feeds cost nothing.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Callable, Iterable

from connectors.storage.feed_state import FeedState, FeedStateRepository
from pipeline.config import FeedConfig, ScheduleConfig
from pipeline.polling import metrics
from pipeline.polling.poller import PollResult

FASTER = 0.5
SLOWER = 1.5
ADAPT_FLOOR = 0.25
ADAPT_CEILING = 8.0


class IntervalPolicy:
    """The interval and retry arithmetic, free of clocks and state."""

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config

    def base(self, feed: FeedConfig) -> float:
        return self.clamp(feed.interval_seconds or self.config.default_interval_seconds)

    def clamp(self, seconds: float) -> float:
        return min(self.config.max_interval_seconds, max(self.config.min_interval_seconds, seconds))

    def bounds(self, feed: FeedConfig, ttl_seconds: float | None) -> tuple[float, float]:
        base = self.base(feed)
        low = self.clamp(base * ADAPT_FLOOR)
        high = self.clamp(base * ADAPT_CEILING)
        if ttl_seconds:
            low = max(low, self.clamp(ttl_seconds))
        return low, max(low, high)

    def adapt(
        self, feed: FeedConfig, current: float, *, new_entries: int, ttl_seconds: float | None
    ) -> float:
        """The next interval after a good poll that yielded ``new_entries``."""
        low, high = self.bounds(feed, ttl_seconds)
        if not self.config.adaptive:
            return min(high, max(low, self.base(feed)))
        proposed = current * (FASTER if new_entries else SLOWER)
        return min(high, max(low, proposed))

    def retry_delay(self, interval: float, *, failures: int, retry_after: float | None) -> float:
        """How long to wait after the ``failures``-th failure in a row."""
        if failures >= self.config.unhealthy_after_failures:
            delay = self.config.max_interval_seconds
        else:
            delay = min(self.config.max_interval_seconds, interval * 2 ** max(0, failures - 1))
        return max(delay, retry_after or 0.0)

    def jittered(self, seconds: float, rng: random.Random) -> float:
        spread = self.config.jitter
        return max(1.0, seconds * (1.0 + rng.uniform(-spread, spread)))


class Scheduler:
    """Which feeds are due, and when to wake up next; persists each feed's next due time."""

    def __init__(
        self,
        feeds: Iterable[FeedConfig],
        config: ScheduleConfig,
        state: FeedStateRepository | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = IntervalPolicy(config)
        self.config = config
        self.state = state
        self.clock = clock
        self.rng = rng or random.Random()
        self._feeds: dict[str, FeedConfig] = {}
        self._interval: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._fresh: set[str] = set()
        self._due_at: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._follow(feeds, None, spread=True)

    def set_feeds(
        self, feeds: Iterable[FeedConfig], schedule: ScheduleConfig | None = None
    ) -> None:
        """Follow a new feed list (a config reload), and ``schedule`` if given: keep known
        feeds' times.

        A feed added here is due at once unless its stored next poll is still ahead (a
        feed added back while backing off): whoever adds a feed wants to see it polled,
        not wait up to ``default_interval`` x ``jitter`` (90 s by default), and the spread
        that keeps a start from firing every feed together is not needed for a few feeds.

        New feeds' state is read from the store first: if that fails (the store went
        away), nothing has changed, and the reload can be tried again as a whole.
        """
        self._follow(feeds, schedule, spread=False)

    def _follow(
        self, feeds: Iterable[FeedConfig], schedule: ScheduleConfig | None, *, spread: bool
    ) -> None:
        """The feed list at start (first polls spread) or after a reload (due at once)."""
        wanted = {f.name: f for f in feeds if f.enabled}
        states = self.state.all() if self.state and set(wanted) - set(self._feeds) else {}
        if schedule is not None:
            self.config = schedule
            self.policy = IntervalPolicy(schedule)
        for name in set(self._feeds) - set(wanted):
            for table in (self._feeds, self._interval, self._failures, self._due_at):
                table.pop(name, None)
            self._fresh.discard(name)
            metrics.forget_feed(name)
        now = self.clock()
        for name, feed in wanted.items():
            known = self._feeds.get(name)
            if known is None:
                self._add(feed, states.get(name, FeedState(feed=name)), now, spread=spread)
            elif known.url != feed.url:
                self._add(feed, FeedState(feed=name), now, spread=False)
            self._feeds[name] = feed

    def _add(self, feed: FeedConfig, state: FeedState, now: float, *, spread: bool) -> None:
        """Follow ``feed`` from its stored ``state``.

        A feed whose URL is not the one its state was polled at (an operator
        fixed a broken feed's URL) starts afresh: due now, at its base interval,
        not after the backoff the old URL earned (up to ``max_interval_seconds``).
        """
        metrics.show_feed(state)
        if state.url and state.url != feed.url:
            state = FeedState(feed=feed.name)
        base = self.policy.base(feed)
        self._interval[feed.name] = state.interval_seconds or base
        self._failures[feed.name] = state.failures
        if state.last_success_at is None:
            self._fresh.add(feed.name)
        due = state.next_due_at
        if due is None or due < now:
            # Spread first (and overdue) polls so a start does not fire every feed at once.
            due = now + (self.rng.uniform(0, base * self.config.jitter) if spread else 0.0)
        self._push(feed.name, due)

    def due(self, now: float | None = None) -> list[FeedConfig]:
        """Feeds due at ``now``, each returned once until it is recorded (or its lease ends)."""
        now = self.clock() if now is None else now
        ready: list[FeedConfig] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, name = heapq.heappop(self._heap)
            if self._due_at.get(name) != when:
                continue  # superseded or removed
            ready.append(self._feeds[name])
            # A lease: if the runtime never reports back, the feed comes round again.
            self._push(name, now + self._interval[name])
        return ready

    def record(self, feed: FeedConfig, result: PollResult, now: float | None = None) -> float:
        """Schedule ``feed`` after ``result``; return (and persist) its next due time."""
        now = self.clock() if now is None else now
        name = feed.name
        if name not in self._feeds:
            return now + self.policy.base(feed)
        interval = self._interval[name]
        if result.more and result.error is None:
            self._failures[name] = 0
            return self._schedule(name, interval, now)  # a backfill in progress: go on
        if result.deferred:  # the host's window: poll when it ends, not an interval later
            return self._schedule(name, interval, now + self.policy.jittered(
                result.retry_after or 0.0, self.rng))  # fmt: skip
        if result.error is not None:
            self._failures[name] += 1
            delay = self.policy.retry_delay(
                interval, failures=self._failures[name], retry_after=result.retry_after
            )
        else:
            self._failures[name] = 0
            if name in self._fresh:
                self._fresh.discard(name)  # a first poll lists everything as new: no signal
            else:
                interval = self.policy.adapt(
                    feed,
                    interval,
                    new_entries=result.new_entries,
                    ttl_seconds=result.ttl_seconds,
                )
            self._interval[name] = interval
            delay = interval
        due = now + self.policy.jittered(delay, self.rng)
        if result.retry_after:
            due = max(due, now + result.retry_after)
        return self._schedule(name, interval, due)

    def retry_soon(self, feed: FeedConfig, delay: float, now: float | None = None) -> float:
        """``feed``'s poll was not handed on (the broker or the store was away): due again after
        ``delay`` rather than when its lease ends, an interval (up to
        ``max_interval_seconds``) later, its new entries waiting with it. Kept in memory
        only: the stored next due time stays, and a restart polls the feed anyway."""
        now = self.clock() if now is None else now
        leased = self._due_at.get(feed.name)
        if leased is None:
            return now + delay  # no longer followed (a reload removed it)
        due = min(leased, now + delay)
        self._push(feed.name, due)
        return due

    def _schedule(self, name: str, interval: float, due: float) -> float:
        self._push(name, due)
        if self.state is not None:
            self.state.set_schedule(name, interval_seconds=interval, next_due_at=due)
        return due

    def next_wakeup(self, now: float | None = None) -> float:
        """When the next feed falls due (``now + max interval`` when there are none)."""
        now = self.clock() if now is None else now
        while self._heap and self._due_at.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else now + self.config.max_interval_seconds

    def seconds_until_next(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        return max(0.0, self.next_wakeup(now) - now)

    def interval_of(self, name: str) -> float | None:
        return self._interval.get(name)

    def due_at(self, name: str) -> float | None:
        return self._due_at.get(name)

    def __len__(self) -> int:
        return len(self._feeds)

    def _push(self, name: str, when: float) -> None:
        self._due_at[name] = when
        heapq.heappush(self._heap, (when, next(self._order), name))
        if len(self._heap) > 4 * len(self._due_at) + 64:
            self._heap = [(t, n, k) for t, n, k in self._heap if self._due_at.get(k) == t]
            heapq.heapify(self._heap)
