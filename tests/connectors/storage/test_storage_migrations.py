"""Versioned migrations: applied once, in order, atomically, and safely in parallel."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from storage_samples import as_user, make_article

from connectors.storage import Database, Migration, SearchQuery, migrate, open_store
from connectors.storage.article_schema import MIGRATIONS as ARTICLE_MIGRATIONS
from connectors.storage.articles import _columns, content_hash
from connectors.storage.dead_letters import MIGRATIONS as LETTER_MIGRATIONS
from connectors.storage.dedup_index import DedupIndex
from connectors.storage.dedup_schema import MIGRATIONS as DEDUP_MIGRATIONS
from connectors.storage.feed_state import Validators
from connectors.storage.migrations import applied_versions, both
from connectors.storage.write_probe import MIGRATIONS as PROBE_MIGRATIONS
from pipeline.config import DedupConfig
from pipeline.dedup.fingerprint import Fingerprinter
from pipeline.errors import StorageError
from pipeline.keys import bounded_key
from pipeline.models import utcnow


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.close()


def ledger(db: Database) -> list[tuple[str, int]]:
    rows = db.execute("SELECT component, version FROM schema_migrations ORDER BY 1, 2")
    return [(str(c), int(v)) for c, v in rows]


def test_opening_a_store_applies_every_step_once(store_url: str) -> None:
    with open_store(store_url) as store:
        expected = (
            [("articles", m.version) for m in ARTICLE_MIGRATIONS]
            + [("dead_letters", m.version) for m in LETTER_MIGRATIONS]
            + [("store_probe", m.version) for m in PROBE_MIGRATIONS]
        )
        assert ledger(store.db) == expected
    with open_store(store_url) as store:
        assert ledger(store.db) == expected
        assert migrate(store.db, "articles", ARTICLE_MIGRATIONS) == []


def test_a_new_step_is_applied_on_top_of_the_old_ones(db: Database) -> None:
    first = Migration(1, "widgets", both("CREATE TABLE widgets (name TEXT PRIMARY KEY)"))
    second = Migration(2, "widget colour", both("ALTER TABLE widgets ADD COLUMN colour TEXT"))
    assert migrate(db, "widgets", [first]) == [1]
    db.execute("INSERT INTO widgets (name) VALUES (?)", ("a",))
    assert migrate(db, "widgets", [first, second]) == [2]
    assert db.execute("SELECT name, colour FROM widgets") == [("a", None)]
    assert applied_versions(db, "widgets") == {1, 2}


def test_a_failing_step_leaves_the_schema_as_it_was(db: Database) -> None:
    migrate(db, "nothing yet", [])  # creates the ledger, so it can be read afterwards
    good = Migration(1, "gadgets", both("CREATE TABLE gadgets (id INTEGER)"))
    bad = Migration(2, "broken", both("ALTER TABLE no_such_table ADD COLUMN x TEXT"))
    with pytest.raises(StorageError, match=r"gadgets v2 \(broken\) failed"):
        migrate(db, "gadgets", [good, bad])
    assert applied_versions(db, "gadgets") == set()
    # step 1 was rolled back with it: applying the fixed list starts from scratch
    fixed = Migration(2, "fixed", both("ALTER TABLE gadgets ADD COLUMN x TEXT"))
    assert migrate(db, "gadgets", [good, fixed]) == [1, 2]


def test_a_database_newer_than_the_code_is_refused(db: Database) -> None:
    migrate(db, "articles", ARTICLE_MIGRATIONS)
    db.execute(
        "INSERT INTO schema_migrations (component, version, name, applied_at)"
        " VALUES ('articles', 99, 'from the future', 'x')"
    )
    with pytest.raises(StorageError, match="version 99, newer than this newsflow"):
        migrate(db, "articles", ARTICLE_MIGRATIONS)


def test_steps_must_be_numbered_from_one_without_gaps(db: Database) -> None:
    with pytest.raises(StorageError, match="numbered 1, 2, 3"):
        migrate(db, "gaps", [Migration(2, "two", both("SELECT 1"))])


def _open_and_report(url: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    try:
        with open_store(url) as store:
            store.articles.count()
        out.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_at_once_migrate_exactly_once(store_url: str) -> None:
    # spawn, not fork: a child forked while another thread of this process is inside
    # SQLite (the WAL checkpointer of a database an earlier test left open) inherits
    # SQLite's memory mutex locked and hangs in sqlite3Malloc (py-spy, 2 of 8 full runs)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    workers = [
        context.Process(target=_open_and_report, args=(store_url, barrier, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == ["ok"] * 4
    db = Database(store_url)
    try:
        assert sorted(applied_versions(db, "articles")) == [m.version for m in ARTICLE_MIGRATIONS]
        assert len(ledger(db)) == (
            len(ARTICLE_MIGRATIONS) + len(LETTER_MIGRATIONS) + len(PROBE_MIGRATIONS)
        )
    finally:
        db.close()


@pytest.mark.postgres
def test_a_read_only_role_can_open_and_search_an_up_to_date_store(postgres_url: str) -> None:
    import psycopg

    with open_store(postgres_url) as store:
        store.articles.upsert(make_article("readable", "Readers may search this."))
    role = f"nf_reader_{uuid.uuid4().hex[:8]}"
    database = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        try:
            with open_store(as_user(role, postgres_url)) as store:
                hits = store.search.search(SearchQuery("readers"))
                assert [h.article.title for h in hits] == ["Story readable"]
                with pytest.raises(StorageError, match="permission denied"):
                    store.articles.upsert(make_article("refused", "No writes."))
        finally:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def test_revisions_stored_before_page_hashes_survive_the_upgrade(db: Database) -> None:
    """Step 6 adds ``page_hash`` to a store that already holds revisions: they keep their
    content, with no page hash (so only their title and text can match a replay)."""
    migrate(db, "articles", ARTICLE_MIGRATIONS[:5])
    article = make_article("old", "Stored before the upgrade.")
    db.execute(
        "INSERT INTO article_revisions (article_id, revision, content_hash, title, text,"
        " stored_at) VALUES (?, 1, 'old-hash', ?, ?, '2024-05-01T08:00:00')",
        (article.id, article.title, article.text),
    )
    with open_store(db.url) as store:
        assert applied_versions(store.db, "articles") == {m.version for m in ARTICLE_MIGRATIONS}
        [old] = store.articles.revisions(article.id)
        assert (old.text, old.page_hash) == (article.text, None)


def test_articles_stored_before_page_validators_get_them_at_their_next_fetch(
    db: Database,
) -> None:
    """Step 7 adds the page validators to a store that already holds articles: they have
    none (their update is fetched whole, as before), until a fetch brings some."""
    migrate(db, "articles", ARTICLE_MIGRATIONS[:6])
    article = make_article("old", "Stored before the upgrade.")
    db.execute(
        "INSERT INTO articles (id, canonical_url, url, source, title, text, language,"
        " published_at, fetched_at, dated_at, duplicate_of, cluster_id, revision,"
        " content_hash, feeds, data, stored_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (article.id, *_columns(article), content_hash(article), '["wire"]',
         article.to_json().decode(), "2024-05-01T08:00:00", "2024-05-01T08:00:00"),
    )  # fmt: skip
    with open_store(db.url) as store:
        assert applied_versions(store.db, "articles") == {m.version for m in ARTICLE_MIGRATIONS}
        assert store.articles.page_validators([article.url]) == {}
        fetched = article.model_copy(update={"page_etag": '"e1"'})
        assert store.articles.upsert(fetched) == "unchanged"
        assert store.articles.page_validators([article.url]) == {article.url: Validators('"e1"')}
        assert store.articles.get(article.id) == article


def test_validators_stored_before_their_fetch_time_are_not_replaced_by_an_older_fetch(
    db: Database,
) -> None:
    """Step 9 records when each page's validators were fetched: rows that hold some start
    from the article's ``fetched_at`` (the validators are no older), so a replay fetched
    before it does not put back an older ETag; rows without validators take any."""
    migrate(db, "articles", ARTICLE_MIGRATIONS[:8])
    with_etag = make_article("etag", "Stored before the upgrade.", page_etag='"e2"')
    bare = make_article("bare", "Stored without validators.")
    for article in (with_etag, bare):
        etag = article.page_etag
        db.execute(
            "INSERT INTO articles (id, canonical_url, url, source, title, text, language,"
            " published_at, fetched_at, dated_at, duplicate_of, cluster_id, revision,"
            " content_hash, feeds, data, stored_at, updated_at, page_etag, page_url_key)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (article.id, *_columns(article), content_hash(article), '["wire"]',
             article.to_json().decode(), "2024-05-01T08:00:00", "2024-05-01T08:00:00",
             etag, bounded_key(article.url)),
        )  # fmt: skip
    with open_store(db.url) as store:
        assert applied_versions(store.db, "articles") == {m.version for m in ARTICLE_MIGRATIONS}
        earlier = {"page_etag": '"e1"', "fetched_at": with_etag.fetched_at - timedelta(days=1)}
        store.articles.upsert(with_etag.model_copy(update=earlier))
        store.articles.upsert(bare.model_copy(update=earlier))
        assert store.articles.page_validators([with_etag.url, bare.url]) == {
            with_etag.url: Validators('"e2"'),
            bare.url: Validators('"e1"'),
        }


def test_clusters_indexed_before_verdict_versions_start_at_version_one(db: Database) -> None:
    """Dedup index step 3 adds each cluster's generation: clusters already indexed are at
    their first canonical as far as readers were told, so they start at 1 and count on."""
    migrate(db, "dedup_index", DEDUP_MIGRATIONS[:2])
    db.execute(
        "INSERT INTO dedup_clusters (cluster_id, canonical_id, canonical_order)"
        " VALUES ('c1', 'a1', '2024-05-01T08:00:00')"
    )
    assert migrate(db, "dedup_index", DEDUP_MIGRATIONS[:3]) == [3]
    assert db.execute("SELECT generation FROM dedup_clusters WHERE cluster_id = 'c1'") == [(1,)]


def test_the_verdict_version_counter_starts_past_every_version_already_given(
    db: Database,
) -> None:
    """Dedup index step 4 gives versions from one counter: it must start above what
    readers were told, or a new verdict could rank below an old one."""
    migrate(db, "dedup_index", DEDUP_MIGRATIONS[:3])
    db.execute(
        "INSERT INTO dedup_clusters (cluster_id, canonical_id, canonical_order, generation)"
        " VALUES ('c1', 'a1', '2024-05-01T08:00:00', 5), ('c2', 'a2', '2024-05-01T09:00:00', 2)"
    )
    assert migrate(db, "dedup_index", DEDUP_MIGRATIONS) == [4]
    config = DedupConfig()
    fingerprint = Fingerprinter(config).of(make_article("new", "A story the index never saw."))
    assert DedupIndex(db, config).record(fingerprint, utcnow()).generation == 6
