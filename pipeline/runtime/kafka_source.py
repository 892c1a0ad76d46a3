"""The feed poller on Kafka: new feed entries become ``news.items`` records.

A feed's poll is committed (its new entries marked seen, its validators
saved) only after the broker acknowledged every entry it produced, so a crash
or a broker outage in between polls the feed again instead of losing entries.
Entries are keyed by their canonical URL, so all news about one article stays
in one partition, in order.

Run exactly one poller per deployment (``newsflow stage poll``, or as part of
``newsflow run`` with ``transport: kafka``): two pollers sharing one feed
state would produce each new entry twice (harmless downstream, but wasted
work)::

    source = KafkaFeedSource(config, resources)
    summary = source.run_once()          # every enabled feed once, backfills to their end
    source.run_forever(stop)             # follow the schedule until stop is set
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kafka import KafkaProducer

from connectors.kafka.clients import make_producer
from connectors.kafka.delivery import discard, produce_all
from connectors.kafka.errors import kafka_errors
from connectors.kafka.records import OutRecord
from pipeline.config import Config, FeedConfig
from pipeline.errors import StoreUnavailable, TransportError
from pipeline.models import FeedEntry
from pipeline.polling.poller import FeedPoller, PollResult
from pipeline.polling.scheduler import Scheduler
from pipeline.runtime.polls import poll_in_parallel
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources
from pipeline.service.metrics import STORE_UNAVAILABLE
from pipeline.topology import topic_name

if TYPE_CHECKING:
    from pipeline.service.control import LoopControl

log = logging.getLogger(__name__)

POLL_THREADS = 8
PUBLISH_BACKOFF_S = 5.0
"""The pause after polls the broker or the store did not take, and the first wait
before a feed whose entries were refused is polled again (doubling each time)."""


class KafkaFeedSource:
    def __init__(
        self,
        config: Config,
        resources: Resources,
        *,
        producer: KafkaProducer | None = None,
        control: LoopControl | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.stop = stop
        """Ends the wait for the broker when a producer is made (see :func:`make_producer`)."""
        self.resources = resources
        self.control = control
        self.topic = topic_name(config.kafka.topic_prefix, "items")
        self.poller = FeedPoller(
            resources.fetcher, resources.feed_state, config, pages=resources.articles
        )
        self.scheduler = Scheduler(config.feeds, config.schedule, resources.feed_state)
        self.producer: KafkaProducer | None = producer or self._make_producer()
        self._refused: dict[str, int] = {}
        """Polls in a row whose entries the broker did not acknowledge, by feed."""

    def _make_producer(self) -> KafkaProducer:
        client_id = f"{self.config.kafka.group_prefix}.poll"
        return make_producer(self.config.kafka, client_id=client_id, stop=self.stop)

    def run_once(self, stop: threading.Event | None = None) -> RunSummary:
        """Poll every enabled feed once (a backfill to its end).

        Raises :class:`TransportError` when a feed's entries were not
        acknowledged (its poll is not committed).
        """
        stop = stop or threading.Event()
        summary = RunSummary()
        pending = [f for f in self.config.feeds if f.enabled]
        failed: list[str] = []
        while pending and not stop.is_set():
            self._tick()
            published = self.poll_feeds(pending, summary, stop)
            failed += [feed.name for feed in pending if feed.name not in published]
            pending = [feed for feed, result in published.values() if result.more and result.ok]
        if failed:
            raise TransportError(
                f"entries of {len(failed)} feeds were not acknowledged by Kafka"
                f" ({', '.join(failed)}); their polls are not committed"
            )
        return summary

    def run_forever(self, stop: threading.Event) -> RunSummary:
        """Poll feeds as they fall due until ``stop`` is set."""
        summary = RunSummary()
        while not stop.is_set():
            try:
                self._tick(self)  # a reload reads feed state from the store
            except StoreUnavailable as exc:
                self._store_away(exc)
                self._wait(stop, PUBLISH_BACKOFF_S)
                continue
            due = self.scheduler.due()
            if due and len(self._poll_or_wait(due, summary, stop)) < len(due) and not stop.is_set():
                self._wait(stop, PUBLISH_BACKOFF_S)  # the broker or the store is away
                continue
            self._wait(stop, self.scheduler.seconds_until_next())
        return summary

    def _poll_or_wait(
        self, feeds: Sequence[FeedConfig], summary: RunSummary, stop: threading.Event
    ) -> dict[str, tuple[FeedConfig, PollResult]]:
        """:meth:`poll_feeds`; a store that cannot be reached publishes nothing more, and
        the polls not committed give their entries again at the next poll, soon (those
        committed already are polled once more, finding nothing new)."""
        try:
            return self.poll_feeds(feeds, summary, stop)
        except StoreUnavailable as exc:
            self._store_away(exc)
            for feed in feeds:
                self._poll_again_soon(feed)
            return {}

    def _store_away(self, error: StoreUnavailable) -> None:
        STORE_UNAVAILABLE.labels("poll").inc()
        log.warning(
            "store unavailable: %s; polls not committed come again",
            error,
            extra={"event": "store_unavailable"},
        )

    def reconfigure(self, config: Config) -> None:
        """Follow a reloaded config: its feeds and schedule (the rest needs a restart)."""
        from pipeline.service.reload import apply_feed_config

        apply_feed_config(self.poller, self.scheduler, self.resources.fetcher, config)
        self.config = config

    def poll_feeds(
        self, feeds: Sequence[FeedConfig], summary: RunSummary, stop: threading.Event
    ) -> dict[str, tuple[FeedConfig, PollResult]]:
        """Poll ``feeds`` in parallel and publish each; return those published, by name.

        A feed whose entries were not acknowledged, or that ``stop`` cut
        short, is left uncommitted: its next poll finds the same entries.
        """
        published: dict[str, tuple[FeedConfig, PollResult]] = {}
        for feed, result in poll_in_parallel(self.poller.poll, feeds, stop, threads=POLL_THREADS):
            try:
                self.publish(feed, result, summary)
            except TransportError as exc:
                log.warning("%s", exc, extra={"feed": feed.name, "reason": exc.reason})
                self._poll_again_soon(feed)
                continue
            self._refused.pop(feed.name, None)
            published[feed.name] = (feed, result)
        return published

    def _poll_again_soon(self, feed: FeedConfig) -> None:
        """Poll a feed whose entries were refused (the broker or the store was away)
        again after a backoff (5 s, doubling), not an interval later: its entries are
        not seen until it is polled again."""
        refused = self._refused[feed.name] = self._refused.get(feed.name, 0) + 1
        self.scheduler.retry_soon(feed, PUBLISH_BACKOFF_S * 2 ** min(refused - 1, 16))

    def publish(self, feed: FeedConfig, result: PollResult, summary: RunSummary) -> None:
        """Produce the poll's entries, wait for the acks, then commit the poll."""
        if self.control is not None:
            self.control.beat()
        self.send(result.entries)
        self.poller.commit(feed, result)
        self.scheduler.record(feed, result)
        summary.count_poll(result)

    def _tick(self, target: KafkaFeedSource | None = None) -> None:
        """Heartbeat, and a pending config reload applied (``newsflow run``'s loop control)."""
        if self.control is not None:
            self.control.tick(target)

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        if self.control is not None:
            self.control.wait(stop, seconds)
        else:
            stop.wait(max(0.05, seconds))

    def send(self, entries: Iterable[FeedEntry]) -> None:
        """Produce ``entries`` keyed by URL; return once all are acknowledged (acks=all).

        After a failure the producer is replaced (see :mod:`connectors.kafka.delivery`).
        """
        records = [OutRecord(self.topic, e.key().encode("utf-8"), e.to_json()) for e in entries]
        if self.producer is None:
            self.producer = self._make_producer()
        try:
            produce_all(self.producer, records, what=f"entries to {self.topic}")
        except TransportError:
            discard(self.producer)
            self.producer = None
            raise

    def close(self) -> None:
        if self.producer is not None:
            with kafka_errors("close the poller's producer"):
                self.producer.close(timeout=5)
