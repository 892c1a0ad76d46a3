"""The letters a probe sees on the real broker, read again only when a letter topic moved.

The gauge and the status page ask every few seconds; an extraction letter
carries its page. A quiet letter topic must cost offset requests, not a
read of every pending letter's body at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka_support import KafkaEnv, fetch_letter, wait_for

from connectors.kafka.clients import make_admin, make_consumer
from connectors.kafka.dlq import PendingView, dead_letters, replay
from pipeline.runtime.outcome import LetterFilter

pytestmark = pytest.mark.kafka

PAGE = b"<html>" + b"x" * 50_000 + b"</html>"


class CountedPolls:
    """A real consumer whose polls are counted: each poll is a read of letters."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.polls = 0

    def poll(self, *args: Any, **kwargs: Any) -> Any:
        self.polls += 1
        return self.consumer.poll(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.consumer, name)


@pytest.fixture
def clients(kafka_env: KafkaEnv) -> Iterator[tuple[Any, CountedPolls]]:
    admin = make_admin(kafka_env.config.kafka, client_id="test")
    consumer = CountedPolls(make_consumer(kafka_env.config.kafka, client_id="test"))
    yield admin, consumer
    consumer.consumer.close()
    admin.close()


def write_letters(env: KafkaEnv, logical: str, reasons: list[str], **kwargs: Any) -> None:
    infos = [fetch_letter(reason, **kwargs) for reason in reasons]
    env.produce_raw(
        logical, [(r.encode(), PAGE) for r in reasons], headers=[i.to_headers() for i in infos]
    )


def test_letters_are_read_again_only_when_a_letter_topic_moved(
    kafka_env: KafkaEnv, clients: tuple[Any, CountedPolls]
) -> None:
    admin, consumer = clients
    kafka_env.create_topics()
    write_letters(kafka_env, "dlq", ["http_404", "http_410"])
    write_letters(kafka_env, "retry", ["http_503"], retry_at="2099-01-01T00:00:00.000Z")
    view = PendingView(kafka_env.config.kafka)

    assert view.count(admin, consumer) == 3
    assert sorted(letter.info.reason for letter in view.newest(admin, consumer, 20)) == [
        "http_404", "http_410", "http_503",
    ]  # fmt: skip
    first_reads = consumer.polls
    assert first_reads > 0

    for _ in range(3):  # scrapes and refreshes of a quiet topic
        assert view.count(admin, consumer) == 3
        assert len(view.newest(admin, consumer, 20)) == 3
    assert consumer.polls == first_reads

    write_letters(kafka_env, "dlq", ["http_451"])
    assert view.count(admin, consumer) == 4
    assert "http_451" in {letter.info.reason for letter in view.newest(admin, consumer, 20)}
    assert consumer.polls > first_reads

    dropped = replay(
        kafka_env.config.kafka,
        LetterFilter(),
        queue=dead_letters(kafka_env.config.kafka),
        drop=True,
    )
    assert dropped.dropped == 3
    # the group's offsets become visible once the drop's transaction is settled
    wait_for(lambda: view.count(admin, consumer) == 1, timeout=10, what="the drop to be seen")
    assert [letter.info.reason for letter in view.newest(admin, consumer, 20)] == ["http_503"]


def test_a_drop_by_age_takes_only_letters_that_failed_before_the_time(
    kafka_env: KafkaEnv, clients: tuple[Any, CountedPolls]
) -> None:
    """``newsflow dlq drop --older-than``: each record of a letter topic is one failure, of
    its own ``failed_at``; one whose time cannot be read is not known to be old."""
    admin, consumer = clients
    kafka_env.create_topics()
    write_letters(kafka_env, "dlq", ["http_404"], failed_at="2026-10-01T08:00:00.000Z")
    write_letters(kafka_env, "dlq", ["http_410"], failed_at="2026-11-20T08:00:00.000Z")
    write_letters(kafka_env, "dlq", ["http_451"], failed_at="yesterday")
    queue = dead_letters(kafka_env.config.kafka)

    result = replay(
        kafka_env.config.kafka,
        LetterFilter(failed_before=datetime(2026, 11, 1, tzinfo=UTC)),
        queue=queue,
        drop=True,
    )

    assert (result.dropped, result.kept) == (1, 2)
    view = PendingView(kafka_env.config.kafka)
    wait_for(lambda: view.count(admin, consumer) == 2, timeout=10, what="the drop to be seen")
    assert sorted(letter.info.reason for letter in view.newest(admin, consumer, 20)) == [
        "http_410", "http_451",
    ]  # fmt: skip
