"""``/readyz``, ``/api/status`` and ``/metrics`` of ``newsflow run`` while its store hangs,
and ``/readyz`` while its article writes fail.

A store that hangs (a PostgreSQL row, or a SQLite file, locked by another
connection; a server stalled) made every ``/readyz`` wait as long as the
probe's write did: for as long as the lock was held on PostgreSQL, 30 s (the
busy timeout) on SQLite, while the orchestrator's probe gives up after 1 s.
It must answer within a second, saying which store has not answered and for
how long, and be ready again once the lock is released. The status document (and
the page polling it) made the same write itself and hung as long: it must answer
within a second too, with the service's part and what the probe found. ``/metrics``
read the DLQ size on the HTTP thread and took as long as the lock was held (25 s of a
25 s lock; Prometheus gives up after 10 s): it must answer within a second too, with
the last count and its age.

The probe's one-row write can also commit while every article fails (a disk
with room for one row and not an article; a trigger, permission or constraint
on ``articles`` only): readiness follows the store stage's writes too.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from service_support import (
    FeedSite,
    ServiceProcess,
    postgres_probe_row_locked,
    query_store,
    sqlite_file_locked,
    timed_get,
    wait_until,
    write_config,
)

from connectors.storage.store import open_store
from pipeline.service.lookout import STALE_SECONDS

BOUND_S = 1.5
"""Longest a /readyz may take: the probe waits 0.8 s for its look; the rest is slack for a
loaded machine (before the fix: as long as the lock was held, or the 30 s busy timeout)."""
SILENT_S = STALE_SECONDS + 10
"""Until a stalled store is reported: the last answer stands for STALE_SECONDS."""


def answer_until(
    service: ServiceProcess,
    path: str,
    done: Callable[[int, bytes], bool],
    timeout: float,
    latencies: list[float],
) -> dict[str, Any]:
    """``path`` five times a second, as impatient probes would, until ``done(status, body)``;
    every answer within :data:`BOUND_S` (their times added to ``latencies``)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, took = timed_get(service.url + path)
        latencies.append(took)
        assert status is not None and took < BOUND_S, (path, status, took, body, service.log())
        if done(status, body):
            answer: dict[str, Any] = json.loads(body)
            return answer
        assert time.monotonic() < deadline, (path, status, body)
        time.sleep(0.2)


def readiness_until(
    service: ServiceProcess, wanted: int, timeout: float, latencies: list[float]
) -> dict[str, Any]:
    """/readyz until it answers ``wanted``, each answer within :data:`BOUND_S`."""
    return answer_until(service, "/readyz", lambda status, _: status == wanted, timeout, latencies)


def status_until(
    service: ServiceProcess,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    latencies: list[float],
) -> dict[str, Any]:
    """/api/status until ``done(document)``, each within :data:`BOUND_S`, /readyz asked after
    each as the page does (the store probe looks when asked)."""

    def polled(status: int, body: bytes) -> bool:
        timed_get(service.url + "/readyz")
        return status == 200 and done(json.loads(body))

    return answer_until(service, "/api/status", polled, timeout, latencies)


def with_password(postgres_url: str) -> str:
    """``postgres_url`` with a password, which no answer may show."""
    parts = urlsplit(postgres_url)
    return urlunsplit(parts._replace(netloc=f"postgres:s3cret@{parts.hostname}:{parts.port}"))


def shown(postgres_url: str) -> str:
    """How the service names the store at ``postgres_url``: no password."""
    parts = urlsplit(postgres_url)
    return f"postgresql://postgres@{parts.hostname}:{parts.port}{parts.path}"


@pytest.fixture
def no_feeds(tmp_path: Path, site: FeedSite) -> Callable[[str], Path]:
    """A config for a store URL and one disabled feed: the service does nothing but answer."""

    def config(url: str) -> Path:
        path = tmp_path / "newsflow.yaml"
        quiet = {"name": "quiet", "url": site.feed_url("quiet.xml"), "enabled": False}
        write_config(path, site, tmp_path / "unused.db", storage={"url": url}, feeds=[quiet])
        return path

    return config


@contextmanager
def running(config: Path) -> Iterator[ServiceProcess]:
    """``newsflow run`` with ``config``, stopped after (and seen to exit 0)."""
    service = ServiceProcess(config)
    try:
        yield service
    except BaseException:
        service.close()
        raise
    code, _, _ = service.stop()
    assert code == 0, service.log()


@pytest.mark.postgres
def test_a_postgres_probe_waiting_on_a_lock_is_reported_within_a_second(
    postgres_url: str, no_feeds: Callable[[str], Path]
) -> None:
    latencies: list[float] = []
    with running(no_feeds(with_password(postgres_url))) as service:
        readiness_until(service, 200, 30, latencies)
        with postgres_probe_row_locked(postgres_url):
            stalled = readiness_until(service, 503, SILENT_S, latencies)
        readiness_until(service, 200, 10, latencies)
    assert stalled["store"].startswith(
        f"store {shown(postgres_url)} is not answering: no write committed for "
    ), stalled
    assert "s3cret" not in json.dumps(stalled)
    assert float(stalled["store"].rsplit(" for ", 1)[1].removesuffix(" s")) >= STALE_SECONDS


def test_a_sqlite_probe_waiting_for_a_locked_file_is_reported_within_a_second(
    tmp_path: Path, no_feeds: Callable[[str], Path]
) -> None:
    db = tmp_path / "store.db"
    latencies: list[float] = []
    with running(no_feeds(f"sqlite:///{db}")) as service:
        readiness_until(service, 200, 30, latencies)
        with sqlite_file_locked(db):
            stalled = readiness_until(service, 503, SILENT_S, latencies)
        readiness_until(service, 200, 10, latencies)
    assert stalled["store"].startswith(f"store {db} is not answering: no write committed for ")


def stalled_write(document: dict[str, Any]) -> bool:
    return "is not answering: no write committed for" in document.get("store_error", "")


def answered(document: dict[str, Any]) -> bool:
    return "store_error" not in document and "store_stale" not in document


def assert_service_shown(document: dict[str, Any]) -> None:
    """The service's part of a status document: the process and the configured feeds."""
    assert document["service"]["role"] == "run" and document["service"]["live"], document
    assert [(f["name"], f["status"]) for f in document["feeds"]["items"]] == [("quiet", "disabled")]


@pytest.mark.postgres
def test_the_status_document_answers_within_a_second_while_a_postgres_probe_waits_on_a_lock(
    postgres_url: str, no_feeds: Callable[[str], Path]
) -> None:
    """The row lock stalls the probe's write only: the reads answer, the write problem is
    the probe's."""
    latencies: list[float] = []
    with running(no_feeds(with_password(postgres_url))) as service:
        status_until(service, answered, 30, latencies)
        with postgres_probe_row_locked(postgres_url):
            stalled_from = len(latencies)
            stalled = status_until(service, stalled_write, SILENT_S, latencies)
            stalled_latencies = latencies[stalled_from:]
        status_until(service, answered, 10, latencies)
    print(f"\n/api/status while stalled: max {max(stalled_latencies):.3f} s")
    assert stalled["store_error"].startswith(f"store {shown(postgres_url)} is not answering: ")
    assert "s3cret" not in json.dumps(stalled)
    assert stalled["articles"]["total"] == 0 and "store_stale" not in stalled
    assert_service_shown(stalled)


def test_the_status_document_answers_within_a_second_while_the_sqlite_file_is_locked(
    tmp_path: Path, no_feeds: Callable[[str], Path]
) -> None:
    """Locked before the page's first read: the document still comes within the bound, and
    the probe's write is reported as stalled.

    Whether the page's first read answers is SQLite's to decide: in WAL mode a reader gets
    through ``BEGIN EXCLUSIVE``, and only opening the store waits, when a migration of one
    of its parts is still to be applied (the extraction processes may have applied them all
    by then). So the first document either says for how long no read has answered or holds
    a read; with PostgreSQL, where a lock stops reads, the first case is certain
    (``test_reads_that_stall_before_the_first_answer_say_how_long_none_answered``)."""
    db = tmp_path / "store.db"
    latencies: list[float] = []
    with running(no_feeds(f"sqlite:///{db}")) as service:
        readiness_until(service, 200, 30, latencies)
        with sqlite_file_locked(db):
            stalled_from = len(latencies)
            first = status_until(service, lambda d: True, 0, latencies)
            stalled = status_until(service, stalled_write, SILENT_S, latencies)
            stalled_latencies = latencies[stalled_from:]
        status_until(service, answered, 10, latencies)
    print(f"\n/api/status while stalled: max {max(stalled_latencies):.3f} s")
    for document in (first, stalled):
        assert_service_shown(document)
    if first["articles"]["total"] is None:  # no read got through: how long none answered
        assert first["store_error"].startswith(
            f"store {db} is not answering: no read answered for "
        ), first
        assert stalled["articles"]["total"] is None, stalled
    else:  # a read got through the writer's lock (WAL): its figures, and no read problem
        assert first["articles"]["total"] == 0 and "store_stale" not in first, first


class Scrape(NamedTuple):
    took: float
    letters: float | None
    """None while the gauge has no series: no count has answered yet."""
    age: float


def scrape(service: ServiceProcess, latencies: list[float]) -> Scrape:
    """One ``/metrics``, within :data:`BOUND_S`: the DLQ size and the age of its count."""
    status, body, took = timed_get(service.url + "/metrics")
    latencies.append(took)
    assert status == 200 and took < BOUND_S, (status, took, service.log())
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for s in family.samples
    }
    assert "# TYPE newsflow_dead_letters_waiting gauge" in body.decode("utf-8")  # served
    return Scrape(
        took,
        samples.get("newsflow_dead_letters_waiting"),
        samples["newsflow_store_read_age_seconds"],
    )


def scrapes_until(
    service: ServiceProcess, done: Callable[[Scrape], bool], timeout: float, latencies: list[float]
) -> Scrape:
    """``/metrics`` five times a second, as impatient scrapers would, until ``done``."""
    deadline = time.monotonic() + timeout
    while not done(answer := scrape(service, latencies)):
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    return answer


def add_dead_letters(url: str, count: int) -> None:
    with open_store(url) as store:
        for _ in range(count):
            store.dead_letters.add(
                stage="fetch", topic="items", error_class="FetchError", reason="http_error",
                error="it failed", payload="{}",
            )  # fmt: skip


def assert_scrapes_within_a_second_while(
    url: str, service: ServiceProcess, locked: AbstractContextManager[None], *, counted: bool
) -> None:
    """Two letters stored (and ``counted`` by a scrape before the lock); while ``locked``,
    every scrape answers within :data:`BOUND_S` with the last count (none: no series, not
    a 0 that reads as an empty DLQ), its age
    growing past :data:`STALE_SECONDS` (the lookout's own patience); once released, the
    letters are counted, a third one too."""
    latencies: list[float] = []
    readiness_until(service, 200, 30, latencies)
    add_dead_letters(url, 2)
    if counted:
        scrapes_until(service, lambda s: s.letters == 2 and s.age < 1, 10, latencies)
    with locked:
        stalled_from = len(latencies)
        stale = scrapes_until(service, lambda s: s.age > STALE_SECONDS + 2, SILENT_S, latencies)
        stalled = latencies[stalled_from:]
    scrapes_until(service, lambda s: s.letters == 2 and s.age < 1, 10, latencies)
    add_dead_letters(url, 1)
    scrapes_until(service, lambda s: s.letters == 3 and s.age < 1, 10, latencies)
    print(f"\n/metrics while stalled: max {max(stalled):.3f} s of {len(stalled)} scrapes")
    assert stale.letters == (2 if counted else None), stale


def test_metrics_answer_within_a_second_while_the_sqlite_file_is_locked(
    tmp_path: Path, no_feeds: Callable[[str], Path]
) -> None:
    """Locked before the first scrape: the probe's write waits, and a scrape waits for it,
    then for the count only what is left of that wait.

    Whether the count itself waits is SQLite's to decide: in WAL mode a reader gets
    through ``BEGIN EXCLUSIVE``, and the count's connection, opened by the first scrape,
    waits only when a part of the store still has a migration to apply (the extraction
    processes may have applied them all by then). So while locked a scrape has either no
    count yet (its age growing) or the letters; the PostgreSQL test below, where a lock
    stops reads, covers the stalled count."""
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    latencies: list[float] = []
    with running(no_feeds(url)) as service:
        readiness_until(service, 200, 30, latencies)
        add_dead_letters(url, 2)
        with sqlite_file_locked(db):
            stalled_from = len(latencies)
            locked = scrapes_for(service, STALE_SECONDS + 3, latencies)
            stalled = latencies[stalled_from:]
        scrapes_until(service, lambda s: s.letters == 2 and s.age < 1, 10, latencies)
        add_dead_letters(url, 1)
        scrapes_until(service, lambda s: s.letters == 3 and s.age < 1, 10, latencies)
    print(f"\n/metrics while locked: max {max(stalled):.3f} s of {len(stalled)} scrapes")
    assert {scraped.letters for scraped in locked} <= {None, 2}, locked
    if locked[-1].letters is None:  # the count waited all along: its age tells
        assert locked[-1].age > STALE_SECONDS, locked[-1]


def scrapes_for(service: ServiceProcess, seconds: float, latencies: list[float]) -> list[Scrape]:
    """``/metrics`` five times a second for ``seconds``, each within :data:`BOUND_S`."""
    deadline = time.monotonic() + seconds
    scraped = [scrape(service, latencies)]
    while time.monotonic() < deadline:
        time.sleep(0.2)
        scraped.append(scrape(service, latencies))
    return scraped


@contextmanager
def postgres_letters_and_probe_locked(url: str) -> Iterator[None]:
    """Another connection holds the ``dead_letters`` table (the count waits) and the store
    probe's row (the readiness a scrape refreshes waits too)."""
    import psycopg

    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE dead_letters IN ACCESS EXCLUSIVE MODE")
        locker.execute("SELECT probed_at FROM store_probe WHERE id = 1 FOR UPDATE")
        yield
        locker.rollback()


@pytest.mark.postgres
def test_metrics_answer_within_a_second_while_postgres_holds_the_dead_letters_locked(
    postgres_url: str, no_feeds: Callable[[str], Path]
) -> None:
    with running(no_feeds(postgres_url)) as service:
        assert_scrapes_within_a_second_while(
            postgres_url, service, postgres_letters_and_probe_locked(postgres_url), counted=True
        )


REFUSED = "articles refused by a test trigger"


def stored(db: Path) -> list[str]:
    return [str(url) for url in query_store(db, "SELECT url FROM articles")]


def add_feed(service: ServiceProcess, config: Path, name: str, url: str) -> None:
    """Add a feed to the config and reload it: a new feed is polled at once."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["feeds"] = [*data["feeds"], {"name": name, "url": url}]
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    service.process.send_signal(signal.SIGHUP)


def test_failing_article_writes_make_the_store_unready_until_one_commits(
    site: FeedSite, tmp_path: Path
) -> None:
    """A trigger refuses every new article: the probe's write commits all along."""
    db = tmp_path / "store.db"
    config = tmp_path / "newsflow.yaml"
    first_feed, first_page = site.add_hostile_feed("first.xml", page_name="first.html")
    write_config(config, site, db, feeds=[{"name": "first", "url": first_feed}])
    latencies: list[float] = []
    with running(config) as service:
        wait_until(lambda: first_page in stored(db), 60, "the first article")
        readiness_until(service, 200, 10, latencies)

        with closing(sqlite3.connect(db, isolation_level=None)) as admin:
            admin.execute(
                "CREATE TRIGGER refuse_articles BEFORE INSERT ON articles"
                f" BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
            )
        refused_feed, refused_page = site.add_hostile_feed(
            "refused.xml", page_name="refused.html", source_page=3
        )
        add_feed(service, config, "refused", refused_feed)
        failing = readiness_until(service, 503, 30, latencies)
        assert failing["store"].startswith("article writes fail: "), failing
        assert REFUSED in failing["store"]
        assert refused_page not in stored(db)

        with closing(sqlite3.connect(db, isolation_level=None)) as admin:
            admin.execute("DROP TRIGGER refuse_articles")
        time.sleep(1.0)
        assert readiness_until(service, 503, 0, latencies) == failing, "no article stored yet"

        last_feed, last_page = site.add_hostile_feed(
            "last.xml", page_name="last.html", source_page=5
        )
        add_feed(service, config, "last", last_feed)
        assert readiness_until(service, 200, 60, latencies) == {"ok": True, "store": "ok"}
        assert last_page in stored(db)
