"""Shared fixtures: database URLs for the storage tests, on SQLite and PostgreSQL.

PostgreSQL comes from ``NEWSFLOW_TEST_POSTGRES_URL`` (``make test`` sets it).
When it is unset outside CI, ``deploy/local/postgres.sh up`` starts a
throwaway server once per session (and stops it afterwards if it was not
running before). In CI (``CI=true``) a missing PostgreSQL fails the test: it
is never skipped. Every test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
POSTGRES_SCRIPT = REPO / "deploy" / "local" / "postgres.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    """No PostgreSQL: a failure in CI, an explicit skip (shown by -ra) elsewhere."""
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


SERVICE_MARKS = {
    "postgres_server_url": "postgres",
    "postgres_url": "postgres",
    "kafka_bootstrap": "kafka",
    "own_broker": "kafka",
}
"""A test that asks for one of these fixtures needs that service, so it carries its marker
whether or not its module says so: ``-m "not postgres"`` must never start PostgreSQL."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            mark = SERVICE_MARKS.get(fixture)
            if mark is not None and item.get_closest_marker(mark) is None:
                item.add_marker(mark)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (tests create their own)."""
    url = os.environ.get("NEWSFLOW_TEST_POSTGRES_URL", "").strip()
    started_here = False
    if not url:
        if _in_ci():
            _unavailable("NEWSFLOW_TEST_POSTGRES_URL is not set")
        if not POSTGRES_SCRIPT.exists():
            _unavailable(f"NEWSFLOW_TEST_POSTGRES_URL is not set and {POSTGRES_SCRIPT} is missing")
        started_here = _script("status").returncode != 0
        result = _script("up")
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            _unavailable(f"postgres.sh up failed: {result.stderr.strip()[-500:]}")
        url = lines[-1].strip()
    yield url
    if started_here:
        _script("down")


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"nf_test_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(postgres_server_url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        _unavailable(f"cannot connect to {postgres_server_url}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'newsflow.db'}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each engine in turn: the test runs once per engine."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def older_store(store_url: str) -> str:
    """``store_url`` as the newsflow before the latest schema step of every component left
    it: each component one step behind, those of a single step not there at all."""
    from connectors.storage.db import Database
    from connectors.storage.migrations import migrate
    from connectors.storage.store_schema import COMPONENTS

    db = Database(store_url)
    try:
        for component, migrations in COMPONENTS.items():
            migrate(db, component, migrations[:-1])
    finally:
        db.close()
    return store_url


@pytest.fixture
def schema_of() -> Any:
    """``schema_of(url)``: its tables, columns, indexes and migration ledger, read-only:
    what a migration, or any DDL, would change."""

    def read(url: str) -> list[tuple[Any, ...]]:
        from connectors.storage.db import Database

        db = Database(url, access="read")
        try:
            if db.dialect == "sqlite":
                shape = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2")
            else:
                shape = db.execute(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'public' ORDER BY 1, 2"
                ) + db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
            ledger = "SELECT component, version FROM schema_migrations ORDER BY 1, 2"
            return sorted(shape, key=repr) + db.execute(ledger)
        finally:
            db.close()

    return read


# -- Kafka (helpers in tests/kafka_support.py) ---------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real broker: ``NEWSFLOW_TEST_KAFKA_BOOTSTRAP``, else ``kafka.sh up`` (not in CI).

    A broker started here is left running (``make kafka-down`` stops it):
    other test sessions may be using it.
    """
    from kafka_support import broker_address

    return broker_address()


@pytest.fixture
def kafka_env(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Any]:
    """A ``KafkaEnv``: unique topic and group prefixes, its own store; topics deleted after."""
    from kafka_support import KafkaEnv

    env = KafkaEnv(kafka_bootstrap, tmp_path)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """An ``OwnBroker``, started: a broker of this test's own, which it may kill and restart.

    Needs the broker jars (``make kafka-up`` caches them; ``kafka.sh up`` fetches them once).
    A broker that cannot start fails the test in CI and skips it elsewhere, as for the
    shared broker.
    """
    from kafka_support import OwnBroker, in_ci

    broker = OwnBroker(tmp_path / "own-broker")
    try:
        broker.start()
    except RuntimeError as exc:
        broker.close()
        if in_ci():
            pytest.fail(f"Kafka is required in CI: {exc}", pytrace=False)
        pytest.skip(f"Kafka unavailable: {exc}")
    try:
        yield broker
    finally:
        broker.close()
