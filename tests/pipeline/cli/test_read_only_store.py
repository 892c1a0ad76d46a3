"""A store this user cannot write: the commands that read work, the ones that write say so.

A backup copied read-only, a read-only mount, the service's files seen by
another user. Root ignores file permissions (CAP_DAC_OVERRIDE), so as root the
CLI runs with those capabilities dropped (``setpriv``), still uid 0: the files
here are root's, their permission bits apply to it as to their owner. (Running
as ``nobody`` instead fails before the test: the interpreter is under /root.)
The CLI runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_cli_bad_input import SEED_PAGE, newsflow

from connectors.storage import Database, open_store
from connectors.storage.article_schema import MIGRATIONS
from connectors.storage.articles import ArticleRepository
from connectors.storage.residue_stats import ResidueStatsRepository
from pipeline.models import EnrichedArticle, article_id

NOW = datetime(2024, 5, 1, tzinfo=UTC)
CAPS = "-dac_override,-dac_read_search,-fowner"


def _unavailable(reason: str) -> None:
    """No way to run without root's override: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot test a read-only store in CI: {reason}", pytrace=False)
    pytest.skip(f"cannot test a read-only store: {reason}")


@pytest.fixture(scope="session")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A command prefix under which file permissions apply (none needed but for root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        _unavailable("setpriv (util-linux) is not installed")
    prefix = [str(setpriv), f"--bounding-set={CAPS}", f"--inh-caps={CAPS}"]
    probe = tmp_path_factory.mktemp("probe") / "read-only"
    probe.write_bytes(b"")
    probe.chmod(0o444)
    runs = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if runs.returncode != 0:
        _unavailable(f"setpriv cannot drop capabilities here: {runs.stderr.strip()}")
    writes = subprocess.run([*prefix, "sh", "-c", f': >> "{probe}"'], capture_output=True)
    if writes.returncode == 0:
        _unavailable("a 0444 file stayed writable with the capabilities dropped")
    return prefix


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """``data/news.db`` as ``newsflow run`` leaves it, and ``newsflow.yaml`` naming it.

    Two articles in cluster ``c1``, a dead letter, a residue source with an override.
    Permissions are given back afterwards, so the directory can be removed.
    """
    db = tmp_path / "data" / "news.db"
    url = f"sqlite:///{db}"
    (tmp_path / "newsflow.yaml").write_text(
        f"storage: {{url: '{url}'}}\nservice: {{http_port: 0}}\nextract: {{workers: 1}}\n"
        "feeds: [{name: a, url: 'http://127.0.0.1:9/feed.xml'}]\n",
        encoding="utf-8",
    )
    with open_store(url) as opened:
        for n in range(2):
            add_article(opened.db, n)
        opened.dead_letters.add(
            stage="fetch", topic="items", error_class="HttpStatusError", reason="http_410",
            error="gone", payload='{"feed": "a", "url": "http://gone.example/"}',
            letter_key="a http://gone.example/",
        )  # fmt: skip
        residue = ResidueStatsRepository(opened.db)
        residue.observe("news.example", "k1", {"weekly review": "Weekly Review"}, window=200)
        residue.set_override("news.example", "weekly review", "Weekly Review", "deny")
    yield db
    for path in (db.parent, *db.parent.iterdir()):
        path.chmod(0o755)


def add_article(db: Database, n: int) -> None:
    link = f"https://news.example/{n}"
    ArticleRepository(db).upsert(
        EnrichedArticle(id=article_id(link), url=link, canonical_url=link, title=f"Story {n}",
                        text=f"Text of story {n} about budgets.", source="news.example",
                        fetched_at=NOW, feeds=["wire"], cluster_id="c1")
    )  # fmt: skip


def freeze(db: Path, *, file_mode: int = 0o444) -> None:
    """No write permission on the database or its directory: a backup copied read-only."""
    assert not db.with_name(db.name + "-wal").exists()  # closed cleanly: all in the file
    db.chmod(file_mode)
    db.parent.chmod(0o555)


def digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


READS = [
    (["export"], 2, "newsflow: exported 2 articles"),
    (["search", "budgets"], 2, ""),
    (["cluster", "c1"], 3, ""),
    (["dlq", "list"], 1, "newsflow: 1 dead letter"),
    (["residue", "sources"], 1, ""),
    (["residue", "show", "news.example"], 6, ""),
    (["extract", "--learned", str(SEED_PAGE)], None, ""),
]


@pytest.mark.parametrize(("args", "lines", "err"), READS)
def test_a_command_that_reads_works_on_a_read_only_copy(
    store: Path, unprivileged: list[str], args: list[str], lines: int | None, err: str
) -> None:
    """It used to migrate and switch to WAL first: a traceback, or 'attempt to write a
    readonly database'. No -wal or -shm can be made here: it reads the file as it is."""
    freeze(store)
    before = digest(store)

    result = newsflow("--config", "newsflow.yaml", *args, cwd=store.parent.parent,
                      runner=unprivileged)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == err
    if lines is not None:
        assert len(result.stdout.splitlines()) == lines, result.stdout
    assert sorted(p.name for p in store.parent.iterdir()) == ["news.db"]
    assert digest(store) == before


def test_a_reader_sees_what_a_running_service_has_not_checkpointed(
    store: Path, unprivileged: list[str]
) -> None:
    """The service's files as another user sees them: none writable, the service
    holding them open (its -wal and -shm exist). The reader opens those read-only
    and reads the WAL too; immutable=1 would have missed the third article."""
    service = Database(f"sqlite:///{store}")
    try:
        service.execute("PRAGMA wal_autocheckpoint=0")
        service._checkpointer.stop()  # type: ignore[union-attr]  # the commit stays in the WAL
        add_article(service, 2)
        for path in store.parent.iterdir():
            path.chmod(0o444)
        store.parent.chmod(0o555)

        result = newsflow("--config", "newsflow.yaml", "export", cwd=store.parent.parent,
                          runner=unprivileged)  # fmt: skip
    finally:
        service.close()

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "newsflow: exported 3 articles"


def test_a_reader_refuses_a_file_that_may_change_under_it(
    store: Path, unprivileged: list[str]
) -> None:
    """No -shm to open and none can be made, but the owner may still write the file
    (the service, stopped now, or starting during the read): reading it without locks
    (immutable=1) could return torn pages, so the reader says what it needs instead."""
    freeze(store, file_mode=0o644)

    result = newsflow("--config", "newsflow.yaml", "export", cwd=store.parent.parent,
                      runner=unprivileged)  # fmt: skip

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"newsflow: error: cannot read the database at {store}: SQLite must create"
        " news.db-shm beside it, in a directory this user cannot write, and the database"
        " may still change (its owner may write it): run as the user that owns it,"
        " or read a copy\n"
    )


WRITES = [
    ["dlq", "drop", "--all"],
    ["dlq", "replay"],
    ["residue", "allow", "news.example", "Weekly Review"],
    ["residue", "deny", "news.example", "Other Line"],
    ["residue", "clear", "news.example", "Weekly Review"],
    ["run", "--once"],
]


@pytest.mark.parametrize("args", WRITES)
def test_a_command_that_writes_refuses_a_read_only_store_in_one_line(
    store: Path, unprivileged: list[str], args: list[str]
) -> None:
    """SQLite opens such a file read-only without a word; the first write failed
    ('SQLite error: attempt to write a readonly database'), after `dlq replay` had
    run its letters through the pipeline."""
    freeze(store)
    before = digest(store)

    result = newsflow("--config", "newsflow.yaml", *args, cwd=store.parent.parent,
                      runner=unprivileged)  # fmt: skip

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("newsflow:")]
    assert errors == [
        f"newsflow: error: cannot write to the database at {store}: read-only for this user"
    ], result.stderr
    assert "Traceback" not in result.stderr
    assert digest(store) == before


def test_a_writable_file_in_a_read_only_directory_is_refused_too(
    store: Path, unprivileged: list[str]
) -> None:
    """SQLite writes news.db-wal and news.db-shm beside the file, and cannot create them."""
    freeze(store, file_mode=0o644)

    result = newsflow("--config", "newsflow.yaml", "dlq", "drop", "--all",
                      cwd=store.parent.parent, runner=unprivileged)  # fmt: skip

    assert result.returncode == 1
    assert result.stderr == (
        f"newsflow: error: cannot write to the database at {store}: read-only directory"
        " for this user (SQLite creates news.db-wal there)\n"
    )


def test_a_reader_of_an_older_schema_says_which_and_what_migrates_it(store: Path) -> None:
    newest = max(m.version for m in MIGRATIONS)
    db = Database(f"sqlite:///{store}")
    db.execute(
        "DELETE FROM schema_migrations WHERE component = 'articles' AND version = ?", (newest,)
    )
    db.close()

    result = newsflow("--config", "newsflow.yaml", "export", cwd=store.parent.parent)

    assert result.returncode == 1
    assert result.stderr == (
        f"newsflow: error: the database at {store} has articles schema version {newest - 1},"
        f" this newsflow needs version {newest}: `newsflow store migrate` migrates it\n"
    )
