"""ArticleRepository on both engines: idempotence, revisions, duplicates, clusters."""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from lock_waits import backend_pid, wait_until_blocked
from storage_samples import apply, duplicate_event, make_article, pipeline_input

from connectors.storage import Store, open_store
from connectors.storage import articles as articles_module
from connectors.storage.feed_state import Validators
from pipeline.errors import StorageError
from pipeline.models import DuplicateEvent, EnrichedArticle


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def snapshot(store: Store) -> dict[str, Any]:
    """Every row the article store keeps, including write timestamps."""
    tables = {
        "articles": "SELECT id, revision, content_hash, feeds, data, stored_at, updated_at"
        " FROM articles ORDER BY id",
        "article_revisions": "SELECT * FROM article_revisions ORDER BY article_id, revision",
        "article_topics": "SELECT * FROM article_topics ORDER BY article_id, topic_key",
        "article_entities": "SELECT * FROM article_entities ORDER BY article_id, name_key, type",
    }
    return {name: store.db.execute(sql) for name, sql in tables.items()}


def test_same_article_twice_is_one_row_and_no_change(store: Store) -> None:
    article = make_article("a", "Some text.", topics=("sport",))
    assert store.articles.upsert(article) == "inserted"
    before = snapshot(store)
    assert store.articles.upsert(article) == "unchanged"
    # a redelivery fetched later through the same feed is the same content
    later = article.model_copy(update={"fetched_at": article.fetched_at.replace(year=2025)})
    assert store.articles.upsert(later) == "unchanged"
    assert snapshot(store) == before
    assert store.articles.count() == 1
    assert store.articles.get(article.id) == article


def test_running_the_same_input_twice_changes_nothing(store: Store) -> None:
    messages = pipeline_input()
    first = apply(store.articles, messages)
    assert "inserted" in first
    before = snapshot(store)
    second = apply(store.articles, messages)
    assert set(second) == {"unchanged"}
    assert snapshot(store) == before


def test_a_batch_is_stored_whole_or_not_at_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [make_article(f"batch-{n}", f"Text {n}.") for n in range(3)]
    assert store.articles.upsert_many(good) == ["inserted"] * 3
    write_tags = store.articles._write_tags

    def failing(article: EnrichedArticle, **kwargs: bool) -> None:
        if article.text == "Fails.":
            raise StorageError("disk full (injected)")
        write_tags(article, **kwargs)

    monkeypatch.setattr(store.articles, "_write_tags", failing)
    with pytest.raises(StorageError, match="disk full"):
        store.articles.upsert_many([make_article("batch-new", "New."), make_article("x", "Fails.")])
    assert store.articles.count() == 3
    assert store.articles.upsert_many(good) == ["unchanged"] * 3


def test_a_lone_surrogate_is_stored_as_a_replacement_character(store: Store) -> None:
    """It could not be serialised, and the article was a dead letter."""
    article = make_article("odd", "lone surrogate \ud800 here")
    assert store.articles.upsert(article) == "inserted"
    stored = store.articles.get(article.id)
    assert stored is not None and stored.text == "lone surrogate \ufffd here"
    assert store.articles.upsert(article) == "unchanged"


def test_new_content_is_a_new_revision_and_old_ones_are_kept(store: Store) -> None:
    v1 = make_article("rev", "First version.", title="Title one")
    v2 = v1.model_copy(update={"text": "Second version.", "title": "Title two"})
    assert store.articles.upsert(v1) == "inserted"
    assert store.articles.upsert(v2) == "updated"
    revisions = store.articles.revisions(v1.id)
    assert [(r.revision, r.title, r.text) for r in revisions] == [
        (1, "Title one", "First version."),
        (2, "Title two", "Second version."),
    ]
    current = store.articles.get(v1.id)
    assert current is not None and current.text == "Second version." and current.revision == 2
    # replaying an older revision is not news: the current revision stays
    assert store.articles.upsert(v1) == "unchanged"
    assert store.articles.get(v1.id) == current
    assert len(store.articles.revisions(v1.id)) == 2


LAST_MODIFIED = "Wed, 01 May 2024 08:00:00 GMT"


def test_the_validators_of_an_articles_page_follow_its_last_fetch(store: Store) -> None:
    """What an update's conditional fetch sends: the ETag and Last-Modified the page at the
    article's ``url`` was last served with. A new ETag on the same text is no change
    (no revision, nothing counted as stored) but is kept; a message that carries none
    (a copy read back from the store, a WARC page) keeps them."""
    served = make_article("etag", "Story.", page_etag='"v1"', page_last_modified=LAST_MODIFIED)
    bare = make_article("bare", "Served without validators.")
    long = make_article("x" * 6000, "At a URL too long for an index entry.", page_etag='"L"')
    assert [store.articles.upsert(a) for a in (served, bare, long)] == ["inserted"] * 3
    assert store.articles.page_validators(
        [served.url, bare.url, long.url, "https://news.example/x"]
    ) == {served.url: Validators('"v1"', LAST_MODIFIED), long.url: Validators('"L"')}

    new_etag = served.model_copy(update={"page_etag": '"v2"', "page_last_modified": None})
    assert store.articles.upsert(new_etag) == "unchanged"
    changed = served.model_copy(update={"text": "Story, corrected.", "page_etag": '"v3"'})
    assert store.articles.page_validators([served.url]) == {served.url: Validators('"v2"')}
    assert store.articles.upsert(changed) == "updated"
    read_back = store.articles.get(served.id)
    assert read_back is not None and read_back.page_etag is None  # not in the article's JSON
    store.articles.upsert(read_back.model_copy(update={"feeds": ["other"]}))

    assert store.articles.page_validators([served.url]) == {
        served.url: Validators('"v3"', LAST_MODIFIED)
    }
    assert [r.revision for r in store.articles.revisions(served.id)] == [1, 2]

    elsewhere = changed.model_copy(update={"url": served.url + "/amp", "page_etag": '"amp"'})
    store.articles.upsert(elsewhere)  # the same article, fetched from another of its pages
    assert store.articles.page_validators([served.url, elsewhere.url]) == {
        elsewhere.url: Validators('"amp"', LAST_MODIFIED)
    }


def test_a_redirected_pages_validators_are_found_by_the_url_the_feed_listed(
    store: Store,
) -> None:
    """An update requests the URL its feed listed; a redirect led from there to the page
    the validators came from, so they are found by either. A feed linking the page
    itself keeps the redirect known; a fetch from another page forgets it."""
    listed = "https://news.example/r/7"
    served = make_article("landed", "Story.", page_etag='"v1"', listed_url=listed)
    assert store.articles.upsert(served) == "inserted"
    assert store.articles.page_validators([listed, served.url, "https://news.example/r/8"]) == {
        listed: Validators('"v1"'),
        served.url: Validators('"v1"'),
    }

    direct = served.model_copy(update={"page_etag": '"v2"', "listed_url": None})
    assert store.articles.upsert(direct) == "unchanged"
    assert store.articles.page_validators([listed]) == {listed: Validators('"v2"')}

    elsewhere = direct.model_copy(update={"url": served.url + "/amp", "page_etag": '"amp"'})
    store.articles.upsert(elsewhere)
    assert store.articles.page_validators([listed, elsewhere.url]) == {
        elsewhere.url: Validators('"amp"')
    }
    read_back = store.articles.get(served.id)
    assert read_back is not None and read_back.listed_url is None  # not in the article's JSON


def test_a_replayed_older_fetch_does_not_put_back_older_validators(store: Store) -> None:
    """Validators are replaced by a later fetch only (the message's ``fetched_at``): a
    replayed or redelivered message fetched before them, with the page's older ETag,
    whether its text is the stored one or an older revision, leaves them as they are."""
    v1 = make_article("replayed", "First.", page_etag='"v1"', page_last_modified=LAST_MODIFIED)
    later = v1.fetched_at + timedelta(hours=1)
    v2 = v1.model_copy(
        update={"text": "Second.", "page_etag": '"v2"', "page_last_modified": None,
                "fetched_at": later}
    )  # fmt: skip
    assert [store.articles.upsert(a) for a in (v1, v2)] == ["inserted", "updated"]
    same_text_earlier = v2.model_copy(update={"page_etag": '"v1"', "fetched_at": v1.fetched_at})
    for replay in (v1, same_text_earlier):
        store.articles.upsert(replay)
        assert store.articles.page_validators([v1.url]) == {v1.url: Validators('"v2"')}

    latest = v2.model_copy(update={"page_etag": '"v3"', "fetched_at": later + timedelta(hours=1)})
    assert store.articles.upsert(latest) == "unchanged"
    assert store.articles.page_validators([v1.url]) == {v1.url: Validators('"v3"')}


def test_an_upstream_revision_number_is_kept_when_higher(store: Store) -> None:
    v1 = make_article("numbered", "One.")
    store.articles.upsert(v1)
    store.articles.upsert(v1.model_copy(update={"text": "Five.", "revision": 5}))
    assert [r.revision for r in store.articles.revisions(v1.id)] == [1, 5]


def test_new_feeds_are_merged_without_a_new_revision(store: Store) -> None:
    article = make_article("feeds", "Text.", feeds=("a",))
    store.articles.upsert(article)
    assert store.articles.upsert(article.model_copy(update={"feeds": ["b"]})) == "updated"
    stored = store.articles.get(article.id)
    assert stored is not None and stored.feeds == ["a", "b"]
    assert len(store.articles.revisions(article.id)) == 1


def test_a_new_verdict_updates_the_article_under_its_revision(store: Store) -> None:
    """An article re-pointed at an earlier-published copy says what it said: its verdict
    changes in place, and no revision is added (it made a revision 2 before)."""
    article = make_article("later", "Shared story.", hours=2)
    earlier = make_article("earlier", "Shared story.", hours=1)
    store.articles.upsert(article.model_copy(update={"cluster_id": f"cluster-{earlier.id}"}))
    assert store.articles.record_duplicate(duplicate_event(article, earlier)) == "updated"
    stored = store.articles.get(article.id)
    assert stored is not None
    assert (stored.duplicate_of, stored.similarity, stored.revision) == (earlier.id, 0.93, 1)
    assert [r.revision for r in store.articles.revisions(article.id)] == [1]
    assert [a.id for a in store.articles.duplicates(earlier.id)] == [article.id]


def test_new_tags_update_the_article_under_its_revision(store: Store) -> None:
    article = make_article("tagged", "Text.", topics=("sport",))
    store.articles.upsert(article)
    assert store.articles.upsert(article.model_copy(update={"topics": ["Politics"]})) == "updated"
    stored = store.articles.get(article.id)
    assert stored is not None and (stored.topics, stored.revision) == (["Politics"], 1)
    assert store.db.execute("SELECT topic FROM article_topics") == [("Politics",)]
    assert [r.revision for r in store.articles.revisions(article.id)] == [1]


def test_the_same_page_extracted_into_another_text_keeps_the_stored_text(store: Store) -> None:
    """A page extracted again after the learned boilerplate moved: same ``page_hash``,
    shorter text. The stored text stands; the message's feeds and verdict are taken."""
    first = make_article("page", "Story.\nOur template line.", page_hash="page-1")
    again = first.model_copy(update={"text": "Story.", "feeds": ["second"]})
    store.articles.upsert(first)
    assert store.articles.upsert(again) == "updated"
    assert store.articles.upsert(again) == "unchanged"
    repointed = again.model_copy(update={"duplicate_of": "e" * 20, "cluster_id": "c-1"})
    assert store.articles.upsert(repointed) == "updated"
    stored = store.articles.get(first.id)
    assert stored is not None
    assert (stored.text, stored.feeds, stored.revision) == (first.text, ["second", "wire"], 1)
    assert (stored.duplicate_of, stored.cluster_id) == ("e" * 20, "c-1")
    assert [r.revision for r in store.articles.revisions(first.id)] == [1]
    changed = repointed.model_copy(update={"text": "Story, corrected.", "page_hash": "page-2"})
    assert store.articles.upsert(changed) == "updated"
    assert [r.page_hash for r in store.articles.revisions(first.id)] == ["page-1", "page-2"]
    # the page changed around the article (a sidebar) but its text did not: nothing to write
    before = snapshot(store)
    assert store.articles.upsert(changed.model_copy(update={"page_hash": "page-3"})) == "unchanged"
    assert snapshot(store) == before


@pytest.mark.parametrize("canonical_first", [True, False])
def test_duplicates_are_credited_to_the_canonical_articles_feeds(
    store: Store, canonical_first: bool
) -> None:
    canonical = make_article("orig", "Shared story.", feeds=("wire",))
    copy = make_article("copy", "Shared story.", feeds=("aggregator",))
    event = duplicate_event(copy, canonical)
    steps: list[EnrichedArticle | DuplicateEvent] = (
        [canonical, event] if canonical_first else [event, canonical]
    )
    apply(store.articles, list(steps))

    stored = store.articles.get(canonical.id)
    assert stored is not None and stored.feeds == ["aggregator", "wire"]
    duplicate = store.articles.get(copy.id)
    assert duplicate is not None
    assert (duplicate.duplicate_of, duplicate.cluster_id) == (canonical.id, event.cluster_id)
    assert [a.id for a in store.articles.duplicates(canonical.id)] == [copy.id]
    assert store.articles.count(duplicates=True) == 1
    assert store.articles.count(duplicates=False) == 1


def test_clusters_are_listed_and_readable(store: Store) -> None:
    apply(store.articles, pipeline_input())
    canonical_id = make_article("iran-russia", "x").id
    # the canonical article itself carries no cluster id in the sample: two duplicates do
    [summary] = store.articles.clusters(min_size=2)
    assert (summary.cluster_id, summary.size) == (f"cluster-{canonical_id}", 2)
    assert summary.canonical_id == canonical_id
    assert store.articles.clusters(min_size=3) == []
    members = store.articles.cluster(summary.cluster_id)
    slugs = [m.url.rsplit("/", 1)[1] for m in members]
    assert slugs == ["iran-russia-copy-a", "iran-russia-copy-b"]
    assert {m.duplicate_of for m in members} == {canonical_id}


def test_iter_all_pages_through_every_article_in_id_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(articles_module, "_PAGE", 3)
    for n in range(10):
        store.articles.upsert(make_article(f"page-{n}", f"Text {n}."))
    ids = [a.id for a in store.articles.iter_all()]
    assert ids == sorted(ids) and len(ids) == 10


def test_hostile_text_is_stored_verbatim(store: Store) -> None:
    messages = pipeline_input()
    apply(store.articles, messages)
    latest = {m.id: m for m in messages if isinstance(m, EnrichedArticle)}
    hostile = [m for m in latest.values() if "hostile" in m.url or "controls" in m.url]
    assert len(hostile) == 8
    for message in hostile:
        stored = store.articles.get(message.id)
        assert stored is not None
        assert (stored.title, stored.text) == (message.title, message.text)
    tables = {r[0] for r in store.db.execute(_TABLE_NAMES[store.db.dialect])}
    assert {"articles", "article_revisions", "article_topics", "article_entities"} <= tables


_TABLE_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
}


def test_two_writers_of_one_article_both_credit_their_feeds(postgres_url: str) -> None:
    """A store worker and a zombie of a rebalance writing one article at once (PostgreSQL
    lets them): the second waits for the first's row and merges into it, so neither
    feed is lost (the second overwrote the first's feeds before)."""
    article = make_article("contended", "Text.", feeds=("a",))
    first, second, observer = (open_store(postgres_url) for _ in range(3))
    first.articles.upsert(article)
    first_pid, second_pid = backend_pid(first.db), backend_pid(second.db)  # before the thread
    with first.db.transaction():
        first.articles.upsert(article.model_copy(update={"feeds": ["b"]}))
        writer = threading.Thread(
            target=second.articles.upsert, args=(article.model_copy(update={"feeds": ["c"]}),)
        )
        writer.start()
        waiting = wait_until_blocked(observer.db, second_pid, first_pid)
    writer.join(timeout=10)
    stored = observer.articles.get(article.id)
    for store in (first, second, observer):
        store.close()
    assert not writer.is_alive()
    assert "FROM articles" in waiting and "FOR UPDATE" in waiting  # the read waited, not a write
    assert stored is not None and stored.feeds == ["a", "b", "c"]


def test_an_entity_with_a_4500_character_name_is_stored(store: Store) -> None:
    """Its lookup key passed PostgreSQL's index entry limit: the article was a dead letter."""
    name = "".join(random.Random(4).choices(string.ascii_letters, k=4500))  # not compressible
    article = make_article("long-entity", "Text.", entities=((name, "organization"),))

    assert store.articles.upsert(article) == "inserted"
    stored = store.articles.get(article.id)
    assert stored is not None and stored.entities[0].name == name
