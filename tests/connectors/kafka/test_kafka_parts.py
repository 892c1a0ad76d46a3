"""The Kafka connector's pure parts: headers, filters, error reasons, codecs, topic specs, slots.

None of these needs a broker; the tests that do are in tests/pipeline/runtime/test_kafka_*.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kafka.errors as kerrors
import pytest
from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from connectors.kafka import clients
from connectors.kafka.clients import codec
from connectors.kafka.dlq import DueLetters
from connectors.kafka.errors import is_fatal, kafka_errors, reason_for
from connectors.kafka.headers import (
    DEAD_LETTER_HEADERS,
    LETTER_ATTEMPTS,
    DeadLetterInfo,
    letter_attempts,
)
from connectors.kafka.instance import InstanceSlot
from connectors.kafka.topics import committed_offsets, topic_specs
from pipeline.config import KafkaConfig
from pipeline.errors import ConfigError, MessageError, TransportError
from pipeline.runtime.outcome import LetterFilter

INFO = DeadLetterInfo(
    source_topic="news.pages",
    source_partition=3,
    source_offset=1207,
    worker="extract",
    stage="extract",
    error_class="ExtractionError",
    error_message="no article text in https://example.org/a",
    reason="no_text",
    retryable=False,
    failed_at="2026-11-18T09:12:44.120Z",
)


RETRIED_FETCH = DeadLetterInfo(
    **{
        **INFO.__dict__,
        "source_topic": "news.items",
        "worker": "fetch",
        "stage": "fetch",
        "error_class": "FetchError",
        "reason": "http_503",
        "retryable": True,
        "attempts": 2,
        "retry_at": "2026-11-18T09:22:44.120Z",
    }
)


def test_dead_letter_headers_round_trip_as_utf8_text() -> None:
    headers = INFO.to_headers()
    assert [name for name, _ in headers] == [*DEAD_LETTER_HEADERS, "attempts"]
    assert dict(headers)["source_offset"] == b"1207"
    assert dict(headers)["retryable"] == b"false"
    assert dict(headers)["attempts"] == b"1"
    assert DeadLetterInfo.from_headers(headers) == INFO


def test_a_letter_to_be_fetched_again_carries_its_attempts_and_time() -> None:
    headers = RETRIED_FETCH.to_headers()
    assert (dict(headers)["attempts"], dict(headers)["retry_at"]) == (
        b"2",
        b"2026-11-18T09:22:44.120Z",
    )
    assert DeadLetterInfo.from_headers(headers) == RETRIED_FETCH


def test_a_letter_written_before_attempts_existed_is_one_attempt_left_to_a_replay() -> None:
    old = [(n, v) for n, v in RETRIED_FETCH.to_headers() if n in DEAD_LETTER_HEADERS]
    info = DeadLetterInfo.from_headers(old)
    assert (info.attempts, info.retry_at) == (1, None)


def test_only_letters_whose_time_has_come_are_due() -> None:
    assert DueLetters("2026-11-18T09:22:44.120Z").matches(RETRIED_FETCH)
    assert DueLetters("2026-11-18T10:00:00.000Z").matches(RETRIED_FETCH)
    assert not DueLetters("2026-11-18T09:22:44.119Z").matches(RETRIED_FETCH)
    assert not DueLetters("2099-01-01T00:00:00.000Z").matches(INFO)  # no time: a human's


@pytest.mark.parametrize(
    ("headers", "attempts"),
    [
        (None, 0),
        ([("replayed_from", b"news.dlq[0]@4")], 0),
        ([(LETTER_ATTEMPTS, b"3")], 3),
        ([(LETTER_ATTEMPTS, b"three")], 0),
        ([(LETTER_ATTEMPTS, b"-2")], 0),
    ],
)
def test_a_replayed_record_says_how_often_its_message_failed(
    headers: list[tuple[str, bytes]] | None, attempts: int
) -> None:
    assert letter_attempts(headers) == attempts


def test_a_long_error_message_is_cut_in_the_header() -> None:
    long = DeadLetterInfo(**{**INFO.__dict__, "error_message": "x" * 10_000})
    assert len(dict(long.to_headers())["error_message"]) == 2000


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(n, v) for n, v in INFO.to_headers() if n != "stage"],
        [(n, b"three" if n == "source_offset" else v) for n, v in INFO.to_headers()],
        [(n, b"two" if n == "attempts" else v) for n, v in RETRIED_FETCH.to_headers()],
        [(n, b"soon" if n == "retry_at" else v) for n, v in RETRIED_FETCH.to_headers()],
    ],
    ids=["none", "missing-stage", "non-numeric-offset", "non-numeric-attempts", "no-time"],
)
def test_headers_that_are_not_a_dead_letters_are_a_message_error(
    headers: list[tuple[str, bytes]],
) -> None:
    with pytest.raises(MessageError, match="not a dead letter"):
        DeadLetterInfo.from_headers(headers)


def test_letter_filter_matches_stage_and_reason() -> None:
    assert LetterFilter().matches(INFO)
    assert LetterFilter(stage="extract", reason="no_text").matches(INFO)
    assert not LetterFilter(stage="fetch").matches(INFO)
    assert not LetterFilter(reason="undecodable").matches(INFO)


@pytest.mark.parametrize(
    ("error", "reason", "fatal"),
    [
        (kerrors.ProducerFencedError(), "kafka_fenced", True),
        (kerrors.CommitFailedError(), "kafka_rebalanced", False),
        (kerrors.MessageSizeTooLargeError(), "kafka_too_large", False),
        (kerrors.TopicAuthorizationFailedError(), "kafka_auth", True),
        (
            kerrors.KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1"),
            "kafka_unavailable",
            False,
        ),
        (kerrors.KafkaTimeoutError("Timeout after 60000 ms"), "kafka_timeout", False),
        (kerrors.KafkaConnectionError(), "kafka_unavailable", False),
        (kerrors.UnknownError(), "kafka", False),
    ],
)
def test_client_errors_become_one_transport_error_with_a_reason(
    error: Exception, reason: str, fatal: bool
) -> None:
    assert reason_for(error) == reason
    with pytest.raises(TransportError) as raised, kafka_errors("commit offsets"):
        raise error
    assert raised.value.reason == reason
    assert str(raised.value).startswith("Kafka: cannot commit offsets: ")
    assert is_fatal(raised.value) is fatal


def test_codec_auto_takes_the_best_installed_and_gzip_always_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    available = {"zstd": lambda: False, "lz4": lambda: False, "snappy": lambda: False}
    monkeypatch.setattr(clients, "_CODEC_AVAILABLE", {**available, "gzip": lambda: True})
    assert codec(KafkaConfig(compression="auto")) == "gzip"
    assert codec(KafkaConfig(compression="none")) is None
    with pytest.raises(ConfigError, match="zstd needs its Python codec"):
        codec(KafkaConfig(compression="zstd"))
    monkeypatch.setattr(
        clients, "_CODEC_AVAILABLE", {**available, "lz4": lambda: True, "gzip": lambda: True}
    )
    assert codec(KafkaConfig(compression="auto")) == "lz4"


def test_topic_specs_follow_the_config() -> None:
    config = KafkaConfig(
        topic_prefix="wire", partitions=12, replication_factor=3, retention_hours=24,
        dlq_retention_hours=48, compression="gzip",
    )  # fmt: skip
    specs = {s.name: s for s in topic_specs(config)}
    assert list(specs) == [
        "wire.items", "wire.pages", "wire.articles", "wire.enriched", "wire.duplicates", "wire.dlq",
        "wire.retry",
    ]  # fmt: skip
    assert {s.partitions for s in specs.values()} == {12}
    assert specs["wire.pages"].configs["compression.type"] == "gzip"
    assert specs["wire.enriched"].configs["compression.type"] == "producer"
    assert specs["wire.items"].configs["retention.ms"] == str(24 * 3600 * 1000)
    assert specs["wire.dlq"].configs["retention.ms"] == str(48 * 3600 * 1000)
    assert specs["wire.retry"].configs["retention.ms"] == str(48 * 3600 * 1000)
    assert specs["wire.items"].configs["min.insync.replicas"] == "2"


def test_instance_slots_are_unique_while_held_and_reused_after(tmp_path: Path) -> None:
    first = InstanceSlot.claim("g.extract", lock_dir=tmp_path, host="box")
    second = InstanceSlot.claim("g.extract", lock_dir=tmp_path, host="box")
    other_group = InstanceSlot.claim("g.store", lock_dir=tmp_path, host="box")
    assert (first.instance_id, second.instance_id) == ("g.extract.box.0", "g.extract.box.1")
    assert other_group.instance_id == "g.store.box.0"
    first.release()
    with InstanceSlot.claim("g.extract", lock_dir=tmp_path, host="box") as again:
        assert again.index == 0


def test_a_killed_process_gives_its_slot_back(tmp_path: Path) -> None:
    script = (
        "import time; from pathlib import Path; from connectors.kafka.instance import InstanceSlot;"
        f"slot = InstanceSlot.claim('g.dedup', lock_dir=Path({str(tmp_path)!r}));"
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    assert InstanceSlot.claim("g.dedup", lock_dir=tmp_path).index == 1
    holder.kill()
    holder.wait()
    assert InstanceSlot.claim("g.dedup", lock_dir=tmp_path).index == 0


class _FormingAdmin:
    """An admin client whose group coordinator answers "not available" ``forming`` times."""

    def __init__(self, forming: int) -> None:
        self.forming = forming
        self.asked = 0

    def list_group_offsets(self, specs: dict[str, None]) -> dict[str, dict[TopicPartition, Any]]:
        self.asked += 1
        if self.asked <= self.forming:
            raise kerrors.CoordinatorNotAvailableError("FindCoordinatorResponse error for GROUP/g")
        committed = {TopicPartition("t", 0): OffsetAndMetadata(7, "", -1)}
        return {group: committed for group in specs}


def test_a_group_whose_coordinator_forms_is_asked_again_then_reported() -> None:
    forming = _FormingAdmin(forming=2)
    assert committed_offsets(forming, "g") == {TopicPartition("t", 0): 7}  # type: ignore[arg-type]
    assert forming.asked == 3
    never = _FormingAdmin(forming=10**6)
    with pytest.raises(TransportError, match="read the offsets of group g") as raised:
        committed_offsets(never, "g", forming_wait_s=0.6)  # type: ignore[arg-type]
    assert raised.value.reason == "kafka_unavailable"
    assert 2 <= never.asked <= 4
