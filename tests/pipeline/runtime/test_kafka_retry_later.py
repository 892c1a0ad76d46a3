"""On the real broker, dead-lettered fetches that failed transiently are fetched again later.

A real HTTP server on 127.0.0.1 serves a feed of pages whose first answers
are scripted: ``/a`` is fine, ``/b`` answers 503 once, ``/c`` is gone (404),
``/d`` answers 503 every time. The fetch worker writes the transient letters
to ``news.retry`` with a ``retry_at``; the service sends them back to
``news.items`` when it comes
(:class:`~pipeline.runtime.kafka_retry_later.KafkaLetterRetry`), and leaves
them in ``news.dlq`` for a person after ``fetch.retry_later_attempts``.
Letters written straight to the topics show what a replay of due letters
leaves where it was, what it appends again, and that it never touches
``news.dlq``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from kafka_support import NEWSFLOW, KafkaEnv, fetch_letter, wait_for
from local_http import ScriptedSite, serving

from connectors.kafka import dlq
from connectors.kafka.clients import make_producer
from connectors.kafka.dlq import pending_letters
from connectors.kafka.headers import LETTER_ATTEMPTS, DeadLetterInfo, header_dict
from corpus import generate_site_pages
from pipeline.config import parse_config
from pipeline.errors import TransportError
from pipeline.models import FeedEntry
from pipeline.runtime.kafka_retry_later import KafkaLetterRetry, replay_gap
from pipeline.runtime.outcome import LetterFilter

pytestmark = pytest.mark.kafka

PAGES = dict(zip("abcd", generate_site_pages(n_sites=1, pages_per_site=4, seed=9), strict=True))


@pytest.fixture
def site() -> Iterator[ScriptedSite]:
    """``/feed-abc.xml`` lists ``/a``, ``/b``, ``/c``; ``/b`` answers 503 once, ``/c`` is
    gone (404), ``/d`` answers 503 every time."""
    scripted = ScriptedSite(
        pages={f"/{name}": page.html for name, page in PAGES.items()},
        feeds={"/feed-abc.xml": ["/a", "/b", "/c"]},
        scripts={"/b": [503], "/c": [404] * 100, "/d": [503] * 100},
    )
    with serving(scripted.server):
        yield scripted


def fetch_settings(**overrides: object) -> dict[str, object]:
    return {
        "allow_private_networks": True,
        "respect_robots": False,
        "min_host_interval": 0,
        "retry_later_seconds": 0.5,
        **overrides,
    }


def letters_by_path(
    kafka_env: KafkaEnv, site: ScriptedSite, topic: str
) -> dict[str, list[DeadLetterInfo]]:
    """Every letter ever written to ``topic`` (replayed or not), by the path of its page,
    oldest first."""
    out: dict[str, list[DeadLetterInfo]] = {}
    for record in kafka_env.read(topic):
        url = FeedEntry.model_validate_json(record.value).url
        out.setdefault(url.removeprefix(site.base), []).append(
            DeadLetterInfo.from_headers(record.headers)
        )
    return out


def pending(kafka_env: KafkaEnv, queue: str) -> list[DeadLetterInfo]:
    """The pending letters of ``queue`` ("dlq" or "retry"), with their headers."""
    config = kafka_env.config.kafka
    chosen = dlq.dead_letters(config) if queue == "dlq" else dlq.retry_letters(config)
    return [letter.info for letter in pending_letters(config, chosen) if letter.info]


def test_the_service_fetches_a_failed_page_again_when_its_time_comes_and_keeps_the_gone_one(
    kafka_env: KafkaEnv, site: ScriptedSite
) -> None:
    kafka_env.configure(
        fetch=fetch_settings(),
        feeds=[{"name": "f", "url": f"{site.base}/feed-abc.xml", "interval_seconds": 3600}],
        schedule={"jitter": 0},
        kafka={"retry_attempts": 0},
    )
    service = subprocess.Popen(
        [str(NEWSFLOW), "--config", str(kafka_env.config_file()), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: kafka_env.stored_count() == 2, timeout=120, what="a and b stored")
        wait_for(lambda: kafka_env.lag() == 0, timeout=30, what="every group to catch up")
    finally:
        service.send_signal(signal.SIGTERM)
        output = service.communicate(timeout=30)[0]
    assert service.returncode == 0, output[-3000:]

    assert (site.hits["/b"], site.hits["/c"]) == (2, 1)  # b once more after its wait; c never
    [b_letter] = letters_by_path(kafka_env, site, "retry")["/b"]
    assert (b_letter.reason, b_letter.attempts) == ("http_503", 1)
    assert b_letter.retry_at is not None
    [replayed] = [r for r in kafka_env.read("items") if LETTER_ATTEMPTS in header_dict(r.headers)]
    assert header_dict(replayed.headers)[LETTER_ATTEMPTS] == "1"
    assert pending(kafka_env, "retry") == []
    assert [(i.reason, i.attempts, i.retry_at) for i in pending(kafka_env, "dlq")] == [
        ("http_404", 1, None)
    ]
    assert list(letters_by_path(kafka_env, site, "dlq")) == ["/c"]  # written once, never copied
    assert sorted(kafka_env.stored_ids()) == sorted(set(kafka_env.stored_ids()))


def test_a_page_that_keeps_failing_is_left_to_a_human_after_its_attempts(
    kafka_env: KafkaEnv, site: ScriptedSite
) -> None:
    kafka_env.configure(fetch=fetch_settings(retry_later_attempts=2), kafka={"retry_attempts": 0})
    kafka_env.create_topics()
    entry = FeedEntry(feed="f", feed_kind="rss", url=f"{site.base}/d")
    kafka_env.produce("items", [entry])
    pipeline = kafka_env.run_threads(["fetch"])
    retry = KafkaLetterRetry(kafka_env.config.kafka)
    stop = threading.Event()
    looking = threading.Thread(target=retry.run_until, args=(stop,), kwargs={"every": 0.2})
    looking.start()
    try:
        wait_for(
            lambda: "/d" in letters_by_path(kafka_env, site, "dlq"),
            timeout=60,
            what="the last letter of /d",
        )
        wait_for(lambda: kafka_env.lag(["fetch"]) == 0, timeout=30, what="fetch to catch up")
        stop.wait(2.0)  # a wrong fourth try would show in the hits now
    finally:
        stop.set()
        looking.join(timeout=30)
        retry.close()
        pipeline.stop()

    waited = letters_by_path(kafka_env, site, "retry")["/d"]
    assert [(i.attempts, i.retry_at is not None) for i in waited] == [(1, True), (2, True)]
    [left] = letters_by_path(kafka_env, site, "dlq")["/d"]
    assert (left.attempts, left.retry_at) == (3, None)
    assert site.hits["/d"] == 3
    assert pending(kafka_env, "retry") == []
    assert [(i.attempts, i.retry_at) for i in pending(kafka_env, "dlq")] == [(3, None)]


def write_letters(
    kafka_env: KafkaEnv,
    topic: str,
    plan: list[tuple[str, str, str | None]],
    *,
    body: Callable[[], str | None] = lambda: None,
    key: bytes | None = None,
) -> None:
    """Fetch letters (name, reason, retry_at) of entries from news.items, to ``topic``:
    keyed by ``key`` (as the fetch worker keys them: one partition), or by name in
    partition 0."""
    producer = make_producer(kafka_env.config.kafka, client_id=f"test-{kafka_env.run_id}")
    try:
        for name, reason, at in plan:
            info = fetch_letter(
                reason, retry_at=at, attempts=2, source_topic=kafka_env.topic("items")
            )
            url = f"https://x.example/{name}"
            value = FeedEntry(feed="f", feed_kind="rss", url=url, body=body())
            producer.send(kafka_env.topic(topic), key=key or name.encode(), value=value.to_json(),
                          headers=info.to_headers(),
                          partition=None if key else 0).get(timeout=10)  # fmt: skip
    finally:
        producer.close()


def pending_names(kafka_env: KafkaEnv, queue: dlq.LetterQueue) -> list[str]:
    return [FeedEntry.model_validate_json(x.value).url.rsplit("/", 1)[1]
            for x in pending_letters(kafka_env.config.kafka, queue)]  # fmt: skip


def test_only_waiting_letters_before_the_last_due_one_are_appended_again(
    kafka_env: KafkaEnv,
) -> None:
    kafka_env.create_topics()
    write_letters(kafka_env, "dlq", [("old-404", "http_404", None), ("new-404", "http_404", None)])
    write_letters(kafka_env, "retry", [
        ("slow", "http_429", "2026-11-18T12:00:00.000Z"),
        ("due", "http_503", "2026-11-18T09:05:00.000Z"),
        ("later", "timeout", "2026-11-18T12:00:00.000Z"),
    ])  # fmt: skip
    config = kafka_env.config.kafka
    waiting, dead = dlq.retry_letters(config), dlq.dead_letters(config)

    retry = KafkaLetterRetry(config, min_gap=60)
    try:
        assert retry.run_due(datetime(2026, 11, 18, 9, 0, tzinfo=UTC)) == 0  # nothing due yet
        assert retry.run_due(datetime(2026, 11, 18, 10, 0, tzinfo=UTC)) == 1
        assert pending_names(kafka_env, waiting) == ["later", "slow"]  # slow appended again
        assert retry.run_due(datetime(2026, 11, 18, 13, 0, tzinfo=UTC)) == 0  # too soon again
        retry.min_gap = 0
        assert retry.run_due(datetime(2026, 11, 18, 13, 0, tzinfo=UTC)) == 2
        assert pending_names(kafka_env, waiting) == []
    finally:
        retry.close()
    sent = [(r.key, header_dict(r.headers)[LETTER_ATTEMPTS]) for r in kafka_env.read("items")]
    assert sorted(sent) == [(b"due", "2"), (b"later", "2"), (b"slow", "2")]
    assert pending_names(kafka_env, dead) == ["old-404", "new-404"]
    assert len(kafka_env.read("dlq")) == 2  # the letters for a person were never copied


def test_a_replay_longer_than_one_read_keeps_every_letter_it_does_not_send_back(
    kafka_env: KafkaEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Letters of one key (one partition) too big for more than two in one fetch: a later
    read returns the last letter together with the copy of the first one that this replay
    appended again, past the replay's end. The replay group committed past that copy,
    and the letter was no longer pending."""
    monkeypatch.setattr(dlq, "READ_BATCH", 3)
    kafka_env.configure(kafka={"max_message_bytes": 1024 * 1024})  # fetches of 1 MiB
    kafka_env.create_topics()
    reasons = ["http_404", "http_503", "http_404", "http_503", "http_404"]
    letters = [(f"p{i}", reason, None) for i, reason in enumerate(reasons)]
    write_letters(kafka_env, "dlq", letters, body=lambda: os.urandom(400_000).hex(), key=b"one")
    queue = dlq.dead_letters(kafka_env.config.kafka)

    result = dlq.replay(kafka_env.config.kafka, LetterFilter(reason="http_503"), queue=queue)

    assert (result.replayed, result.kept) == (2, 3)
    assert sorted(pending_names(kafka_env, queue)) == ["p0", "p2", "p4"]


@pytest.mark.parametrize(("seconds", "gap"), [(300, 30.0), (40, 20.0), (0.5, 0.25)])
def test_due_letters_are_replayed_at_most_30_s_after_their_time(seconds: float, gap: float) -> None:
    """Half ``retry_later_seconds`` between replays, but never more than 30 s: the default
    300 s would otherwise let a letter wait 150 s past its time."""
    assert replay_gap(parse_config({"fetch": {"retry_later_seconds": seconds}})) == gap


def test_a_broker_outage_is_told_once_and_its_end_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The retry thread looks every few seconds; while the broker was away each look
    failed after up to 30 s and warned again ("dead letters due for a retry were left
    for now", every ~35 s of an outage). Now: one line when the outage begins, one when
    the broker answers again (how long, how many looks failed); an error that is not the
    broker being away is still told each time."""
    config = parse_config({"kafka": {"bootstrap_servers": ["127.0.0.1:1"]}}).kafka
    retry = KafkaLetterRetry(config)
    away = TransportError("Kafka: cannot list offsets: timed out", reason="kafka_timeout")
    refused = TransportError("Kafka: cannot connect: 111 ECONNREFUSED", reason="kafka_unavailable")
    other = TransportError("Kafka: cannot read: CorruptRecordError", reason="kafka")
    looks: list[TransportError | int] = [away, refused, away, away, 0, 0, other, other, 1]
    stop = threading.Event()

    def run_due() -> int:
        answer = looks.pop(0)
        if not looks:
            stop.set()
        if isinstance(answer, TransportError):
            raise answer
        return answer

    monkeypatch.setattr(retry, "run_due", run_due)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        retry.run_until(stop, every=0.001)
    lines = [(r.levelname, r.getMessage(), getattr(r, "event", None)) for r in caplog.records]
    assert lines == [
        ("WARNING", "Kafka broker unreachable at 127.0.0.1:1, dead letters due for a retry"
                    " wait for it: Kafka: cannot list offsets: timed out", "kafka_unavailable"),
        ("INFO", "Kafka broker at 127.0.0.1:1 answers again (unreachable for 0 s, 4 failed"
                 " looks); dead letters due for a retry go on", "kafka_back"),
        ("WARNING", "dead letters due for a retry were left for now: Kafka: cannot read:"
                    " CorruptRecordError", None),
        ("WARNING", "dead letters due for a retry were left for now: Kafka: cannot read:"
                    " CorruptRecordError", None),
    ]  # fmt: skip
