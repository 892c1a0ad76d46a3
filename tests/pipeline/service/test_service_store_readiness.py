"""``/readyz`` of ``newsflow run`` while its store hangs.

A store that hangs (a PostgreSQL row, or a SQLite file, locked by another
connection; a server stalled) made every ``/readyz`` wait as long as the
probe's write did: for as long as the lock was held on PostgreSQL, 30 s (the
busy timeout) on SQLite, while the orchestrator's probe gives up after 1 s.
It must answer within a second, saying which store has not answered and for
how long, and be ready again once the lock is released.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from service_support import FeedSite, ServiceProcess, timed_get, write_config

from pipeline.service.lookout import STALE_SECONDS

BOUND_S = 1.5
"""Longest a /readyz may take: the probe waits 0.8 s for its look; the rest is slack for a
loaded machine (before the fix: as long as the lock was held, or the 30 s busy timeout)."""
SILENT_S = STALE_SECONDS + 10
"""Until a stalled store is reported: the last answer stands for STALE_SECONDS."""


def readiness_until(
    service: ServiceProcess, wanted: int, timeout: float, latencies: list[float]
) -> dict[str, Any]:
    """/readyz five times a second, as impatient probes would, until it answers ``wanted``;
    every answer within :data:`BOUND_S` (their times added to ``latencies``)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, took = timed_get(service.url + "/readyz")
        latencies.append(took)
        assert status is not None and took < BOUND_S, (status, took, body, service.log())
        if status == wanted:
            answer: dict[str, Any] = json.loads(body)
            return answer
        assert time.monotonic() < deadline, (wanted, status, body)
        time.sleep(0.2)


@pytest.fixture
def no_feeds(tmp_path: Path, site: FeedSite) -> Callable[[str], Path]:
    """A config for a store URL and no feeds: the service does nothing but answer."""

    def config(url: str) -> Path:
        path = tmp_path / "newsflow.yaml"
        write_config(path, site, tmp_path / "unused.db", storage={"url": url}, feeds=[])
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
    psycopg = pytest.importorskip("psycopg")
    parts = urlsplit(postgres_url)
    with_password = urlunsplit(
        parts._replace(netloc=f"postgres:s3cret@{parts.hostname}:{parts.port}")
    )
    latencies: list[float] = []
    with running(no_feeds(with_password)) as service:
        readiness_until(service, 200, 30, latencies)
        with psycopg.connect(postgres_url) as locker:  # a transaction begins with the SELECT
            locker.execute("SELECT probed_at FROM store_probe WHERE id = 1 FOR UPDATE")
            stalled = readiness_until(service, 503, SILENT_S, latencies)
            locker.rollback()
        readiness_until(service, 200, 10, latencies)
    shown = f"postgresql://postgres@{parts.hostname}:{parts.port}{parts.path}"
    assert stalled["store"].startswith(
        f"store {shown} is not answering: no write committed for "
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
        locker = sqlite3.connect(db, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            stalled = readiness_until(service, 503, SILENT_S, latencies)
            locker.execute("ROLLBACK")
        finally:
            locker.close()
        readiness_until(service, 200, 10, latencies)
    assert stalled["store"].startswith(f"store {db} is not answering: no write committed for ")
