"""The look for due dead letters drops its Kafka clients after a failed look.

Stand-ins replace the clients (no broker): what is tested is which clients a look
uses after a broker error, as the health probe does (``kafka_health``): the next
look opens new ones instead of going on with a connection the error left broken.
"""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError

from connectors.kafka import clients
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError
from pipeline.runtime import kafka_retry_later
from pipeline.runtime.kafka_retry_later import KafkaLetterRetry


class Client:
    """An admin client or a consumer whose connection is broken: reading end offsets fails."""

    def __init__(self) -> None:
        self.closed = False

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        raise KafkaConnectionError("connection reset")

    def close(self) -> None:
        self.closed = True


def test_a_failed_look_closes_its_clients_and_the_next_look_opens_new_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, the failed look's clients stayed open and every later look reused them."""
    opened: list[Client] = []

    def make(*args: Any, **kwargs: Any) -> Client:
        opened.append(Client())
        return opened[-1]

    monkeypatch.setattr(clients, "make_admin", make)
    monkeypatch.setattr(clients, "make_consumer", make)
    monkeypatch.setattr(
        kafka_retry_later, "partitions_of", lambda admin, topics: [TopicPartition(topics[0], 0)]
    )
    retry = KafkaLetterRetry(KafkaConfig())

    for look in (1, 2):
        with pytest.raises(TransportError, match="end offsets"):
            retry.run_due()
        assert len(opened) == 2 * look  # an admin client and a consumer for each look
        assert all(client.closed for client in opened)
    retry.close()
