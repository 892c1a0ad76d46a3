"""Store stage: articles and duplicates in, rows out; replays change nothing."""

from __future__ import annotations

from pathlib import Path

from connectors.storage.store import open_store
from pipeline.models import DuplicateEvent, EnrichedArticle, article_id, utcnow
from pipeline.stages.store import StoreStage


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
