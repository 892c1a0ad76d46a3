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
    summary = source.run_once()          # every enabled feed, once
    source.run_forever(stop)             # follow the schedule until stop is set
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from kafka import KafkaProducer

from connectors.kafka.clients import make_producer
from connectors.kafka.delivery import discard, produce_all
from connectors.kafka.errors import kafka_errors
from connectors.kafka.records import OutRecord
from pipeline.config import Config, FeedConfig
from pipeline.errors import TransportError
from pipeline.models import FeedEntry
from pipeline.polling.poller import FeedPoller, PollResult
from pipeline.polling.scheduler import Scheduler
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources
from pipeline.topology import topic_name

log = logging.getLogger(__name__)

POLL_THREADS = 8
PUBLISH_BACKOFF_S = 5.0


class KafkaFeedSource:
    def __init__(
        self, config: Config, resources: Resources, *, producer: KafkaProducer | None = None
    ) -> None:
        self.config = config
        self.topic = topic_name(config.kafka.topic_prefix, "items")
        self.poller = FeedPoller(resources.fetcher, resources.feed_state, config)
        self.scheduler = Scheduler(config.feeds, config.schedule, resources.feed_state)
        self.producer: KafkaProducer | None = producer or self._make_producer()

    def _make_producer(self) -> KafkaProducer:
        return make_producer(self.config.kafka, client_id=f"{self.config.kafka.group_prefix}.poll")

    def run_once(self) -> RunSummary:
        """Poll every enabled feed once; raise :class:`TransportError` if entries were not sent."""
        summary = RunSummary()
        failed = self.poll_feeds([f for f in self.config.feeds if f.enabled], summary)
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
            due = self.scheduler.due()
            if due and self.poll_feeds(due, summary):
                stop.wait(PUBLISH_BACKOFF_S)  # the broker is away; the feeds stay due
                continue
            stop.wait(timeout=max(0.05, self.scheduler.seconds_until_next()))
        return summary

    def poll_feeds(self, feeds: Sequence[FeedConfig], summary: RunSummary) -> list[str]:
        """Poll ``feeds`` in parallel and publish each; return the names whose entries failed."""
        failed = []
        with ThreadPoolExecutor(POLL_THREADS, thread_name_prefix="poll") as pool:
            for feed, result in zip(feeds, pool.map(self.poller.poll, feeds), strict=True):
                try:
                    self.publish(feed, result, summary)
                except TransportError as exc:
                    log.warning("%s", exc, extra={"feed": feed.name, "reason": exc.reason})
                    failed.append(feed.name)
        return failed

    def publish(self, feed: FeedConfig, result: PollResult, summary: RunSummary) -> None:
        """Produce the poll's entries, wait for the acks, then commit the poll."""
        self.send(result.entries)
        self.poller.commit(feed, result)
        self.scheduler.record(feed, result)
        summary.feeds_polled += 1
        summary.feeds_failed += result.error is not None
        summary.feeds_not_modified += result.not_modified
        summary.entries += len(result.entries)

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
