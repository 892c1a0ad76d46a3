"""The status document and the store reads behind it, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.storage.feed_state import FeedState, FeedStateRepository
from connectors.storage.status import StatusReads
from connectors.storage.store import open_store
from pipeline import logs
from pipeline.config import FeedConfig, parse_config
from pipeline.models import DuplicateEvent, EnrichedArticle, Entity, article_id
from pipeline.service import lookout
from pipeline.service.health import Health
from pipeline.service.status import Stamped, StatusBuilder, StoreAccess, feed_rows, feed_status
from pipeline.service.throughput import Throughput

HOSTILE = "<script>alert(1)</script> & 'quotes' \"double\""


def article(slug: str, title: str, *, topics: tuple[str, ...] = ()) -> EnrichedArticle:
    url = f"https://news.example/{slug}"
    return EnrichedArticle(
        id=article_id(url), url=url, canonical_url=url, title=title,
        text=f"Text of {slug}. " * 20, language="en", source="news.example", feeds=["wire"],
        fetched_at=datetime(2026, 11, 20, tzinfo=UTC), topics=list(topics),
        entities=[Entity(name="Iran", type="country")], cluster_id=f"c-{slug}",
    )  # fmt: skip


def store_three(url: str) -> tuple[EnrichedArticle, EnrichedArticle, EnrichedArticle]:
    first, second = article("one", "First", topics=("politics",)), article("two", HOSTILE)
    copy = article("copy", "Copy of first")
    with open_store(url) as store:
        store.articles.upsert(first)
        store.articles.upsert(second)
        store.articles.record_duplicate(DuplicateEvent(
            id=copy.id, url=copy.url, duplicate_of=first.id, cluster_id="c-one",
            similarity=0.9, method="near_duplicate", feeds=["other"],
            detected_at=datetime(2026, 11, 20, tzinfo=UTC), article=copy,
        ))  # fmt: skip
        for stage in ("fetch", "extract"):
            store.dead_letters.add(
                stage=stage, topic="items", error_class="FetchError",
                reason=f"{stage}_reason", error="it failed", payload="{}",
            )  # fmt: skip
    return first, second, copy


def test_recent_articles_newest_first_with_clusters_and_dead_letters(store_url: str) -> None:
    first, second, copy = store_three(store_url)
    with open_store(store_url) as store:
        reads = StatusReads(store.db)
        reads.ping()
        recent = reads.recent_articles(2)
        assert [r.article.id for r in recent] == [copy.id, second.id]
        assert recent[1].article.title == HOSTILE, "stored and read back as is"
        members = reads.cluster_members(["c-one", "c-two"])
        assert sorted((m.cluster_id, m.id) for m in members) == sorted(
            [("c-one", first.id), ("c-one", copy.id), ("c-two", second.id)]
        )
        letters = reads.recent_dead_letters(5)
        assert [d.stage for d in letters] == ["extract", "fetch"]
        assert all(d.payload == "" for d in letters)
        assert reads.dead_letter_count() == 2


def test_a_dead_letter_says_when_it_is_tried_again(store_url: str) -> None:
    later = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    with open_store(store_url) as store:
        store.dead_letters.add(
            stage="fetch", topic="items", error_class="FetchError", reason="http_429",
            error="HTTP 429", payload="{}", letter_key="k", retry=lambda attempts: later,
        )  # fmt: skip
        store.dead_letters.add(
            stage="fetch", topic="items", error_class="FetchError", reason="http_404",
            error="HTTP 404", payload="{}", letter_key="gone",
        )  # fmt: skip
        letters = StatusReads(store.db).recent_dead_letters(5)
    assert {d.reason: d.retry_at for d in letters} == {
        "http_429": later.isoformat(timespec="microseconds"),
        "http_404": None,
    }


def test_the_status_document_of_a_store(store_url: str) -> None:
    store_three(store_url)
    config = parse_config({
        "feeds": [{"name": "wire", "url": "https://wire.example/rss"},
                  {"name": "quiet", "url": "https://quiet.example/rss", "enabled": False}],
        "storage": {"url": store_url}, "service": {"status_recent_articles": 10},
    })  # fmt: skip
    with open_store(store_url) as store:
        FeedStateRepository(store.db).record_failure(
            "wire", url="https://wire.example/rss", at=time.time(), error="HTTP 500",
            reason="http_5xx", unhealthy_after=5,
        )  # fmt: skip
    access = StoreAccess(store_url)
    builder = StatusBuilder(
        config=lambda: config, role="run", store=access, health=Health(liveness_timeout=60),
        throughput=Throughput(lambda: []), recent_log=logs.RecentRecords(),
    )  # fmt: skip
    try:
        status = builder.status()
        assert builder.status() is status, "cached for a moment"
    finally:
        builder.close()
    assert [(f["name"], f["status"]) for f in status["feeds"]["items"]] == [
        ("wire", "failing"),
        ("quiet", "disabled"),
    ]
    assert status["feeds"]["items"][0]["last_error"] == "HTTP 500"
    assert time.time() - status["feeds"]["items"][0]["last_error_at"] < 60  # shown with its age
    assert status["articles"]["total"] == 2 and status["articles"]["duplicates"] == 1
    recent = status["articles"]["recent"]
    assert [a["title"] for a in recent] == ["Copy of first", HOSTILE, "First"]
    assert recent[2]["topics"] == ["politics"]
    assert recent[2]["entities"] == [{"name": "Iran", "type": "country"}]
    (cluster,) = status["clusters"]
    assert cluster["cluster_id"] == "c-one" and cluster["size"] == 2
    assert status["dead_letters"]["total"] == 2


@pytest.mark.postgres
def wire_builder(url: str, clock: Callable[[], float] = time.time) -> StatusBuilder:
    """The status of a service with one feed, ``wire``, over the store at ``url``."""
    config = parse_config({"feeds": [{"name": "wire", "url": "https://wire.example/rss"}]})
    return StatusBuilder(
        config=lambda: config, role="run", store=StoreAccess(url),
        health=Health(liveness_timeout=60), throughput=Throughput(lambda: []),
        recent_log=logs.RecentRecords(), clock=clock,
    )  # fmt: skip


def timed_status(builder: StatusBuilder) -> tuple[dict[str, Any], float]:
    """The document, and how long it took to come."""
    started = time.monotonic()
    return builder.status(), time.monotonic() - started


@contextmanager
def articles_locked(url: str) -> Iterator[None]:
    """Another connection holds the articles table meanwhile: every read of it waits."""
    import psycopg

    with psycopg.connect(url) as locker:  # a transaction begins with the LOCK
        locker.execute("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        yield
        locker.rollback()


WIDE_ANSWER_S = 2.0
"""ANSWER_SECONDS while a test tells the answer time from a stall: at 0.8 s the bound left
0.7 s for a loaded machine; at 2 s the bound leaves 1.5 s and a second wait still fails it."""
STALLED_BOUND_S = WIDE_ANSWER_S + 1.5


@pytest.fixture
def wide_answer_wait(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(lookout, "ANSWER_SECONDS", WIDE_ANSWER_S)
    return WIDE_ANSWER_S


def test_reads_that_stall_leave_the_last_store_section_marked_stale(
    postgres_url: str, wide_answer_wait: float
) -> None:
    """Another connection holds the articles table locked for a few seconds: the reads wait
    as long, the document does not."""
    store_three(postgres_url)
    now = [time.time()]
    builder = wire_builder(postgres_url, clock=lambda: now[0])
    try:
        assert "store_stale" not in builder.status()
        with articles_locked(postgres_url):
            now[0] += 5
            stalled, took = timed_status(builder)
    finally:
        builder.close()
    assert took < STALLED_BOUND_S, took
    assert stalled["store_stale"] == {"read_at": now[0] - 5, "age_seconds": 5.0}
    assert stalled["articles"]["total"] == 2 and "store_error" not in stalled
    assert stalled["service"]["role"] == "run"


def test_reads_that_stall_before_the_first_answer_say_how_long_none_answered(
    postgres_url: str, wide_answer_wait: float
) -> None:
    """The articles table is locked before the first read: the document comes at once, with
    the service's part, no store figures, and how long no read has answered."""
    store_three(postgres_url)
    builder = wire_builder(postgres_url)
    try:
        with articles_locked(postgres_url):
            stalled, took = timed_status(builder)
    finally:
        builder.close()
    assert took < STALLED_BOUND_S, took
    location = postgres_url.split("@", 1)[1]
    assert "is not answering: no read answered for " in stalled["store_error"], stalled
    assert location in stalled["store_error"], stalled
    assert stalled["articles"]["total"] is None and "store_stale" not in stalled
    assert stalled["service"]["role"] == "run"
    assert [f["name"] for f in stalled["feeds"]["items"]] == ["wire"]


class ScriptedReads:
    """A lookout whose answers arrive in a given order: one read earlier may come last (a
    request that waited longer than the next one)."""

    def __init__(self, answers: list[Stamped[Any]]) -> None:
        self.answers = answers

    def ask(
        self, key: str, compute: Callable[[], Any], until: float | None = None
    ) -> tuple[Any, None]:
        return self.answers.pop(0), None

    def close(self, finish: Callable[[], None]) -> None:
        finish()


def scripted_builder(
    tmp_path: Path, now: list[float], answers: list[Stamped[Any]], monkeypatch: pytest.MonkeyPatch
) -> StatusBuilder:
    config = parse_config({"feeds": [{"name": "wire", "url": "https://wire.example/rss"}]})
    builder = StatusBuilder(
        config=lambda: config, role="run", store=StoreAccess(f"sqlite:///{tmp_path}/s.db"),
        health=Health(liveness_timeout=60), throughput=Throughput(lambda: []),
        recent_log=logs.RecentRecords(), clock=lambda: now[0],
    )  # fmt: skip
    monkeypatch.setattr(builder, "_reads", ScriptedReads(answers))
    return builder


def test_a_store_section_read_earlier_never_replaces_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    newer, older = Stamped(1000.0, {"articles": {"total": 2}}), Stamped(990.0, {"articles": {}})
    builder = scripted_builder(tmp_path, now, [newer, older], monkeypatch)
    assert builder.status()["articles"] == {"total": 2}
    now[0] += 5  # past the cache: the next document asks again, and the older read arrives
    late = builder.status()
    assert late["articles"] == {"total": 2}, "the newer section stands"
    assert late["store_stale"] == {"read_at": 1000.0, "age_seconds": 5.0}


def test_a_dead_letter_count_read_earlier_never_replaces_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    builder = scripted_builder(tmp_path, now, [Stamped(1000.0, 3), Stamped(990.0, 1)], monkeypatch)
    assert builder.dead_letter_count(time.monotonic()) == (1000.0, 3)
    assert builder.dead_letter_count(time.monotonic()) == (1000.0, 3), "the newer count stands"


def test_an_unreachable_store_is_reported_not_raised() -> None:
    config = parse_config({"feeds": [{"name": "wire", "url": "https://wire.example/rss"}]})
    access = StoreAccess("postgresql://nobody@127.0.0.1:1/none")
    builder = StatusBuilder(
        config=lambda: config, role="run", store=access, health=Health(liveness_timeout=60),
        throughput=Throughput(lambda: []), recent_log=logs.RecentRecords(),
    )  # fmt: skip
    status = builder.status()
    assert "PostgreSQL" in status["store_error"] or "connect" in status["store_error"]
    assert status["feeds"]["items"][0]["status"] == "never polled"
    assert status["articles"]["recent"] == []


def test_troubled_feeds_come_first() -> None:
    feeds = [FeedConfig(name=n, url=f"https://{n}.example/") for n in ("a", "b", "c", "d")]
    states = {
        "a": FeedState(feed="a", last_attempt_at=1.0, last_success_at=1.0),
        "b": FeedState(feed="b", last_attempt_at=1.0, failures=6, unhealthy=True),
        "c": FeedState(feed="c", last_attempt_at=1.0, failures=1),
    }
    rows = feed_rows(feeds, states)
    assert [(r["name"], r["status"]) for r in rows["items"]] == [
        ("b", "unhealthy"),
        ("c", "failing"),
        ("d", "never polled"),
        ("a", "ok"),
    ]
    assert rows["by_status"] == {"unhealthy": 1, "failing": 1, "never polled": 1, "ok": 1}
    assert feed_status(feeds[0].model_copy(update={"enabled": False}), states["a"]) == "disabled"
