"""``newsflow stage NAME`` on the real broker: each stage process serves its own endpoint.

What the Kubernetes probes and the Prometheus scrape of one pod see: a worker
is ready once it holds partitions, reports the lag of each, beats its
heartbeat while it works; the poller is ready when store and broker answer.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from kafka_support import corpus_entries, fetch_letter, stored_article
from service_support import ServiceProcess, sample, wait_until

from pipeline.models import FetchedPage

pytestmark = pytest.mark.kafka

PAGES = 40


def _configure(kafka_env: Any) -> Path:
    kafka_env.configure(
        kafka={"partitions": 2},
        service={"http_enabled": True, "http_port": 0, "log_format": "json"},
    )
    return Path(kafka_env.config_file())


def test_an_extract_member_is_ready_with_partitions_and_reports_their_lag(
    kafka_env: Any,
) -> None:
    config = _configure(kafka_env)
    kafka_env.create_topics()
    pages = [FetchedPage(entry=e, url=e.url, html=e.body or "") for e in corpus_entries(PAGES, 0)]
    kafka_env.produce("pages", pages)
    member = ServiceProcess(config, "extract", command=("stage",))
    try:
        wait_until(lambda: member.get("/readyz")[0] == 200, 60, "the member to hold partitions")
        ready = json.loads(member.get("/readyz")[1])
        assert ready == {"ok": True, "store": "ok", "kafka": "ok", "partitions": "ok"}
        group = kafka_env.group("extract")
        wait_until(lambda: sample(member.metrics(), "newsflow_stage_messages_total",
                                  worker="extract", direction="in") == PAGES,
                   90, "every page extracted")  # fmt: skip

        def lag_series() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            lag = "newsflow_kafka_consumer_lag"
            return {k: v for k, v in member.metrics().items()
                    if k[0] == lag and ("group", group) in k[1]}  # fmt: skip

        wait_until(lambda: len(lag_series()) == 2 and sum(lag_series().values()) == 0,
                   30, "lag 0 on both partitions")  # fmt: skip
        metrics = member.metrics()
        assert sample(metrics, "newsflow_kafka_assigned_partitions", group=group) == 2
        assert sample(metrics, "newsflow_stage_seconds_count", worker="extract") == PAGES
        health = json.loads(member.get("/healthz")[1])
        assert health["loops"]["worker"]["seconds_since_beat"] < 5
        assert member.json("/api/status")["config"] is None, "a worker does not reload"
    finally:
        code, took, _ = member.stop(signal.SIGTERM)
    assert code == 0 and took < 10, member.log()


def test_the_poller_is_ready_when_store_and_broker_answer(kafka_env: Any) -> None:
    config = _configure(kafka_env)
    kafka_env.create_topics()
    poller = ServiceProcess(config, "poll", command=("stage",))
    try:
        wait_until(lambda: poller.get("/readyz")[0] == 200, 30, "readiness")
        assert json.loads(poller.get("/readyz")[1]) == {"ok": True, "store": "ok", "kafka": "ok"}
        assert sample(poller.metrics(), "newsflow_dead_letters_waiting") == 0
        status = poller.json("/api/status")
        assert status["service"]["role"] == "stage poll"
        assert status["dead_letters"] == {"total": 0, "recent": []}
        assert status["config"]["path"] == str(config) and status["config"]["rejected"] is None
    finally:
        code, took, _ = poller.stop(signal.SIGTERM)
    assert code == 0 and took < 10, poller.log()


def test_the_status_page_shows_the_letters_of_both_letter_topics(kafka_env: Any) -> None:
    """On Kafka the store holds no letters: the page reads ``news.dlq`` and ``news.retry``."""
    config = _configure(kafka_env)
    kafka_env.create_topics()
    dead = [fetch_letter("http_404", failed_at="2026-11-18T09:00:00.000Z"),
            fetch_letter("http_410", failed_at="2026-11-18T09:20:00.000Z")]  # fmt: skip
    waiting = [  # not due while the test runs: the poller would send it back
        fetch_letter(
            "http_503", failed_at="2026-11-18T09:10:00.000Z", retry_at="2099-01-01T00:00:00.000Z"
        )
    ]
    kafka_env.produce_raw("dlq", [(b"a", b"{}"), (b"b", b"{}")],
                          headers=[i.to_headers() for i in dead])  # fmt: skip
    kafka_env.produce_raw("retry", [(b"c", b"{}")], headers=[i.to_headers() for i in waiting])
    poller = ServiceProcess(config, "poll", command=("stage",))
    try:
        wait_until(lambda: poller.get("/readyz")[0] == 200, 30, "readiness")
        letters = poller.json("/api/status")["dead_letters"]
        assert sample(poller.metrics(), "newsflow_dead_letters_waiting") == 3
    finally:
        code, took, _ = poller.stop(signal.SIGTERM)
    assert code == 0 and took < 10, poller.log()
    assert letters["total"] == 3
    assert [(d["reason"], d["last_failed_at"], d["retry_at"], d["attempts"])
            for d in letters["recent"]] == [
        ("http_410", "2026-11-18T09:20:00.000Z", None, 1),
        ("http_503", "2026-11-18T09:10:00.000Z", "2099-01-01T00:00:00.000Z", 1),
        ("http_404", "2026-11-18T09:00:00.000Z", None, 1),
    ]  # fmt: skip
    wheres = [d["where"].split("[")[0] for d in letters["recent"]]
    assert wheres == [kafka_env.topic("dlq"), kafka_env.topic("retry"), kafka_env.topic("dlq")]


@pytest.mark.parametrize(
    ("command", "args"), [(("stage",), ("store",)), (("run",), ())], ids=["stage-store", "run"]
)
def test_a_store_member_is_not_ready_while_its_article_writes_fail(
    kafka_env: Any, command: tuple[str, ...], args: tuple[str, ...]
) -> None:
    """A trigger refuses every article while the store's write probe still commits: the
    member reports the refused write until an article is stored again. Under ``newsflow
    run`` the store worker is a child process, whose writes the service reports."""
    config = _configure(kafka_env)
    kafka_env.create_topics()
    member = ServiceProcess(config, *args, command=command)
    refused = "articles refused by a test trigger"
    try:
        wait_until(lambda: member.get("/readyz")[0] == 200, 60, "the member to hold partitions")
        db = kafka_env.workdir / "store.db"
        with closing(sqlite3.connect(db, isolation_level=None)) as admin:
            admin.execute(
                "CREATE TRIGGER refuse_articles BEFORE INSERT ON articles"
                f" BEGIN SELECT RAISE(ABORT, '{refused}'); END"
            )
        kafka_env.produce("enriched", [stored_article("refused")])
        wait_until(lambda: member.get("/readyz")[0] == 503, 30, "the refused write reported")
        store = json.loads(member.get("/readyz")[1])["store"]
        assert store.startswith("article writes fail: ") and refused in store, store

        with closing(sqlite3.connect(db, isolation_level=None)) as admin:
            admin.execute("DROP TRIGGER refuse_articles")
        kafka_env.produce("enriched", [stored_article("stored")])
        wait_until(lambda: member.get("/readyz")[0] == 200, 30, "the stored article reported")
        assert kafka_env.stored_ids() == ["stored"]
    finally:
        code, took, _ = member.stop(signal.SIGTERM)
    assert code == 0 and took < 10, member.log()
