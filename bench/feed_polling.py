"""Feed polling costs at scale: scheduler ticks with 10,000 feeds, and parse + new-entry checks.

Figures are printed side by side with a baseline:

* scheduler: the heap :class:`~pipeline.polling.Scheduler` against a naive
  scheduler that scans every feed on each tick (what "due feeds" costs without
  a heap), over a simulated day of ticks, one per second;
* poll: parsing a 200-item RSS feed and checking its entries against the seen
  window in SQLite (the cost of one unchanged-but-no-ETag poll), against
  parsing alone.

    python -m bench.feed_polling
    python -m bench.feed_polling --feeds 2000 --hours 2   # quicker
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from connectors.feeds import parse_feed
from connectors.http.base import FetchResponse, Purpose
from connectors.storage.db import Database
from connectors.storage.feed_state import FeedStateRepository
from pipeline.config import FeedConfig, ScheduleConfig, parse_config
from pipeline.polling import FeedPoller, PollResult, Scheduler

T0 = 1_700_000_000.0


class NaiveScheduler:
    """The baseline: every tick scans all feeds for ``next <= now``."""

    def __init__(self, feeds: list[FeedConfig], interval: float, rng: random.Random) -> None:
        self.next = {f.name: T0 + rng.uniform(0, interval * 0.1) for f in feeds}
        self.feeds = {f.name: f for f in feeds}
        self.interval = interval

    def due(self, now: float) -> list[FeedConfig]:
        ready = [self.feeds[n] for n, t in self.next.items() if t <= now]
        for feed in ready:
            self.next[feed.name] = now + self.interval
        return ready


def bench_scheduler(n_feeds: int, hours: float) -> None:
    feeds = [
        FeedConfig(name=f"feed{i}", url=f"https://site{i}.example/feed") for i in range(n_feeds)
    ]
    config = ScheduleConfig()
    rng = random.Random(1)
    news = PollResult(feed="x", status="ok")
    ticks = int(hours * 3600)

    started = time.perf_counter()
    scheduler = Scheduler(feeds, config, None, clock=lambda: T0, rng=random.Random(1))
    built = time.perf_counter() - started
    polls = 0
    started = time.perf_counter()
    for second in range(ticks):
        now = T0 + second
        for feed in scheduler.due(now):
            scheduler.record(feed, news, now=now)
            polls += 1
    heap_seconds = time.perf_counter() - started

    naive = NaiveScheduler(feeds, config.default_interval_seconds, rng)
    naive_polls = 0
    started = time.perf_counter()
    for second in range(ticks):
        naive_polls += len(naive.due(T0 + second))
    naive_seconds = time.perf_counter() - started

    print(f"scheduler: {n_feeds} feeds, {ticks} one-second ticks ({hours:g} h simulated)")
    print(f"  {'':24}{'heap (ours)':>14}{'naive scan':>14}")
    print(f"  {'build':24}{built * 1000:>12.1f}ms{'-':>14}")
    print(f"  {'polls scheduled':24}{polls:>14}{naive_polls:>14}")
    print(f"  {'total time':24}{heap_seconds:>13.2f}s{naive_seconds:>13.2f}s")
    print(
        f"  {'per tick':24}{heap_seconds / ticks * 1e6:>12.1f}us"
        f"{naive_seconds / ticks * 1e6:>12.1f}us"
    )
    print("  (ours adapts: feeds that yield nothing are polled less often, hence fewer polls)")


class StaticFetcher:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        return FetchResponse(
            url=url, status=200, body=self.body, headers={"content-type": "application/rss+xml"}
        )

    def close(self) -> None:
        pass


def rss(items: int) -> bytes:
    body = "".join(
        f"<item><title>Story {i}</title><link>https://news.example/{i}?utm_source=rss</link>"
        f"<guid>id-{i}</guid><author>desk@news.example (Desk)</author>"
        f"<pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate>"
        f"<description>Summary of story {i} with &lt;b&gt;markup&lt;/b&gt;.</description></item>"
        for i in range(items)
    )
    return f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def bench_poll(rounds: int) -> None:
    body = rss(200)
    feed = FeedConfig(name="bench", url="https://news.example/feed")
    config = parse_config({"feeds": [feed.model_dump()]})
    started = time.perf_counter()
    for _ in range(rounds):
        parse_feed(body, feed=feed, base_url=feed.url)
    parse_only = (time.perf_counter() - started) / rounds
    with tempfile.TemporaryDirectory() as tmp:
        repo = FeedStateRepository(Database(f"sqlite:///{Path(tmp) / 'state.db'}"))
        poller = FeedPoller(StaticFetcher(body), repo, config)
        poller.commit(feed, poller.poll(feed))
        started = time.perf_counter()
        for _ in range(rounds):
            result = poller.poll(feed)
            poller.commit(feed, result)
        full = (time.perf_counter() - started) / rounds
        assert result.entries == []
    print(
        f"\npoll of an unchanged 200-item RSS feed without ETag ({len(body) // 1024} KiB),"
        f" mean of {rounds}"
    )
    print(f"  {'parse only (baseline)':32}{parse_only * 1000:>10.1f} ms")
    print(f"  {'poll + seen check + commit':32}{full * 1000:>10.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    bench_scheduler(args.feeds, args.hours)
    bench_poll(args.rounds)


if __name__ == "__main__":
    main()
