"""The feed poller on the real broker: a poll is committed only after its entries are acked.

A local RSS file lists three articles. While ``news.items`` refuses them (its
``max.message.bytes`` is set below their size), publishing fails and the
feed's poll is not committed; once the topic accepts them, the next poll
finds the same three entries again, and the one after that finds none. The
same holds when the store (feed state on PostgreSQL) drops its connection.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kafka_support import KafkaEnv
from prometheus_client import REGISTRY

from pipeline.errors import TransportError
from pipeline.models import FeedEntry
from pipeline.runtime.kafka_source import KafkaFeedSource
from pipeline.runtime.wiring import Resources
from pipeline.service.control import LoopControl
from pipeline.service.reload import ConfigReloader

pytestmark = pytest.mark.kafka
psycopg = pytest.importorskip("psycopg")


def rss(path: Path, count: int) -> Path:
    """An RSS file whose items carry 3 kB of random text (too large for a 1 kB topic)."""
    rng = random.Random(7)
    items = "".join(
        f"<item><title>Story {i}</title><link>https://wire.example/story-{i}</link>"
        f"<description>{''.join(rng.choices(string.ascii_letters, k=3000))}</description></item>"
        for i in range(count)
    )
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example/</link>{items}</channel></rss>",
        encoding="utf-8",
    )
    return path


def test_the_feed_state_is_committed_only_after_the_broker_acknowledged_the_entries(
    kafka_env: KafkaEnv,
) -> None:
    feed = rss(kafka_env.workdir / "wire.xml", 3)
    kafka_env.configure(feeds=[{"name": "wire", "url": str(feed), "kind": "rss"}])
    kafka_env.create_topics()
    kafka_env.set_topic_config("items", "max.message.bytes", "1024")
    config = kafka_env.config
    resources = Resources(config)
    source = KafkaFeedSource(config, resources)
    try:
        with pytest.raises(TransportError, match="not acknowledged"):
            source.run_once()
        assert kafka_env.read("items") == []

        kafka_env.set_topic_config("items", "max.message.bytes", str(1024 * 1024))
        assert source.run_once().entries == 3
        assert source.run_once().entries == 0
    finally:
        source.close()
        resources.close()
    records = kafka_env.read("items")
    urls = [FeedEntry.model_validate_json(r.value).url for r in records]
    assert sorted(urls) == [f"https://wire.example/story-{i}" for i in range(3)]
    assert [r.key.decode() for r in records] == urls  # keyed by the article's URL


def test_a_feed_whose_entries_the_broker_refused_is_polled_again_soon_not_an_interval_later(
    kafka_env: KafkaEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Was the scheduler's lease: a feed polled while the broker was away waited a whole
    interval (15 min by default, up to 6 h) for its next poll, its entries with it."""
    feed = rss(kafka_env.workdir / "wire.xml", 3)
    kafka_env.configure(
        feeds=[{"name": "wire", "url": str(feed), "kind": "rss"}],
        schedule={"jitter": 0, "default_interval_seconds": 3600, "min_interval_seconds": 3600},
    )
    kafka_env.create_topics()
    kafka_env.set_topic_config("items", "max.message.bytes", "1024")
    config = kafka_env.config
    resources = Resources(config)
    with polling(KafkaFeedSource(config, resources), resources):
        deadline = time.monotonic() + 30
        while not any(getattr(r, "feed", None) == "wire" for r in caplog.records):
            assert time.monotonic() < deadline, "the broker never refused the entries"
            time.sleep(0.1)
        kafka_env.set_topic_config("items", "max.message.bytes", str(1024 * 1024))
        deadline = time.monotonic() + 60
        while len(kafka_env.read("items", timeout=1)) < 3:
            assert time.monotonic() < deadline, "the feed was not polled again"


@pytest.mark.postgres
@pytest.mark.parametrize("interval", [1, 3600])
def test_a_store_outage_leaves_the_polls_uncommitted_and_the_poller_goes_on(
    kafka_env: KafkaEnv, postgres_url: str, interval: int
) -> None:
    """The poller's store (feed state) loses its connection: the poll in hand is not
    committed, the service does not end, and the next poll publishes the entries, soon
    (5 s), not a whole interval later (the feed's lease, which 3600 s was before)."""
    feed = rss(kafka_env.workdir / "wire.xml", 3)
    kafka_env.configure(
        feeds=[{"name": "wire", "url": str(feed), "kind": "rss"}],
        storage={"url": postgres_url},
        schedule={
            "jitter": 0,
            "default_interval_seconds": interval,
            "min_interval_seconds": interval,
        },
    )
    kafka_env.create_topics()
    config = kafka_env.config
    resources = Resources(config)
    source = KafkaFeedSource(config, resources)
    outages = _store_outages()
    _drop_connections_to(postgres_url)
    with polling(source, resources):
        deadline = time.monotonic() + 30
        while len(kafka_env.read("items", timeout=1)) < 3:
            assert time.monotonic() < deadline, "the entries were never published"
    assert _store_outages() == outages + 1
    urls = [FeedEntry.model_validate_json(r.value).url for r in kafka_env.read("items")]
    assert sorted(urls) == [f"https://wire.example/story-{i}" for i in range(3)]


@pytest.mark.postgres
def test_a_reload_that_meets_a_store_outage_is_applied_once_the_store_is_back(
    kafka_env: KafkaEnv, postgres_url: str
) -> None:
    """A reload adding a feed reads feed state; with the store's connection dropped it
    fails. The poller goes on, and the next turn applies the reload: the new feed's
    entries are published."""
    kafka_env.configure(
        feeds=[],
        storage={"url": postgres_url},
        schedule={"jitter": 0, "default_interval_seconds": 1, "min_interval_seconds": 1},
    )
    kafka_env.create_topics()
    config = kafka_env.config
    config_file = kafka_env.config_file()
    resources = Resources(config)
    reloader = ConfigReloader(config_file, {}, config)
    source = KafkaFeedSource(config, resources, control=LoopControl(reloader=reloader))
    feed = rss(kafka_env.workdir / "wire.xml", 3)
    kafka_env.configure(feeds=[{"name": "wire", "url": str(feed), "kind": "rss"}])
    kafka_env.config_file()
    resources.feed_state.all()  # the store's connection is open, then dropped
    _drop_connections_to(postgres_url)
    reloader.request()
    outages = _store_outages()
    with polling(source, resources) as worker:
        deadline = time.monotonic() + 30
        while len(kafka_env.read("items", timeout=1)) < 3:
            assert worker.is_alive(), "the poller's loop ended"
            assert time.monotonic() < deadline, "the new feed's entries were never published"
    assert _store_outages() == outages + 1


@contextmanager
def polling(source: KafkaFeedSource, resources: Resources) -> Iterator[threading.Thread]:
    """``source.run_forever`` on a thread within; after, it must stop within 15 s, and the
    source and its resources are closed."""
    stop = threading.Event()
    worker = threading.Thread(target=source.run_forever, args=(stop,))
    worker.start()
    try:
        yield worker
    finally:
        stop.set()
        worker.join(timeout=15)
        source.close()
        resources.close()
    assert not worker.is_alive(), "the poller did not stop"


def _drop_connections_to(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _store_outages() -> float:
    value = REGISTRY.get_sample_value("newsflow_store_unavailable_total", {"worker": "poll"})
    return value or 0.0
