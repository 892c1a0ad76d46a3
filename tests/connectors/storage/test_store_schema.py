"""The whole store's schema at once: migrated as a deploy step, or only checked.

``older_store`` (tests/conftest.py) is a store as the newsflow before each
component's latest step left it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from storage_samples import as_user, make_article

from connectors.storage import Database, open_store
from connectors.storage.dedup_index import DedupIndex
from connectors.storage.feed_state import FeedStateRepository
from connectors.storage.migrations import applied_versions
from connectors.storage.residue_schema import SCHEMA as RESIDUE_TABLES
from connectors.storage.residue_stats import ResidueStatsRepository
from connectors.storage.store_schema import COMPONENTS, migrate_store, store_problem
from connectors.storage.write_probe import WriteProbe
from pipeline.config import DedupConfig
from pipeline.errors import SchemaMismatch

REPOSITORIES: list[Callable[[Database], Any]] = [
    lambda db: open_store(db.url, migrate=db.migrates),
    FeedStateRepository,
    ResidueStatsRepository,
    lambda db: DedupIndex(db, DedupConfig()),
    WriteProbe,
]
"""Everything a process opens on the store, each of which would migrate its component."""


@pytest.fixture
def db(older_store: str) -> Iterator[Database]:
    database = Database(older_store)
    yield database
    database.close()


def test_migrating_the_store_applies_exactly_what_each_component_lacks(db: Database) -> None:
    assert migrate_store(db) == [(c, steps[-1]) for c, steps in COMPONENTS.items()]
    for component, steps in COMPONENTS.items():
        assert applied_versions(db, component) == {m.version for m in steps}
    assert migrate_store(db) == []


def test_a_store_that_may_not_migrate_is_checked_and_left_as_it_was(
    older_store: str, schema_of: Any
) -> None:
    db = Database(older_store, migrate=False)
    try:
        before = schema_of(older_store)
        for open_repository in REPOSITORIES:
            with pytest.raises(SchemaMismatch, match="`newsflow store migrate`"):
                open_repository(db)
        assert schema_of(older_store) == before
    finally:
        db.close()


def test_the_problem_names_every_pending_component_and_is_gone_once_migrated(
    db: Database,
) -> None:
    problem = store_problem(db)
    assert problem is not None and "run `newsflow store migrate` first" in problem
    for component, migrations in COMPONENTS.items():
        assert f"{component} v{migrations[-1].version}" in problem
    migrate_store(db)
    assert store_problem(db) is None
    db.execute(
        "INSERT INTO schema_migrations (component, version, name, applied_at)"
        " VALUES ('feed_state', 99, 'from the future', 'x')"
    )
    assert store_problem(db) == (
        f"the database at {db.location} has feed_state schema version 99, newer than this"
        f" newsflow knows (version {len(COMPONENTS['feed_state'])}): upgrade newsflow"
    )


def test_residue_tables_from_before_they_were_versioned_are_adopted(store_url: str) -> None:
    """Every open used to run the residue tables' CREATE ... IF NOT EXISTS: a store that has
    them records step 1 without losing a row, and never runs it again."""
    db = Database(store_url)
    try:
        db.script(RESIDUE_TABLES)
        db.execute(
            "INSERT INTO residue_lines (source, line_key, articles, sample) VALUES (?, ?, ?, ?)",
            ("news.example", "k", 3, "Weekly Review"),
        )
        assert ("residue_stats", COMPONENTS["residue_stats"][0]) in migrate_store(db)
        assert db.execute("SELECT articles FROM residue_lines") == [(3,)]
        assert applied_versions(db, "residue_stats") == {1}
    finally:
        db.close()


@pytest.mark.postgres
def test_a_role_without_ddl_rights_runs_on_a_migrated_store(postgres_url: str) -> None:
    """The service's database user may read and write rows but not change the schema: once
    ``newsflow store migrate`` ran (as the owner), every repository opens and writes."""
    import psycopg

    owner = Database(postgres_url)
    migrate_store(owner)
    owner.close()
    role = f"nf_service_{uuid.uuid4().hex[:8]}"
    database = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        admin.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        admin.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        admin.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        try:
            service = Database(as_user(role, postgres_url), migrate=False)
            try:
                assert store_problem(service) is None
                opened = [open_repository(service) for open_repository in REPOSITORIES]
                opened[0].articles.upsert(make_article("service", "Written by the service."))
                opened[-1].prove()
                opened[0].close()
                with pytest.raises(Exception, match="permission denied"):
                    service.execute("CREATE TABLE nope (id INTEGER)")
            finally:
                service.close()
        finally:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
