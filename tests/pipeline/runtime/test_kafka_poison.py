"""Poison messages on the real broker: dead-lettered with their provenance, the rest flows on.

The whole topology runs in threads of this process on its own topics. One
record on ``news.items`` is not JSON at all, and one entry carries a page
with no article text, which makes extraction raise. Both land in
``news.dlq`` with headers naming where they came from and why; every other
entry is stored and every group catches up. ``newsflow dlq`` then lists and
replays them.
"""

from __future__ import annotations

import subprocess

import pytest
from kafka_support import NEWSFLOW, KafkaEnv, corpus_entries, wait_for

from connectors.kafka.clients import make_admin, make_consumer
from connectors.kafka.dlq import pending_count
from connectors.kafka.headers import DeadLetterInfo
from pipeline.models import FeedEntry

pytestmark = pytest.mark.kafka

UNDECODABLE = b"\x89PNG\r\n not a feed entry"
EMPTY_PAGE = FeedEntry(
    feed="feed-a",
    feed_kind="warc",
    url="https://empty.example/nothing-here",
    body="<html><head><title>x</title></head><body></body></html>",
)


def newsflow(env: KafkaEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSFLOW), "--config", str(env.config_file()), *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def test_poison_messages_are_dead_lettered_with_provenance_and_the_rest_is_stored(
    kafka_env: KafkaEnv,
) -> None:
    kafka_env.create_topics()
    good = corpus_entries(20, 0)
    kafka_env.produce("items", good[:10])
    kafka_env.produce_raw("items", [(b"bad-key", UNDECODABLE)])
    kafka_env.produce("items", [EMPTY_PAGE, *good[10:]])
    pipeline = kafka_env.run_threads()
    try:
        wait_for(lambda: kafka_env.stored_count() == 20, timeout=90, what="20 stored articles")
        wait_for(lambda: kafka_env.lag() == 0, timeout=30, what="every group to catch up")
    finally:
        summary = pipeline.stop()
    assert summary.failures == 2
    letters = {DeadLetterInfo.from_headers(r.headers).stage: r for r in kafka_env.read("dlq")}
    assert set(letters) == {"fetch", "extract"}

    undecodable = DeadLetterInfo.from_headers(letters["fetch"].headers)
    [source] = [r for r in kafka_env.read("items") if r.value == UNDECODABLE]
    assert letters["fetch"].value == UNDECODABLE
    assert letters["fetch"].key == b"bad-key"
    assert (undecodable.source_topic, undecodable.source_partition, undecodable.source_offset) == (
        kafka_env.topic("items"),
        source.partition,
        source.offset,
    )
    assert (undecodable.error_class, undecodable.reason, undecodable.retryable) == (
        "MessageError",
        "undecodable",
        False,
    )

    failed = DeadLetterInfo.from_headers(letters["extract"].headers)
    [page] = [r for r in kafka_env.read("pages") if r.key == EMPTY_PAGE.url.encode()]
    assert letters["extract"].value == page.value
    assert (failed.source_topic, failed.source_partition, failed.source_offset) == (
        kafka_env.topic("pages"),
        page.partition,
        page.offset,
    )
    assert failed.error_class == "ExtractionError"
    assert failed.worker == "extract" and not failed.retryable
    assert failed.error_message and failed.reason

    stored = set(kafka_env.stored_ids())
    assert len(stored) == 20
    assert kafka_env.lag() == 0


def test_dlq_list_shows_pending_letters_and_replay_sends_them_back(kafka_env: KafkaEnv) -> None:
    kafka_env.create_topics()
    kafka_env.produce_raw("items", [(b"bad-key", UNDECODABLE)])
    kafka_env.produce("items", [EMPTY_PAGE])
    pipeline = kafka_env.run_threads(["fetch", "extract"])
    try:
        wait_for(lambda: len(kafka_env.read("dlq")) == 2, timeout=60, what="two dead letters")
        assert waiting(kafka_env) == 2
        listed = newsflow(kafka_env, "dlq", "list").stdout.splitlines()
        assert len(listed) == 2
        assert any("undecodable" in line and kafka_env.topic("items") in line for line in listed)
        assert any(
            "ExtractionError" in line and kafka_env.topic("pages") in line for line in listed
        )
        only_fetch = newsflow(kafka_env, "dlq", "list", "--stage", "fetch").stdout.splitlines()
        assert len(only_fetch) == 1 and "undecodable" in only_fetch[0]

        replayed = newsflow(kafka_env, "dlq", "replay", "--stage", "extract")
        assert "replayed 1 dead letter; 1 kept" in replayed.stderr
        # the page goes back to news.pages, fails extraction again: a third letter
        wait_for(lambda: len(kafka_env.read("dlq")) == 4, timeout=60, what="the replay's outcome")
    finally:
        pipeline.stop()
    pending = newsflow(kafka_env, "dlq", "list").stdout.splitlines()
    assert len(pending) == 2  # the kept undecodable one and the new extraction failure
    assert waiting(kafka_env) == 2
    assert sum("undecodable" in line for line in pending) == 1
    assert sum("ExtractionError" in line for line in pending) == 1
    pages = [r for r in kafka_env.read("pages") if r.key == EMPTY_PAGE.url.encode()]
    assert len(pages) == 2 and dict(pages[1].headers)["replayed_from"].startswith(
        kafka_env.topic("dlq").encode()
    )
    everything = newsflow(kafka_env, "dlq", "list", "--all").stdout.splitlines()
    assert len(everything) == 4

    dropped = newsflow(kafka_env, "dlq", "drop", "--reason", "undecodable")
    assert "dropped 1 dead letter; 1 kept" in dropped.stderr
    [left] = newsflow(kafka_env, "dlq", "list").stdout.splitlines()
    assert "ExtractionError" in left
    assert (
        newsflow(kafka_env, "dlq", "drop", "--all")
        .stderr.strip()
        .endswith("dropped 1 dead letter; 0 kept")
    )
    assert newsflow(kafka_env, "dlq", "list").stdout == ""
    assert waiting(kafka_env) == 0


def waiting(env: KafkaEnv) -> int:
    """What the ``dead_letters_waiting`` gauge reports."""
    admin = make_admin(env.config.kafka, client_id="test")
    consumer = make_consumer(env.config.kafka, client_id="test")
    try:
        return pending_count(env.config.kafka, admin, consumer)
    finally:
        consumer.close()
        admin.close()
