"""An idle member whose position commit meets a rebalance waits for its next poll.

Stand-ins replace the consumer and the delivery: what is tested is the
runner's answer to an error already translated at the Kafka boundary
(``connectors.kafka.errors``), not the broker.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.errors import TransportError
from pipeline.runtime.kafka_runner import KafkaWorkerRunner
from pipeline.runtime.wiring import Resources
from pipeline.topology import WORKER_BY_NAME


class IdleConsumer:
    """Polls nothing; its idle commit fails with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.commits = 0

    def poll(self, timeout_ms: int, max_records: int) -> list[object]:
        return []

    def commit_idle(self) -> dict[object, int]:
        self.commits += 1
        raise TransportError("Kafka: commit offsets failed", reason=self.reason)


def idle_runner(reason: str, tmp_path: Path) -> tuple[KafkaWorkerRunner, IdleConsumer]:
    config = parse_config({"storage": {"url": f"sqlite:///{tmp_path}/idle.db"}})
    runner = KafkaWorkerRunner(config, WORKER_BY_NAME["store"], Resources(config), stages=[])
    consumer = IdleConsumer(reason)
    runner._consumer = consumer  # type: ignore[assignment]
    runner._delivery = object()  # type: ignore[assignment]
    return runner, consumer


def test_a_rebalance_during_an_idle_commit_is_not_a_failure(tmp_path: Path) -> None:
    runner, consumer = idle_runner("kafka_rebalanced", tmp_path)
    assert runner.run_batch(threading.Event()) == 0
    assert runner.run_batch(threading.Event()) == 0
    assert consumer.commits == 2  # tried again at the next idle poll


def test_other_commit_failures_still_reach_the_retry_loop(tmp_path: Path) -> None:
    runner, _ = idle_runner("kafka_unavailable", tmp_path)
    with pytest.raises(TransportError, match="commit offsets failed"):
        runner.run_batch(threading.Event())
