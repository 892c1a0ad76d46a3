"""The dedup stage: clusters, duplicate events, re-pointing, revisions, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.errors import InputError
from pipeline.models import DuplicateEvent, EnrichedArticle, FeedEntry, Message, article_id
from pipeline.stages.dedup import DedupStage

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
TEXT, OTHER = (p.read_text(encoding="utf-8") for p in SEEDS)
NOW = datetime(2024, 5, 1, tzinfo=UTC)
CONFIG = DedupConfig()


def article(url: str, text: str = TEXT, hours: float = 0, title: str = "t") -> EnrichedArticle:
    host = url.split("/")[2]
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        text=text,
        published_at=NOW + timedelta(hours=hours),
        source=host,
        fetched_at=NOW,
        feeds=[host],
    )


@pytest.fixture
def db(sqlite_url: str) -> Database:
    return Database(sqlite_url)


@pytest.fixture
def repo(db: Database) -> ArticleRepository:
    return ArticleRepository(db)


@pytest.fixture
def stage(db: Database, repo: ArticleRepository) -> DedupStage:
    return DedupStage(DedupIndex(db, CONFIG), CONFIG, articles=repo, clock=lambda: NOW)


def store(repo: ArticleRepository, outputs: list[Message]) -> list[Message]:
    """What the store stage does with the outputs (so re-pointing can read them back)."""
    for out in outputs:
        if isinstance(out, DuplicateEvent):
            repo.record_duplicate(out)
        else:
            assert isinstance(out, EnrichedArticle)
            repo.upsert(out)
    return outputs


def test_a_unique_article_comes_out_with_its_cluster(stage: DedupStage) -> None:
    original = article("https://one.example/a")
    [out] = stage.process(original)
    assert isinstance(out, EnrichedArticle)
    assert (out.id, out.cluster_id, out.duplicate_of, out.revision) == (
        original.id,
        original.id,
        None,
        1,
    )


def test_a_copy_comes_out_as_a_duplicate_event(stage: DedupStage) -> None:
    original = article("https://one.example/a")
    stage.process(original)
    copy = article("https://two.example/b", "Advertisement\n" + TEXT, hours=1)
    [event] = stage.process(copy)
    assert isinstance(event, DuplicateEvent)
    assert (event.id, event.duplicate_of, event.cluster_id) == (copy.id, original.id, original.id)
    assert event.method == "near_duplicate" and event.similarity >= CONFIG.near_duplicate_threshold
    assert event.feeds == ["two.example"]
    assert event.article.duplicate_of == original.id
    assert event.article.similarity == event.similarity
    assert stage.process(copy) == [event]  # replayed: the very same event


def test_url_variant_is_a_url_duplicate(stage: DedupStage) -> None:
    stage.process(article("https://one.example/news/a"))
    [event] = stage.process(article("https://m.one.example/news/a/amp?utm_source=x", hours=1))
    assert isinstance(event, DuplicateEvent) and event.method == "url"


def test_earlier_published_copy_takes_over_and_members_are_re_pointed(
    stage: DedupStage, repo: ArticleRepository
) -> None:
    late = article("https://one.example/a", hours=5)
    [first] = store(repo, list(stage.process(late)))
    assert isinstance(first, EnrichedArticle) and first.verdict_version == 1
    early = article("https://two.example/b", "Related: more\n" + TEXT, hours=1)
    out = store(repo, list(stage.process(early)))
    assert isinstance(out[0], EnrichedArticle) and out[0].duplicate_of is None
    assert out[0].verdict_version == 2
    [repointed] = out[1:]
    assert isinstance(repointed, DuplicateEvent)
    assert (repointed.id, repointed.duplicate_of, repointed.cluster_id) == (
        late.id,
        early.id,
        late.id,
    )
    assert repointed.verdict_version == repointed.article.verdict_version == 2
    stored_late = repo.get(late.id)
    assert stored_late is not None and stored_late.verdict_version == 2
    cluster = repo.cluster(late.id)
    assert [a.id for a in cluster if a.duplicate_of is None] == [early.id]
    assert sorted(a.id for a in cluster) == sorted([early.id, late.id])


def test_re_pointing_without_a_store_is_counted_not_emitted(db: Database) -> None:
    stage = DedupStage(DedupIndex(db, CONFIG), CONFIG)
    stage.process(article("https://one.example/a", hours=5))
    out = list(stage.process(article("https://two.example/b", "Related\n" + TEXT, hours=1)))
    assert len(out) == 1 and isinstance(out[0], EnrichedArticle)


def test_a_changed_article_is_a_revision_with_the_same_id(stage: DedupStage) -> None:
    original = article("https://one.example/a")
    stage.process(original)
    [update] = stage.process(article("https://one.example/a", title="Corrected headline"))
    assert isinstance(update, EnrichedArticle)
    assert (update.id, update.revision, update.cluster_id) == (original.id, 2, original.id)
    [again] = stage.process(article("https://one.example/a", title="Corrected headline"))
    assert again == update


def test_other_messages_are_refused_with_a_typed_error(stage: DedupStage) -> None:
    entry = FeedEntry(feed="f", feed_kind="rss", url="https://one.example/a")
    with pytest.raises(InputError, match="enriched"):
        stage.process(entry)


def test_prune_empties_the_window(stage: DedupStage) -> None:
    stage.process(article("https://one.example/a"))
    stage.process(article("https://two.example/b", OTHER))
    assert stage.prune(NOW + timedelta(days=CONFIG.window_days + 1)) == 2
    assert stage.index.count() == 0


def test_the_stage_ages_the_index_out_as_the_stream_goes(db: Database) -> None:
    clock = [NOW]
    stage = DedupStage(DedupIndex(db, CONFIG), CONFIG, clock=lambda: clock[0])
    stage.process(article("https://one.example/a"))
    clock[0] = NOW + timedelta(days=CONFIG.window_days + 1)
    stage.process(article("https://two.example/b", OTHER))
    assert stage.index.count() == 1  # the old article went; the new one stays
