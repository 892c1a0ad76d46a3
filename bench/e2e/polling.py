"""10,000 feeds polled over HTTP with validators, on the real scheduler, time compressed.

The corpus server's polling hub (:class:`bench.e2e.server.PollHub`) serves
``--feeds`` small RSS feeds on ``127.0.0.1``, each with an ``ETag`` and a
``Last-Modified``; in every simulated minute a feed publishes one new item
with probability ``--publish-per-mille``/1000. This process runs what the
embedded service runs to poll them: the :class:`Scheduler` (15-minute
default interval, jitter, adaptive intervals), eight poll threads, the
:class:`FeedPoller` with the real fetcher and feed state in SQLite, and
commits each poll. Only the clock is simulated: it jumps to the next due
time instead of sleeping, so a simulated hour takes a minute or two.

Two phases, CPU measured with ``time.process_time`` (every thread):

1. schedule: first polls (full downloads) then ``--hours`` of steady state;
   the figure is CPU per 1,000 steady-state polls, and what 10,000 feeds
   per 15 minutes would cost as a share of one core (target: under 0.5);
2. unchanged: the hub's clock stands still and every feed is polled once
   more. Each must come back as a bodyless 304 with no entries: no parse,
   nothing new handed on; the database rows written per poll (the feed's
   validators and next due time) are reported.

Prints one JSON object::

    python -m bench.e2e.polling --base http://127.0.0.1:PORT --feeds 10000 --hours 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.config import Config, FeedConfig, parse_config
from pipeline.polling import FeedPoller, PollResult, Scheduler
from pipeline.runtime.wiring import Resources

POLL_THREADS = 8
"""As :data:`pipeline.runtime.service.POLL_THREADS`."""
MINUTE = 60.0
TICK = 5.0
"""Simulated seconds per scheduler tick: the feeds due within it are polled together."""


class SimClock:
    def __init__(self, start: float) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> float:
        return self.now


def bench_config(base: str, feeds: int, db: Path) -> Config:
    return parse_config({
        "feeds": [{"name": f"desk{n}", "url": f"{base}/poll/{n}.xml"} for n in range(feeds)],
        "storage": {"url": f"sqlite:///{db}"},
        "fetch": {"allow_private_networks": True, "min_host_interval": 0,
                  "per_host_concurrency": POLL_THREADS},
    })  # fmt: skip


class PollingBench:
    def __init__(self, base: str, feeds: int, workdir: Path) -> None:
        self.base = base
        self.config = bench_config(base, feeds, workdir / "polling.db")
        self.resources = Resources(self.config)
        self.clock = SimClock(time.time())
        self.poller = FeedPoller(
            self.resources.fetcher, self.resources.feed_state, self.config, clock=self.clock
        )
        self.scheduler = Scheduler(
            self.config.feeds, self.config.schedule, self.resources.feed_state,
            clock=self.clock, rng=random.Random(1),
        )  # fmt: skip
        self.pool = ThreadPoolExecutor(POLL_THREADS, thread_name_prefix="poll")
        self._epoch = -1

    def set_epoch(self) -> None:
        epoch = int((self.clock.now - self.clock.start) // MINUTE)
        if epoch != self._epoch:
            with urllib.request.urlopen(f"{self.base}/_bench/epoch/{epoch}", timeout=10) as r:
                r.read()
            self._epoch = epoch

    def poll(self, feeds: Sequence[FeedConfig], *, schedule: bool = True) -> list[PollResult]:
        results = list(self.pool.map(self.poller.poll, feeds))
        for feed, result in zip(feeds, results, strict=True):
            self.poller.commit(feed, result)
            if schedule:
                self.scheduler.record(feed, result)
        return results

    def run_schedule(self, seconds: float) -> tuple[Counter[str], int]:
        """Follow the scheduler for ``seconds`` of simulated time; (statuses, new entries)."""
        statuses: Counter[str] = Counter()
        entries = 0
        end = self.clock.now + seconds
        while True:
            wakeup = self.scheduler.next_wakeup(self.clock.now)
            self.clock.now = min(end, max(self.clock.now + TICK, wakeup))
            self.set_epoch()
            due = self.scheduler.due(self.clock.now)
            for result in self.poll(due):
                statuses[result.status] += 1
                entries += len(result.entries)
            if self.clock.now >= end:
                return statuses, entries

    def rows_written(self) -> int:
        return int(self.resources.store.db._conn.total_changes)

    def close(self) -> None:
        self.pool.shutdown()
        self.resources.close()


def server_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/_bench/stats", timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def measure(base: str, feeds: int, hours: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsflow-polling-") as tmp:
        bench = PollingBench(base, feeds, Path(tmp))
        try:
            return _phases(bench, base, feeds, hours)
        finally:
            bench.close()


def _phases(bench: PollingBench, base: str, feeds: int, hours: float) -> dict[str, Any]:
    interval = bench.config.schedule.default_interval_seconds
    started = time.process_time()
    first, first_entries = bench.run_schedule(interval * bench.config.schedule.jitter + 1)
    first_cpu = time.process_time() - started

    started, wall = time.process_time(), time.perf_counter()
    steady, steady_entries = bench.run_schedule(hours * 3600)
    steady_cpu, steady_wall = time.process_time() - started, time.perf_counter() - wall
    steady_polls = sum(steady.values())

    bench.poll(bench.config.feeds, schedule=False)  # catch up: every feed now current
    before_http, before_rows = server_stats(base), bench.rows_written()
    started = time.process_time()
    unchanged = bench.poll(bench.config.feeds, schedule=False)
    unchanged_cpu = time.process_time() - started
    after_http = server_stats(base)
    per_1000 = steady_cpu / max(1, steady_polls) * 1000  # CPU seconds per 1,000 polls
    return {
        "feeds": feeds,
        "simulated_hours": hours,
        "first_polls": sum(first.values()),
        "first_entries": first_entries,
        "first_cpu_s": round(first_cpu, 2),
        "steady_polls": steady_polls,
        "steady_statuses": dict(steady),
        "steady_entries": steady_entries,
        "steady_cpu_s": round(steady_cpu, 2),
        "steady_wall_s": round(steady_wall, 2),
        "cpu_s_per_1000_polls": round(per_1000, 2),
        "core_share_10000_per_15min": round(per_1000 * 10 / 900, 4),
        "unchanged_polls": len(unchanged),
        "unchanged_not_modified": sum(r.status == "not_modified" for r in unchanged),
        "unchanged_entries": sum(len(r.entries) for r in unchanged),
        "unchanged_http_304": _delta(before_http, after_http, "304"),
        "unchanged_http_200": _delta(before_http, after_http, "200"),
        "unchanged_body_bytes": after_http["body_bytes"] - before_http["body_bytes"],
        "unchanged_cpu_s_per_1000_polls": round(unchanged_cpu / max(1, len(unchanged)) * 1e3, 2),
        "unchanged_db_rows_per_poll": round(
            (bench.rows_written() - before_rows) / max(1, len(unchanged)), 2
        ),
    }


def _delta(before: dict[str, Any], after: dict[str, Any], status: str) -> int:
    return int(after["by_status"].get(status, 0)) - int(before["by_status"].get(status, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the corpus server, http://127.0.0.1:PORT")
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.base, args.feeds, args.hours)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
