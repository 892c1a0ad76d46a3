"""``newsflow topics create`` and ``topics list`` against the real broker."""

from __future__ import annotations

import pytest
from kafka_support import KafkaEnv, corpus_entries

from connectors.kafka.clients import codec
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
