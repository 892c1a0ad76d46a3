"""The store worker's run summary counts what changed the store, not every record.

Stand-ins replace the consumer and the delivery (as in ``test_kafka_runner_idle``):
what is tested is how the runner counts a batch its store stage wrote, on a real
SQLite store, not the broker. A replayed batch (a restart before the commit, a
``dlq replay``) finds every row unchanged and must not be counted as stored again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kafka_support import stored_article
from prometheus_client import REGISTRY

from connectors.kafka.records import InRecord
from pipeline.config import Config, parse_config
from pipeline.errors import StoreUnavailable, TransportError
from pipeline.models import DuplicateEvent, Message
from pipeline.runtime.kafka_runner import KafkaWorkerRunner
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.stages.base import Stage
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


class LostCommitConsumer(OneBatchConsumer):
    """Hands out one batch; after its failed delivery the group's committed offsets are
    past it (``committed``: it is not polled again) or at its start (it is)."""

    def __init__(self, records: list[InRecord], *, committed: bool) -> None:
        super().__init__(records)
        self.committed = committed

    def resume_from_committed(self, batch: list[InRecord]) -> dict[tuple[str, int], int]:
        if not self.committed:
            self.records = batch
            return {batch[0].where: batch[0].offset}
        return {batch[0].where: batch[-1].offset + 1}

    def commit_idle(self) -> None:
        pass


class CommitUnanswered:
    """The first delivery raises as a commit past the transaction timeout does."""

    def __init__(self) -> None:
        self.failed = False

    def deliver(self, outputs: list[object], offsets: dict[object, int]) -> None:
        if not self.failed:
            self.failed = True
            raise TransportError("Kafka: commit the transaction failed: transaction timeout")

    def connect(self) -> None:
        pass


def batches(result: str) -> float:
    labels = {"worker": "store", "result": result}
    return REGISTRY.get_sample_value("newsflow_kafka_batches_total", labels) or 0.0


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "aborted"])
def test_a_batch_whose_commit_went_unanswered_is_counted_once(
    tmp_path: Path, committed: bool
) -> None:
    """committed: the broker committed the batch, only the answer was lost; it is not
    handled again. Before, it was never counted: the summary said 0 articles, 0 failures
    and newsflow_kafka_batches_total had no committed batch. aborted: it is handled
    again; its articles were written by the failed attempt, and the second finds them
    unchanged (a replay is not counted as stored): before, they were never counted."""
    config = parse_config({"storage": {"url": f"sqlite:///{tmp_path}/store.db"}})
    resources = Resources(config)
    runner = KafkaWorkerRunner(
        config, WORKER_BY_NAME["store"], resources, stages=[build_stage("store", resources)]
    )
    batch = [*records(config), InRecord(records(config)[0].topic, 0, 3, b"bad", b"not json")]
    runner._consumer = LostCommitConsumer(batch, committed=committed)  # type: ignore[assignment]
    runner._delivery = CommitUnanswered()  # type: ignore[assignment]
    before = {result: batches(result) for result in ("failed", "committed")}
    stop = threading.Event()
    try:
        with pytest.raises(TransportError, match="transaction timeout"):
            runner.run_batch(stop)
        again = runner.run_batch(stop)
        assert runner.run_batch(stop) == 0
    finally:
        resources.close()

    summary = runner.summary
    assert again == (0 if committed else 4)
    assert (summary.articles, summary.duplicates, summary.failures) == (2, 1, 1)
    assert {result: batches(result) - before[result] for result in before} == {
        "failed": 1,
        "committed": 1,
    }


class StoreAwayOnce(Stage):
    """A store stage whose store is away for the first record's two tries."""

    name = "store"
    accepts = (Message,)

    def __init__(self) -> None:
        self.calls = 0

    def process(self, message: Message) -> list[Message]:
        self.calls += 1
        if self.calls <= 2:
            raise StoreUnavailable("database is locked (injected)")
        return []


def test_a_store_outage_is_told_once_even_when_its_batch_is_not_delivered(
    tmp_path: Path,
) -> None:
    """The store was away in a batch whose delivery then failed: that batch is consumed
    again, and the outage was its business. The next batch, delivered with every write
    committed, raised StoreUnavailable with the old reason (one needless back-off, one
    more newsflow_store_unavailable_total)."""
    config = parse_config({
        "storage": {"url": f"sqlite:///{tmp_path}/store.db"},
        "kafka": {"retry_attempts": 1, "retry_backoff_seconds": 0.01},
    })  # fmt: skip
    resources = Resources(config)
    stage = StoreAwayOnce()
    runner = KafkaWorkerRunner(config, WORKER_BY_NAME["store"], resources, stages=[stage])
    batch = records(config)
    runner._consumer = LostCommitConsumer(batch, committed=False)  # type: ignore[assignment]
    runner._delivery = CommitUnanswered()  # type: ignore[assignment]
    stop = threading.Event()
    try:
        with pytest.raises(TransportError):
            runner.run_batch(stop)
        assert runner.run_batch(stop) == len(batch), "delivered, the store answering"
    finally:
        resources.close()
    assert stage.calls == 2 + len(batch)
