"""The embedded service: poll feeds when due, run the pipeline, commit, repeat.

``run_once`` polls every enabled feed once (a WARC backfill until it is
read to the end) and drains the pipeline; ``run_forever`` follows the
scheduler until asked to stop, and waits out a store that went away (see
:meth:`EmbeddedService.run_forever`). A feed's poll is committed (its new entries
marked seen, its validators saved) only after every one of its entries went
through the pipeline, so a crash in between, or a stop in the middle of a
feed, re-delivers them on the next poll instead of losing them (the store is
idempotent).

Each turn of the loop goes through a :class:`~pipeline.service.LoopControl`:
it beats the heartbeat ``/healthz`` watches and applies a pending config
reload (:meth:`EmbeddedService.reconfigure`), and the loop never sleeps more
than a second at a time. Stopping (SIGTERM/SIGINT set ``stop``) takes effect
at the next message: the rest of the feed in hand is left uncommitted.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from connectors.storage.dead_letters import DeadLetter
from pipeline.config import Config, FeedConfig
from pipeline.errors import StoreUnavailable
from pipeline.models import FeedEntry
from pipeline.polling.poller import FeedPoller, PollResult
from pipeline.polling.scheduler import Scheduler
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.letter_expiry import LetterExpiry
from pipeline.runtime.polls import poll_in_parallel
from pipeline.runtime.retry_later import LetterRetry
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources
from pipeline.service.control import LoopControl
from pipeline.service.metrics import STORE_UNAVAILABLE
from pipeline.service.progress import Progress
from pipeline.service.reload import apply_feed_config

log = logging.getLogger(__name__)

POLL_THREADS = 8
STORE_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between tries to reach a store that went away: the last one repeats."""
STORE_FLAP_SECONDS = 120.0
"""A store failing again within this time of coming back continues the waits above."""


def _store_delay(attempt: int) -> float:
    return STORE_RETRY_SECONDS[min(attempt, len(STORE_RETRY_SECONDS) - 1)]


class EmbeddedService:
    def __init__(
        self,
        config: Config,
        resources: Resources,
        *,
        control: LoopControl | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.resources = resources
        self.control = control or LoopControl()
        self.progress = progress
        self.poller = FeedPoller(
            resources.fetcher, resources.feed_state, config, pages=resources.articles
        )
        self.scheduler = Scheduler(config.feeds, config.schedule, resources.feed_state)
        # Last: the pipeline starts the extraction processes, and a store that cannot be
        # opened (above) must stop the service before any process exists to outlive it.
        self.pipeline = EmbeddedPipeline(
            config, resources, on_handled=self._handled, on_stored=self.control.stored
        )
        self.letter_retry = LetterRetry(resources.dead_letters, self._submit_letters)
        self.letter_expiry = LetterExpiry.from_config(resources.dead_letters, config.storage)
        self._summary = RunSummary()
        self._store_tries = 0
        self._store_back_at: float | None = None
        """When the store last came back (monotonic), if it ever went away."""

    def run_once(self, stop: threading.Event | None = None) -> RunSummary:
        """Poll every enabled feed once (backfills to their end) and drain the pipeline."""
        stop = stop or threading.Event()
        summary = RunSummary()
        pending = [f for f in self.config.feeds if f.enabled]
        self.letter_expiry.run_due()
        if self.progress is not None:
            self.progress.expect("feeds", len(pending))
        while pending and not stop.is_set():
            self.control.tick()
            handled = self._poll_and_process(pending, summary, stop)
            pending = [feed for feed, result in handled if result.more and result.error is None]
        return summary

    def run_forever(self, stop: threading.Event) -> RunSummary:
        """Poll feeds as they fall due until ``stop`` is set; the feed in hand stays uncommitted.

        A store that goes away (a PostgreSQL restart or failover) or cannot take
        writes (a full disk) does not end the service: the work in hand is dropped
        uncommitted, the loop waits until the store commits a write again, and then
        the feeds of the round are polled again at once (their entries come again;
        those committed find nothing new), not when their lease ends, an interval (up
        to ``max_interval_seconds``) later.
        """
        summary = self._summary
        while not stop.is_set():
            due: list[FeedConfig] = []
            try:
                self.control.tick(self)  # a reload reads feed state from the store too
                due = self.scheduler.due()
                if due:
                    self._poll_and_process(due, summary, stop)
                if self.letter_retry.run_due():
                    self.pipeline.drain(stop)
                self.letter_expiry.run_due()
            except StoreUnavailable as exc:
                self._wait_for_store(exc, stop)
                for feed in due:
                    self.scheduler.retry_soon(feed, 0.0)
                continue
            self.control.wait(stop, self.scheduler.seconds_until_next())
        return summary

    def _submit_letters(self, work: Sequence[tuple[FeedEntry, DeadLetter]]) -> None:
        """Entries of dead letters due again (:mod:`pipeline.runtime.retry_later`)."""
        entries = [entry for entry, _ in work]
        self.pipeline.submit(entries, self._summary, letters=[letter for _, letter in work])

    def _wait_for_store(self, error: StoreUnavailable, stop: threading.Event) -> None:
        """Drop the work in hand and try a write until the store commits it (or ``stop``).

        A store that fails again soon after it came back (a nearly full disk takes
        the probe's one-row write, not an article) goes on with the longer waits
        where the last outage left off: each return re-polls and re-fetches the
        work in hand, which must not happen every second for as long as it lasts.
        """
        self.pipeline.abandon()
        STORE_UNAVAILABLE.labels("embedded").inc()
        back_at = self._store_back_at
        flapping = back_at is not None and time.monotonic() - back_at < STORE_FLAP_SECONDS
        first = self._store_tries if flapping else 0
        log.warning(
            "store unavailable: %s; the polls in hand stay uncommitted (their entries come"
            " again), trying the store again in %.0f s",
            error, _store_delay(first),
            extra={"event": "store_unavailable"},
        )  # fmt: skip
        for attempt in itertools.count(first):
            delay = _store_delay(attempt)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                self.control.beat()  # liveness: waiting is not hanging (reloads wait too)
                if self.control.wait(stop, deadline - time.monotonic()):
                    return
            try:
                # A write, not SELECT 1: reads still answer on a full disk.
                self.resources.store.probe.prove()
            except StoreUnavailable:
                continue
            log.info(
                "store is back after %d tries", attempt - first + 1, extra={"event": "store_back"}
            )
            self._store_tries, self._store_back_at = attempt + 1, time.monotonic()
            return

    def reconfigure(self, config: Config) -> None:
        """Follow a reloaded config: its feeds and schedule (the rest needs a restart)."""
        apply_feed_config(self.poller, self.scheduler, self.resources.fetcher, config)
        self.config = config

    def _poll_and_process(
        self, feeds: Sequence[FeedConfig], summary: RunSummary, stop: threading.Event
    ) -> list[tuple[FeedConfig, PollResult]]:
        """Poll ``feeds`` in parallel and hand each result on as it comes; a poll is committed
        once its entries are through. The pipeline works on several feeds' entries at once
        (the next feed's pages are fetched and extracted while this one's are stored), and
        on what it has while slow polls are still running."""
        handled: list[tuple[FeedConfig, PollResult]] = []
        submitted: list[tuple[FeedConfig, PollResult]] = []
        polls = poll_in_parallel(
            self.poller.poll, feeds, stop, threads=POLL_THREADS, while_waiting=self.pipeline.step
        )
        for feed, result in polls:
            self.control.beat()
            submitted.append((feed, result))
            on_done = self._committer(feed, result, summary, handled)
            on_through = partial(self.poller.mark_seen, feed, result)
            if not self.pipeline.submit(
                result.entries, summary, on_done=on_done, stop=stop, on_through=on_through
            ):
                polls.close()
                break
        self.pipeline.drain(stop)
        committed = {id(result) for _, result in handled}
        self._log_abandoned([(f, r) for f, r in submitted if id(r) not in committed])
        return handled

    def _committer(
        self,
        feed: FeedConfig,
        result: PollResult,
        summary: RunSummary,
        handled: list[tuple[FeedConfig, PollResult]],
    ) -> Callable[[], None]:
        def commit() -> None:
            handled.append(self._commit(feed, result, summary))

        return commit

    def _log_abandoned(self, polls: list[tuple[FeedConfig, PollResult]]) -> None:
        """Polls a stop left uncommitted: their entries not stored yet come again on the
        next poll (those stored were marked seen with their articles)."""
        for feed, result in polls:
            log.info(
                "stopping: the poll of feed %s (%d new entries) is left uncommitted; the "
                "entries not stored yet come again at its next poll",
                feed.name, len(result.entries),
                extra={"feed": feed.name, "event": "poll_abandoned", "count": len(result.entries)},
            )  # fmt: skip

    def _commit(
        self, feed: FeedConfig, result: PollResult, summary: RunSummary
    ) -> tuple[FeedConfig, PollResult]:
        """Commit one poll whose entries are all stored or dead-lettered."""
        self.poller.commit(feed, result)
        self.scheduler.record(feed, result)
        summary.count_poll(result)
        if self.progress is not None:
            self.progress.add("feeds", 0 if result.more else 1)
            self.progress.add("entries", len(result.entries))
        return feed, result

    def _handled(self, worker: str, handled: int, failed: int) -> None:
        """After each message a worker handled: the heartbeat moves, the progress line counts."""
        self.control.working()
        if self.progress is not None:
            self.progress.add(worker, handled)
            if failed:
                self.progress.add("dead letters", failed)

    def close(self) -> None:
        self.pipeline.close()
