"""Store stage: articles and duplicates in, rows out; replays change nothing."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY
from test_dedup_stage import NOW, TEXT
from test_dedup_stage import article as dedup_article

from connectors.storage.dedup_index import DedupIndex, IndexedVerdict
from connectors.storage.store import open_store
from pipeline.config import DedupConfig
from pipeline.models import DuplicateEvent, EnrichedArticle, article_id, utcnow
from pipeline.stages.dedup import DedupStage
from pipeline.stages.store import StoreStage, changed_by_store


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def article(url: str, feed: str, text: str = "Body text of the story.") -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        text=text,
        source="a.example",
        feeds=[feed],
        fetched_at=utcnow(),
        cluster_id=article_id(url),
    )


def test_the_stage_tells_what_its_last_write_changed_once(tmp_path: Path) -> None:
    """The run summary counts only writes that changed the store: a replay does not."""
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        stage = StoreStage(store.articles)
        original = article("http://a.example/1", "wire")
        stage.process(original)
        assert changed_by_store([stage]) == original
        assert stage.take_write() is None  # taken: not credited to a message it never saw
        stage.process(original)
        write = stage.take_write()
        assert write is not None and (write.result, write.changed) == ("unchanged", False)
        stage.process(original.model_copy(update={"text": "Corrected body text."}))
        assert changed_by_store([stage]) is not None


def test_store_is_idempotent_and_credits_duplicate_feeds(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        stage = StoreStage(store.articles)
        original = article("http://a.example/1", "wire")
        copy = article("http://b.example/1", "other").model_copy(
            update={"duplicate_of": original.id, "cluster_id": original.cluster_id}
        )
        event = DuplicateEvent(
            id=copy.id,
            url=copy.url,
            duplicate_of=original.id,
            cluster_id=original.id,
            similarity=0.92,
            method="near_duplicate",
            feeds=["other"],
            article=copy,
        )
        for _ in range(2):  # a replay of the same messages
            assert list(stage.process(original)) == []
            assert list(stage.process(event)) == []
        assert store.articles.count(duplicates=False) == 1
        assert store.articles.count(duplicates=True) == 1
        stored = store.articles.get(original.id)
        assert stored is not None
        assert stored.feeds == ["other", "wire"]
        duplicate = store.articles.get(copy.id)
        assert duplicate is not None
        assert duplicate.duplicate_of == original.id


def test_a_member_re_pointed_before_it_was_stored_is_stored_as_a_duplicate(
    tmp_path: Path,
) -> None:
    """The late copy's own message reaches the store after the earlier copy took over
    (the dedup stage could not re-emit it, not being stored yet): the store follows the
    index, so the cluster has one canonical, not two."""
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        index = DedupIndex(store.db, DedupConfig())
        dedup = DedupStage(index, DedupConfig(), articles=store.articles, clock=lambda: NOW)
        stage = StoreStage(store.articles, index)
        late = dedup_article("https://one.example/a", hours=5)
        early = dedup_article("https://two.example/b", "Related: more\n" + TEXT, hours=1)
        [late_out] = dedup.process(late)
        [early_out] = dedup.process(early)  # re-points `late`, which is not stored yet
        assert isinstance(late_out, EnrichedArticle) and late_out.verdict_version == 1
        before = metric("newsflow_store_verdicts_corrected_total", became="duplicate")
        assert list(stage.process(early_out)) == []
        [announced] = stage.process(late_out)
        assert isinstance(announced, DuplicateEvent)
        assert (announced.id, announced.duplicate_of, announced.cluster_id) == (
            late.id,
            early.id,
            late.id,
        )
        assert announced.verdict_version == 2  # the index's, so readers rank it right
        assert list(stage.process(announced)) == []  # read back from the topic: nothing to do
        stored = store.articles.get(late.id)
        assert stored is not None and stored.duplicate_of == early.id
        assert stored.cluster_id == late.id  # the cluster keeps its founder's id
        assert [a.id for a in store.articles.cluster(late.id) if a.duplicate_of is None] == [
            early.id
        ]
        assert metric("newsflow_store_verdicts_corrected_total", became="duplicate") == before + 1


def test_without_the_index_or_when_it_agrees_the_message_is_stored_as_it_is(
    tmp_path: Path,
) -> None:
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        index = DedupIndex(store.db, DedupConfig())
        dedup = DedupStage(index, DedupConfig(), articles=store.articles, clock=lambda: NOW)
        [message] = dedup.process(dedup_article("https://one.example/a"))
        assert isinstance(message, EnrichedArticle)
        assert list(StoreStage(store.articles, index).process(message)) == []
        unindexed = article("http://c.example/1", "wire")
        assert list(StoreStage(store.articles, index).process(unindexed)) == []
        assert store.articles.get(message.id) == message
        stored = store.articles.get(unindexed.id)
        assert stored is not None and stored.duplicate_of is None


class Verdicts:
    """A dedup index that holds one fixed verdict for every article."""

    def __init__(self, verdict: IndexedVerdict) -> None:
        self.verdict = verdict

    def verdict_of(self, article_id: str) -> IndexedVerdict | None:
        return self.verdict


def test_a_stale_duplicate_event_of_an_article_the_index_holds_canonical(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        copy = article("http://b.example/1", "other")
        event = DuplicateEvent(
            id=copy.id,
            url=copy.url,
            duplicate_of="gone",
            cluster_id="c1",
            similarity=0.9,
            method="near_duplicate",
            feeds=["other"],
            article=copy.model_copy(update={"duplicate_of": "gone", "cluster_id": "c1"}),
        )
        present = IndexedVerdict("c1", None, None, None, generation=4)
        stage = StoreStage(store.articles, Verdicts(present))
        before = metric("newsflow_store_verdicts_corrected_total", became="canonical")
        [published] = stage.process(event)
        assert isinstance(published, EnrichedArticle)
        assert (published.id, published.duplicate_of, published.cluster_id) == (copy.id, None, "c1")
        assert published.verdict_version == 4
        stored = store.articles.get(copy.id)
        assert stored is not None and stored.duplicate_of is None and stored.cluster_id == "c1"
        assert metric("newsflow_store_verdicts_corrected_total", became="canonical") == before + 1
