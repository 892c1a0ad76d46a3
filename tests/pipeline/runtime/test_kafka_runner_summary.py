"""The store worker's run summary counts what changed the store, not every record.

Stand-ins replace the consumer and the delivery (as in ``test_kafka_runner_idle``):
what is tested is how the runner counts a batch its store stage wrote, on a real
SQLite store, not the broker. A replayed batch (a restart before the commit, a
``dlq replay``) finds every row unchanged and must not be counted as stored again.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kafka_support import stored_article

from connectors.kafka.records import InRecord
from pipeline.config import Config, parse_config
from pipeline.models import DuplicateEvent, Message
from pipeline.runtime.kafka_runner import KafkaWorkerRunner
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.topology import WORKER_BY_NAME, topic_name


class OneBatchConsumer:
    """Hands out one batch, then nothing; every record counts as handled."""

    def __init__(self, records: list[InRecord]) -> None:
        self.records = records

    def poll(self, timeout_ms: int, max_records: int) -> list[InRecord]:
        batch, self.records = self.records, []
        return batch

    def rebalance_pending(self) -> bool:
        return False

    def next_offsets(self, handled: list[InRecord], batch: list[InRecord]) -> dict[object, int]:
        return {}


class Accepting:
    def deliver(self, outputs: list[object], offsets: dict[object, int]) -> None:
        pass


def records(config: Config) -> list[InRecord]:
    original, copy = stored_article("original"), stored_article("copy")
    duplicate = DuplicateEvent(
        id="copy", url=copy.url, duplicate_of="original", cluster_id="original",
        similarity=0.9, method="near_duplicate", article=copy,
    )  # fmt: skip
    messages: list[tuple[str, Message]] = [
        ("enriched", original),
        ("enriched", stored_article("other")),
        ("duplicates", duplicate),
    ]
    prefix = config.kafka.topic_prefix
    return [
        InRecord(topic_name(prefix, topic), 0, n, m.key().encode(), m.to_json())
        for n, (topic, m) in enumerate(messages)
    ]


def store_run(config: Config) -> RunSummary:
    """One run of a store worker over the batch: a fresh runner, so a fresh summary."""
    resources = Resources(config)
    runner = KafkaWorkerRunner(
        config, WORKER_BY_NAME["store"], resources, stages=[build_stage("store", resources)]
    )
    runner._consumer = OneBatchConsumer(records(config))  # type: ignore[assignment]
    runner._delivery = Accepting()  # type: ignore[assignment]
    try:
        assert runner.run_batch(threading.Event()) == 3
    finally:
        resources.close()
    return runner.summary


def test_a_replayed_batch_is_not_counted_as_stored_again(tmp_path: Path) -> None:
    config = parse_config({"storage": {"url": f"sqlite:///{tmp_path}/store.db"}})
    first = store_run(config)
    again = store_run(config)
    assert (first.articles, first.duplicates, first.failures) == (2, 1, 0)
    assert (again.articles, again.duplicates, again.failures) == (0, 0, 0)
