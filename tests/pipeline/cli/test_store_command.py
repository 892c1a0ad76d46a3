"""``newsflow store migrate`` and ``newsflow store status``: the schema as a deploy step.

On SQLite and PostgreSQL, from a store as the newsflow before each component's
latest step left it (``older_store``, tests/conftest.py). The CLI runs as a
subprocess, as an operator's deploy script runs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cli_bad_input import newsflow

from connectors.storage import Database
from connectors.storage.store_schema import COMPONENTS


@pytest.fixture
def workdir(older_store: str, tmp_path: Path) -> Path:
    (tmp_path / "newsflow.yaml").write_text(
        f"storage: {{url: '{older_store}'}}\n", encoding="utf-8"
    )
    return tmp_path


def store(workdir: Path, action: str) -> subprocess.CompletedProcess[str]:
    return newsflow("--config", "newsflow.yaml", "store", action, cwd=workdir)


def test_status_lists_what_is_pending_and_exits_1_until_migrated(workdir: Path) -> None:
    before = store(workdir, "status")

    assert before.returncode == 1
    pending = len(COMPONENTS)  # each component is one step behind
    assert before.stderr == (
        f"newsflow: {pending} migrations pending: run `newsflow store migrate`\n"
    )
    expected = []
    for component, steps in COMPONENTS.items():
        last = steps[-1]
        expected.append(
            f"{component}: version {last.version - 1} of {last.version},"
            f" pending: v{last.version} {last.name}"
        )
    assert before.stdout.splitlines() == expected

    assert store(workdir, "migrate").returncode == 0
    after = store(workdir, "status")

    assert (after.returncode, after.stderr) == (0, "")
    assert after.stdout.splitlines() == [
        f"{component}: version {len(steps)}, up to date" for component, steps in COMPONENTS.items()
    ]


def test_migrate_prints_each_step_it_applies_and_then_nothing_to_do(
    workdir: Path, older_store: str
) -> None:
    first = store(workdir, "migrate")

    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.splitlines() == [
        f"{component} v{steps[-1].version}: {steps[-1].name}"
        for component, steps in COMPONENTS.items()
    ]
    db = Database(older_store, access="read")
    ledger = db.execute("SELECT component, version FROM schema_migrations ORDER BY 1, 2")
    db.close()
    assert ledger == sorted((c, m.version) for c, steps in COMPONENTS.items() for m in steps)

    again = store(workdir, "migrate")

    assert (again.returncode, again.stdout, again.stderr) == (0, "schema up to date\n", "")


def test_a_store_newer_than_this_newsflow_is_one_line_and_a_failure(
    workdir: Path, older_store: str
) -> None:
    db = Database(older_store)
    db.execute(
        "INSERT INTO schema_migrations (component, version, name, applied_at)"
        " VALUES ('articles', 99, 'from the future', 'x')"
    )
    db.close()
    newest = len(COMPONENTS["articles"])

    migrating = store(workdir, "migrate")
    status = store(workdir, "status")

    assert (migrating.returncode, migrating.stdout) == (1, "")
    assert migrating.stderr == (
        "newsflow: error: the database's articles schema is at version 99, newer than this"
        f" newsflow knows (version {newest}): upgrade newsflow\n"
    )
    assert status.returncode == 1
    assert status.stdout.splitlines()[0] == (
        f"articles: version 99, newer than this newsflow knows ({newest})"
    )
    assert "newsflow: the database is newer than this newsflow: upgrade it" in status.stderr


@pytest.mark.parametrize(
    ("migrate_on_start", "creates_it"),
    [
        ("true", "`newsflow run` or `newsflow store migrate` creates it"),
        ("false", "`newsflow store migrate` creates it (storage.migrate_on_start is false:"
                  " `newsflow run` does not)"),
    ],
)  # fmt: skip
def test_status_of_a_missing_sqlite_file_names_a_command_that_creates_it(
    tmp_path: Path, migrate_on_start: str, creates_it: str
) -> None:
    """It said "`newsflow run` creates it", which with migrate_on_start false refuses a
    store without the schema; `store migrate` creates one either way."""
    (tmp_path / "newsflow.yaml").write_text(
        f"storage: {{url: 'sqlite:///{tmp_path}/new/store.db',"
        f" migrate_on_start: {migrate_on_start}}}\n",
        encoding="utf-8",
    )
    missing = store(tmp_path, "status")

    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        f"newsflow: error: no database at {tmp_path}/new/store.db; {creates_it}\n"
    )
    assert not (tmp_path / "new").exists()
    assert store(tmp_path, "migrate").returncode == 0  # as the message says
    assert store(tmp_path, "status").returncode == 0
