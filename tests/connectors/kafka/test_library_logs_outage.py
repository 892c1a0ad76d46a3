"""kafka-python's lines while a broker of the test's own is down: once per logger and message."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress

import pytest
from kafka import KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

from connectors.kafka.clients import make_admin  # (installs the filter, as every client user)
from connectors.kafka.library_logs import RepeatsAsDebug
from pipeline.config import KafkaConfig

pytestmark = pytest.mark.kafka

OUTAGE_S = 8.0
"""Long enough for every retrying client to fail several times (about once a second)."""


def _make_topic(bootstrap: str, topic: str) -> None:
    admin = make_admin(KafkaConfig(bootstrap_servers=[bootstrap]))
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()


@pytest.fixture
def debug_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger at DEBUG (held-back lines are kept), the repeat filter fresh."""
    for name in ("kafka.cluster", "kafka.net.manager"):
        for installed in logging.getLogger(name).filters:
            if isinstance(installed, RepeatsAsDebug):
                monkeypatch.setattr(installed, "_shown", {})
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.setLevel(previous)


def test_a_killed_broker_shows_each_kafka_line_once(
    own_broker, debug_root: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Was a line per failed retry: ~800 a minute under ``newsflow run``."""
    topic = f"outage{uuid.uuid4().hex[:8]}"
    _make_topic(own_broker.bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=own_broker.bootstrap, max_block_ms=500)
    try:
        producer.send(topic, b"before").get(timeout=30)
        caplog.clear()
        own_broker.kill()
        with caplog.at_level(logging.DEBUG, logger="kafka"):
            deadline = time.monotonic() + OUTAGE_S
            while time.monotonic() < deadline:
                with suppress(KafkaTimeoutError):  # asks the broker, leaves nothing pending
                    producer.partitions_for(f"{topic}-unknown")
    finally:
        producer.close(timeout=1)
    kafka = [r for r in caplog.records if r.name.startswith("kafka")]
    shown = Counter((r.name, str(r.msg)) for r in kafka if r.levelno >= logging.WARNING)
    held = Counter((r.name, str(r.msg)) for r in kafka if r.levelno < logging.WARNING)
    assert shown, "the outage logged nothing: the test saw no outage"
    assert max(shown.values()) == 1, shown.most_common(3)
    assert any(held[key] for key in shown), "no repeats held back: the test saw no retries"
