"""``storage.migrate_on_start: false``: the service never changes the schema.

On a store with migrations pending, ``newsflow run`` (service or ``--once``)
and the ``newsflow stage`` workers refuse to start with one line naming
``newsflow store migrate`` (exit status 2, as for a config problem), leaving
the store as it was; once it ran, they start and store articles without DDL.
Real subprocesses against the demo site on 127.0.0.1, on SQLite and
PostgreSQL (``older_store``: tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import NEWSFLOW, REPO, FeedSite, write_config

from connectors.storage import Database
from connectors.storage.store_schema import COMPONENTS
from pipeline.config import Config
from pipeline.errors import SchemaMismatch
from pipeline.service import ServiceEndpoints

STARTS = [("run",), ("run", "--once"), ("stage", "poll"), ("stage", "dedup"), ("stage", "store")]
"""The service, one pass, and every ``newsflow stage`` that opens the store."""


@pytest.fixture
def config(site: FeedSite, older_store: str, tmp_path: Path) -> Path:
    path = tmp_path / "newsflow.yaml"
    write_config(
        path,
        site,
        tmp_path / "unused.db",
        feeds=site.demo_feeds()[:1],
        storage={"url": older_store, "migrate_on_start": False},
    )
    return path


def newsflow(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSFLOW, "--config", str(config), *args],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def each_start(config: Path) -> Iterator[tuple[str, ...]]:
    """:data:`STARTS` in order; the config switches to Kafka for the ``stage`` workers (which
    run on Kafka only; the check comes before the broker)."""
    for start in STARTS:
        if start[0] == "stage":
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace("transport: embedded", "transport: kafka"), "utf-8")
        yield start


def refused_at_every_start(
    config: Path, message: str, then: Callable[[tuple[str, ...]], bool] = lambda start: True
) -> None:
    """Every way of starting the service (:func:`each_start`) exits 2 with ``message`` alone
    on stderr, and ``then`` holds after each."""
    for start in each_start(config):
        result = newsflow(config, *start)

        assert (result.returncode, result.stdout) == (2, ""), (start, result.stderr)
        assert result.stderr == f"newsflow: {config}: {message}\n", start
        assert then(start), start


def test_with_migrations_pending_nothing_starts_and_the_store_is_left_as_it_was(
    config: Path, older_store: str, schema_of: Any
) -> None:
    before = schema_of(older_store)
    pending = ", ".join(f"{c} v{steps[-1].version}" for c, steps in COMPONENTS.items())
    where = Database(older_store, access="read")
    location = where.location
    where.close()

    refused_at_every_start(
        config,
        f"storage.migrate_on_start is false and the database at {location} has schema"
        f" migrations pending ({pending}): run `newsflow store migrate` first",
    )
    assert schema_of(older_store) == before


def test_a_missing_sqlite_file_is_refused_and_not_created(site: FeedSite, tmp_path: Path) -> None:
    """The check opened the store as the service does, creating the file (and its
    directory) before refusing it as a store with every migration pending."""
    missing = tmp_path / "not-yet" / "newsflow.db"
    config = tmp_path / "newsflow.yaml"
    write_config(config, site, missing, storage={"migrate_on_start": False})

    refused_at_every_start(
        config,
        f"storage.migrate_on_start is false and there is no database at {missing}: run"
        " `newsflow store migrate` first",
        then=lambda start: not missing.parent.exists(),  # nor the file, nor its -wal or -shm
    )


def test_after_store_migrate_the_service_runs_without_changing_the_schema(
    config: Path, older_store: str, schema_of: Any
) -> None:
    migrated = newsflow(config, "store", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    before = schema_of(older_store)

    result = newsflow(config, "run", "--once")

    assert result.returncode == 0, result.stderr
    stored = int(result.stdout.split("articles stored:")[1].split()[0])
    assert stored > 0, result.stdout
    assert schema_of(older_store) == before


def test_the_status_page_and_readiness_probe_check_the_schema_and_change_nothing(
    older_store: str, schema_of: Any
) -> None:
    """They open connections of their own, later and again after a failure: each must
    follow the setting too (a store migrated behind the operator's back otherwise)."""
    config = Config.model_validate(
        {
            "storage": {"url": older_store, "migrate_on_start": False},
            "service": {"http_enabled": False},
        }
    )
    before = schema_of(older_store)

    with ServiceEndpoints(config, role="run") as endpoints:
        assert endpoints.store is not None
        with (
            pytest.raises(SchemaMismatch, match="`newsflow store migrate`"),
            endpoints.store.open(),
        ):
            pass
        ready = endpoints.health.readiness()

    assert not ready.ok
    assert "`newsflow store migrate`" in ready.details["store"]
    assert schema_of(older_store) == before
