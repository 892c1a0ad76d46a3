"""The feed poller on the real broker: a poll is committed only after its entries are acked.

A local RSS file lists three articles. While ``news.items`` refuses them (its
``max.message.bytes`` is set below their size), publishing fails and the
feed's poll is not committed; once the topic accepts them, the next poll
finds the same three entries again, and the one after that finds none.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from kafka_support import KafkaEnv

from pipeline.errors import TransportError
from pipeline.models import FeedEntry
from pipeline.runtime.kafka_source import KafkaFeedSource
from pipeline.runtime.wiring import Resources

pytestmark = pytest.mark.kafka


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
