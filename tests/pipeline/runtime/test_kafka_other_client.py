"""A downstream consumer written with another Kafka client reads what newsflow publishes.

The pipeline runs on the real broker (threads of this process); then a
consumer written with confluent-kafka (librdkafka, not kafka-python) reads
``news.enriched`` and ``news.duplicates`` from the beginning, read-committed,
and validates every message against the JSON Schema that ``newsflow schema``
prints, and every key against the documented keying.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError
from jsonschema import Draft202012Validator
from kafka_support import NEWSFLOW, KafkaEnv, corpus_entries, syndicated_copies, wait_for

pytestmark = pytest.mark.kafka


def published_schemas() -> dict[str, Any]:
    printed = subprocess.run(
        [str(NEWSFLOW), "schema"], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(printed.stdout)["topics"]


def read_with_confluent(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"downstream-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages = []
    try:
        for _ in range(200):
            if len(messages) >= expected:
                break
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(f"confluent-kafka error: {error}")
            if error is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages


def test_a_confluent_kafka_consumer_reads_valid_enriched_articles(kafka_env: KafkaEnv) -> None:
    kafka_env.create_topics()
    unique = corpus_entries(12, 0, seed=23)
    copies = syndicated_copies(2)
    kafka_env.produce("items", [*unique, *copies])
    pipeline = kafka_env.run_threads()
    try:
        wait_for(lambda: kafka_env.stored_count() == 14, timeout=90, what="14 stored articles")
        wait_for(lambda: kafka_env.lag() == 0, timeout=30, what="every group to catch up")
    finally:
        pipeline.stop()
    enriched_count = len(kafka_env.read("enriched"))
    duplicates_count = len(kafka_env.read("duplicates"))
    assert enriched_count >= 13 and duplicates_count >= 1  # the syndicated copy is a duplicate

    schemas = published_schemas()
    enriched = read_with_confluent(kafka_env.bootstrap, kafka_env.topic("enriched"), enriched_count)
    duplicates = read_with_confluent(
        kafka_env.bootstrap, kafka_env.topic("duplicates"), duplicates_count
    )
    assert (len(enriched), len(duplicates)) == (enriched_count, duplicates_count)

    article_schema = Draft202012Validator(schemas["enriched"])
    for message in enriched:
        document = json.loads(message.value())
        assert not list(article_schema.iter_errors(document)), document["url"]
        assert message.key().decode() == (document["cluster_id"] or document["canonical_url"])
        assert document["duplicate_of"] is None
    duplicate_schema = Draft202012Validator(schemas["duplicates"])
    for message in duplicates:
        document = json.loads(message.value())
        assert not list(duplicate_schema.iter_errors(document)), document["url"]
        assert message.key().decode() == document["cluster_id"]
    duplicate_urls = {json.loads(m.value())["url"] for m in duplicates}
    assert duplicate_urls & {e.url for e in copies}
    urls = {json.loads(m.value())["url"] for m in enriched} | duplicate_urls
    assert urls == {e.url for e in [*unique, *copies]}
