"""What a group member says it holds, on the real broker.

kafka-python keeps revoked partitions in ``assignment()`` until the rejoin
completes; a member stuck out of its group reported them as its own, ready
and with their lag, while another member consumed them.
"""

from __future__ import annotations

import time

import pytest
from kafka import TopicPartition
from kafka_support import KafkaEnv

from connectors.kafka.consumer import GroupConsumer

pytestmark = pytest.mark.kafka


def _joined(env: KafkaEnv) -> GroupConsumer:
    member = GroupConsumer(
        env.config.kafka, group=env.group("extract"), topics=[env.topic("pages")],
        client_id="test-member",
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not member.positions():
        assert time.monotonic() < deadline, "the member never got its partitions"
        member.poll(timeout_ms=200, max_records=10)
    return member


def test_a_member_reports_only_the_partitions_it_holds(kafka_env: KafkaEnv) -> None:
    kafka_env.create_topics()
    member = _joined(kafka_env)
    try:
        held = member.assignment()
        assert set(member.positions()) == held and len(held) == 4
        revoked = {(t, p) for t, p in sorted(held)[:3]}
        listener = member.consumer._subscription.rebalance_listener  # as kafka-python calls it
        listener.on_partitions_revoked({TopicPartition(*where) for where in revoked})
        assert member.assignment() == held, "kafka-python still lists them until the rejoin"
        assert set(member.positions()) == held - revoked
    finally:
        member.close()


def test_a_member_that_assigns_itself_every_partition_holds_them(kafka_env: KafkaEnv) -> None:
    """``newsflow dlq replay`` reads a letter topic without joining its group."""
    kafka_env.create_topics()
    tool = GroupConsumer(
        kafka_env.config.kafka, group=f"{kafka_env.config.kafka.group_prefix}.dlq-replay",
        topics=[kafka_env.topic("dlq")], client_id="test-tool", subscribe=False,
    )  # fmt: skip
    try:
        assert len(tool.positions()) == 4
    finally:
        tool.close()
