"""The shared dedup index on SQLite and PostgreSQL: verdicts, replays, revisions, window."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lock_waits import backend_pid, wait_until_blocked

from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex, IndexedVerdict
from connectors.storage.dedup_schema import TABLES
from pipeline.config import DedupConfig
from pipeline.dedup.fingerprint import Fingerprint, Fingerprinter
from pipeline.errors import ConfigError
from pipeline.models import EnrichedArticle, article_id

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
TEXT, OTHER = (p.read_text(encoding="utf-8") for p in SEEDS)
NOW = datetime(2024, 5, 1, tzinfo=UTC)
CONFIG = DedupConfig(window_days=7)


def article(url: str, text: str = TEXT, hours: float = 0, title: str = "t") -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        text=text,
        published_at=NOW + timedelta(hours=hours),
        source="example.com",
        fetched_at=NOW,
    )


def fp(item: EnrichedArticle, config: DedupConfig = CONFIG) -> Fingerprint:
    return Fingerprinter(config).of(item)


def copies() -> list[EnrichedArticle]:
    """Four copies of the first seed (boilerplate, truncation) and the other seed."""
    words = TEXT.split(" ")
    return [
        article("https://one.example/a", TEXT, hours=3),
        article("https://two.example/b", "Subscribe to our newsletter.\n" + TEXT, hours=1),
        article("https://three.example/c", " ".join(words[: int(len(words) * 0.75)]), hours=2),
        article("https://four.example/d", TEXT + "\nCopyright 2024 Wire.", hours=5),
        article("https://five.example/e", OTHER, hours=0),
    ]


def row_counts(index: DedupIndex) -> dict[str, int]:
    return {table: index.count(table) for table in TABLES}


@pytest.fixture
def index(store_url: str) -> Iterator[DedupIndex]:
    db = Database(store_url)
    yield DedupIndex(db, CONFIG)
    db.close()


def test_first_article_founds_a_cluster_and_a_copy_joins_it(index: DedupIndex) -> None:
    first = index.record(fp(article("https://one.example/a", hours=0)), NOW)
    assert (first.kind, first.cluster_id, first.duplicate_of) == ("unique", first.article_id, None)
    copy = index.record(fp(article("https://two.example/b", "Advertisement\n" + TEXT, 1)), NOW)
    assert copy.kind == "duplicate"
    assert (copy.cluster_id, copy.duplicate_of) == (first.article_id, first.article_id)
    assert copy.method == "near_duplicate" and 0.5 <= (copy.similarity or 0) < 1
    other = index.record(fp(article("https://three.example/c", OTHER)), NOW)
    assert other.kind == "unique" and other.cluster_id != first.cluster_id


def test_replay_gives_the_same_verdict_and_writes_nothing(index: DedupIndex) -> None:
    verdicts = [index.record(fp(a), NOW) for a in copies()]
    before = row_counts(index)
    again = [index.record(fp(a), NOW + timedelta(hours=1)) for a in copies()]
    assert row_counts(index) == before
    assert all(v.replay for v in again)
    final = {v.article_id: (v.cluster_id, v.duplicate_of) for v in again}
    assert [final[v.article_id][0] for v in verdicts] == [v.cluster_id for v in verdicts]


def test_later_arriving_earlier_published_copy_becomes_canonical(index: DedupIndex) -> None:
    late = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    dup = index.record(fp(article("https://two.example/b", TEXT + "\nAdvertisement", 6)), NOW)
    assert dup.duplicate_of == late.article_id
    early = index.record(fp(article("https://three.example/c", "Related: x\n" + TEXT, 1)), NOW)
    assert (early.kind, early.duplicate_of) == ("canonical", None)
    assert early.cluster_id == late.cluster_id
    assert {r.article_id for r in early.repointed} == {late.article_id, dup.article_id}
    assert list(index.canonicals()) == [(late.cluster_id, early.article_id)]
    members = index.cluster(late.cluster_id)
    assert members[0].article_id == early.article_id and members[0].duplicate_of is None
    assert all(m.duplicate_of == early.article_id for m in members[1:])
    replay = index.record(fp(article("https://three.example/c", "Related: x\n" + TEXT, 1)), NOW)
    assert replay.replay and replay.repointed == early.repointed
    demoted = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    assert (demoted.kind, demoted.duplicate_of) == ("duplicate", early.article_id)


def test_each_change_to_a_cluster_raises_the_verdict_version_of_its_whole_cluster(
    index: DedupIndex,
) -> None:
    """Messages about one article reach readers in no fixed order; the version says which
    verdict is the present one. A cluster takes a new one at each change (founded,
    joined, new canonical); a replay keeps the cluster's present one."""
    late = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    dup = index.record(fp(article("https://two.example/b", TEXT + "\nAdvertisement", 6)), NOW)
    assert dup.generation > late.generation
    earlier = index.record(fp(article("https://three.example/c", "Related: x\n" + TEXT, 3)), NOW)
    assert earlier.kind == "canonical" and earlier.generation > dup.generation
    earliest = index.record(fp(article("https://four.example/d", TEXT + "\nRead more", 1)), NOW)
    assert earliest.kind == "canonical" and earliest.generation > earlier.generation
    for member in (late, dup, earlier):
        present = index.verdict_of(member.article_id)
        assert present is not None
        assert (present.duplicate_of, present.generation) == (
            earliest.article_id,
            earliest.generation,
        )
    joined = index.record(fp(article("https://five.example/e", TEXT + "\nShare", 9)), NOW)
    assert joined.duplicate_of == earliest.article_id
    assert joined.generation > earliest.generation
    replay = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    assert (replay.replay, replay.duplicate_of, replay.generation) == (
        True,
        earliest.article_id,
        joined.generation,
    )
    other = index.record(fp(article("https://six.example/f", OTHER)), NOW)
    assert other.generation > joined.generation  # one counter for every cluster


def test_an_article_back_after_the_window_gets_a_higher_version_than_it_ever_had(
    index: DedupIndex,
) -> None:
    """Readers keep the highest version per article, so an article that aged out of the
    index and came back (its cluster gone, or another one) must not start lower."""
    late = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    early = index.record(fp(article("https://two.example/b", "Related\n" + TEXT, 1)), NOW)
    late_present = index.verdict_of(late.article_id)
    assert late_present is not None and late_present.duplicate_of == early.article_id
    assert index.prune(NOW + timedelta(days=CONFIG.window_days + 1)) == 2
    assert index.count("dedup_clusters") == 0
    back = index.record(fp(article("https://one.example/a", hours=5)), NOW)
    assert (back.kind, back.replay) == ("unique", False)
    assert back.generation > late_present.generation


def test_the_same_page_with_another_text_is_a_replay_not_a_revision(index: DedupIndex) -> None:
    """The page extracted again after the learned boilerplate moved: another text, same
    page key. It keeps its revision, now and after a real revision replaced it."""
    url = "https://one.example/a"
    first = index.record(fp(article(url, "Share this.\n" + TEXT).model_copy(
        update={"page_hash": "page-1"})), NOW)  # fmt: skip
    again = index.record(fp(article(url).model_copy(update={"page_hash": "page-1"})), NOW)
    assert (again.revision, again.replay) == (first.revision, True) == (1, True)
    revised = index.record(fp(article(url, OTHER).model_copy(update={"page_hash": "p2"})), NOW)
    assert (revised.revision, revised.replay) == (2, False)
    old_page = index.record(fp(article(url).model_copy(update={"page_hash": "page-1"})), NOW)
    assert (old_page.revision, old_page.replay) == (1, True)
    unknown_page = index.record(fp(article(url, title="New").model_copy(
        update={"page_hash": "page-3"})), NOW)  # fmt: skip
    assert (unknown_page.revision, unknown_page.replay) == (3, False)


def test_changed_title_or_text_is_a_new_revision_of_the_same_article(index: DedupIndex) -> None:
    first = index.record(fp(article("https://one.example/a")), NOW)
    retitled = index.record(fp(article("https://one.example/a", title="Updated")), NOW)
    assert (retitled.article_id, retitled.revision, retitled.replay) == (first.article_id, 2, False)
    assert retitled.cluster_id == first.cluster_id
    edited = index.record(fp(article("https://one.example/a", OTHER, title="Updated")), NOW)
    assert edited.revision == 3
    old = index.record(fp(article("https://one.example/a")), NOW)
    assert (old.revision, old.replay) == (1, True)
    # the index now matches the article by its current text
    copy = index.record(fp(article("https://two.example/b", "Advertisement\n" + OTHER, 1)), NOW)
    assert copy.duplicate_of == first.article_id


def test_prune_ages_out_old_entries_and_their_clusters(index: DedupIndex) -> None:
    index.record(fp(article("https://one.example/a")), NOW)
    index.record(fp(article("https://two.example/b", "Advertisement\n" + TEXT, 1)), NOW)
    recent = index.record(fp(article("https://three.example/c", OTHER)), NOW + timedelta(days=6))
    assert index.prune(NOW + timedelta(days=6)) == 0
    assert index.prune(NOW + timedelta(days=8)) == 2
    assert row_counts(index)["dedup_docs"] == 1
    assert index.size().clusters == 1 and index.size().buckets == CONFIG.lsh_bands
    assert list(index.canonicals()) == [(recent.cluster_id, recent.article_id)]
    back = index.record(fp(article("https://one.example/a")), NOW + timedelta(days=8))
    assert back.kind == "unique" and not back.replay


def test_size_reports_rows_and_bytes(index: DedupIndex) -> None:
    empty = index.size()
    for item in copies():
        index.record(fp(item), NOW)
    size = index.size()
    assert (size.articles, size.clusters, size.buckets) == (5, 2, 5 * CONFIG.lsh_bands)
    assert size.disk_bytes is not None and size.disk_bytes >= (empty.disk_bytes or 0)


def test_survives_a_restart(store_url: str) -> None:
    first = DedupIndex(Database(store_url), CONFIG)
    original = first.record(fp(article("https://one.example/a")), NOW)
    first.db.close()
    reopened = DedupIndex(Database(store_url), CONFIG)
    copy = reopened.record(fp(article("https://two.example/b", "Advertisement\n" + TEXT, 1)), NOW)
    assert copy.duplicate_of == original.article_id


def test_a_new_band_layout_rebuilds_the_buckets(sqlite_url: str) -> None:
    first = DedupIndex(Database(sqlite_url), CONFIG)
    original = first.record(fp(article("https://one.example/a")), NOW)
    other = CONFIG.model_copy(update={"lsh_bands": 32, "lsh_rows": 4})
    rebuilt = DedupIndex(Database(sqlite_url), other)
    assert rebuilt.size().buckets == 32
    copy = rebuilt.record(fp(article("https://two.example/b", "Advert\n" + TEXT, 1), other), NOW)
    assert copy.duplicate_of == original.article_id


def test_another_shingle_size_is_refused(sqlite_url: str) -> None:
    DedupIndex(Database(sqlite_url), CONFIG).record(fp(article("https://one.example/a")), NOW)
    with pytest.raises(ConfigError, match="shingle_size"):
        DedupIndex(Database(sqlite_url), CONFIG.model_copy(update={"shingle_size": 4}))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(range(5)))
def test_any_arrival_order_gives_the_same_clusters_and_canonicals(
    tmp_path_factory: pytest.TempPathFactory, order: list[int]
) -> None:
    items = copies()
    url = f"sqlite:///{tmp_path_factory.mktemp('perm') / 'dedup.db'}"
    index = DedupIndex(Database(url), CONFIG)
    for position in order:
        index.record(fp(items[position]), NOW)
    canonical = dict(index.canonicals())
    members = {c: {m.article_id for m in index.cluster(c)} for c in canonical}
    groups = sorted(sorted(m) for m in members.values())
    assert groups == sorted([sorted(a.id for a in items[:4]), [items[4].id]])
    # the canonical of each cluster is its earliest-published member, whoever came first
    assert sorted(canonical.values()) == sorted([items[1].id, items[4].id])
    for cluster_id, ids in members.items():
        rows = index.cluster(cluster_id)
        assert [r.article_id for r in rows if r.duplicate_of is None] == [canonical[cluster_id]]
        assert all(r.duplicate_of == canonical[cluster_id] for r in rows[1:]) and len(ids) >= 1
    index.db.close()


def test_bucket_keys_of_all_copies_pairwise_overlap() -> None:
    """The fixture itself: every copy shares buckets with every other copy."""
    prints = [fp(a) for a in copies()[:4]]
    for a, b in itertools.combinations(prints, 2):
        assert set(a.bucket_keys) & set(b.bucket_keys)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arrivals=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=12))
def test_redelivered_messages_change_nothing(
    tmp_path_factory: pytest.TempPathFactory, arrivals: list[int]
) -> None:
    """At-least-once delivery: any mix of repeats leaves the index as the first deliveries did."""
    items = copies()
    url = f"sqlite:///{tmp_path_factory.mktemp('redeliver') / 'dedup.db'}"
    index = DedupIndex(Database(url), CONFIG)
    seen: set[int] = set()
    for position in arrivals:
        counts = row_counts(index)
        verdict = index.record(fp(items[position]), NOW)
        if position in seen:
            assert verdict.replay and row_counts(index) == counts
        else:
            assert not verdict.replay
        seen.add(position)
    assert index.count() == len(seen)
    assert index.count("dedup_buckets") == CONFIG.lsh_bands * len(seen)
    index.db.close()


def test_a_verdict_read_that_waited_for_a_re_pointing_sees_its_new_version(
    postgres_url: str,
) -> None:
    """The store reads an article's verdict ``FOR SHARE``; when a re-pointing holds the
    row, the read waits and then sees the row as re-pointed. Its version must be the
    re-pointing's too (a join read the cluster as it was before: version 1)."""
    writer_db, reader_db, observer = (Database(postgres_url) for _ in range(3))
    writer, reader = DedupIndex(writer_db, CONFIG), DedupIndex(reader_db, CONFIG)
    late = writer.record(fp(article("https://one.example/a", hours=5)), NOW)
    seen: list[IndexedVerdict | None] = []
    reader_pid, writer_pid = backend_pid(reader_db), backend_pid(writer_db)  # before the thread
    with writer_db.transaction():
        early = writer.record(fp(article("https://two.example/b", "Related\n" + TEXT, 1)), NOW)
        thread = threading.Thread(target=lambda: seen.append(reader.verdict_of(late.article_id)))
        thread.start()
        waiting = wait_until_blocked(observer, reader_pid, writer_pid)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert "FROM dedup_docs" in waiting and "FOR SHARE" in waiting
    for db in (writer_db, reader_db, observer):
        db.close()
    assert early.generation > late.generation
    assert [(v.duplicate_of, v.generation) for v in seen if v] == [
        (early.article_id, early.generation)
    ]
