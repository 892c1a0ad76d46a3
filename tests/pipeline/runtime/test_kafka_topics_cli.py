"""``newsflow topics create`` and ``topics list`` against the real broker."""

from __future__ import annotations

import pytest
from kafka_support import KafkaEnv, corpus_entries, fetch_letter

from connectors.kafka.clients import codec, make_producer
from pipeline.cli import main

pytestmark = pytest.mark.kafka


def test_topics_are_created_once_and_listed_with_their_lag(
    kafka_env: KafkaEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(kafka_env.config_file())
    assert main(["--config", config, "topics", "create"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert len(first) == 7 and all(": created (4 partitions;" in line for line in first)
    assert f"{kafka_env.topic('pages')}: created" in first[1]
    assert f"compression.type={codec(kafka_env.config.kafka)}" in first[1]
    assert "compression.type=producer" in first[0]

    assert main(["--config", config, "topics", "create"]) == 0
    assert all(
        line.endswith("exists (left as it is)") for line in capsys.readouterr().out.splitlines()
    )

    kafka_env.produce("items", corpus_entries(3, 0))
    assert main(["--config", config, "topics", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows[kafka_env.topic("items")] == [
        kafka_env.topic("items"),
        "4",
        "3",
        kafka_env.group("fetch"),
        "3",
    ]
    assert rows[kafka_env.topic("dlq")][3:] == [
        f"{kafka_env.config.kafka.group_prefix}.dlq-replay",
        "0",
    ]
    assert rows[kafka_env.topic("retry")][3:] == [
        f"{kafka_env.config.kafka.group_prefix}.retry",
        "0",
    ]


def test_the_lag_of_a_letter_topic_is_its_letters_not_its_offsets(
    kafka_env: KafkaEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each letter is written in a transaction of its own, as a worker writes it: two
    letters take four offsets, and the lag must say 2, as ``dlq list`` does."""
    kafka_env.create_topics()
    producer = make_producer(
        kafka_env.config.kafka, client_id="test", transactional_id=f"t-{kafka_env.run_id}"
    )
    try:
        for reason in ("http_404", "http_410"):
            producer.begin_transaction()
            producer.send(
                kafka_env.topic("dlq"), key=b"k", value=b"{}", partition=0,
                headers=fetch_letter(reason).to_headers(),
            ).get(timeout=10)  # fmt: skip
            producer.commit_transaction()
    finally:
        producer.close()
    config = str(kafka_env.config_file())
    assert main(["--config", config, "topics", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows[kafka_env.topic("dlq")][2:] == [
        "4", f"{kafka_env.config.kafka.group_prefix}.dlq-replay", "2",
    ]  # fmt: skip
    assert main(["--config", config, "dlq", "list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
