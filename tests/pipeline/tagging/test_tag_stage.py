"""The tag stage: ExtractedArticle in, EnrichedArticle with topics, tags and entities out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from pipeline.errors import MessageError
from pipeline.models import EnrichedArticle, ExtractedArticle, FeedEntry, TopicTag
from pipeline.stages.base import run_chain
from pipeline.stages.tag import TagStage
from pipeline.tagging import KeywordTagger, TagResult


def article(text: str, title: str = "", language: str | None = "en") -> ExtractedArticle:
    return ExtractedArticle(
        id="a1",
        url="https://example.org/a",
        canonical_url="https://example.org/a",
        title=title,
        text=text,
        language=language,
        source="example.org",
        fetched_at=datetime(2024, 5, 1, tzinfo=UTC),
        feeds=["demo"],
    )


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_article_comes_out_enriched_with_labels_tags_and_entities(tagger: KeywordTagger) -> None:
    before = counter("newsflow_tags_assigned_total", topic="sport")
    source = article("The striker scored as the team won the cup final in Madrid.", "Cup final")
    [out] = TagStage(tagger).process(source)
    assert isinstance(out, EnrichedArticle)
    assert out.topics[0] == "sport"
    assert out.topic_tags[0].label == "sport" and "striker" in out.topic_tags[0].evidence
    assert [e.name for e in out.entities] == ["Spain"]
    assert out.model_dump(include={"id", "text", "feeds", "title"}) == source.model_dump(
        include={"id", "text", "feeds", "title"}
    )
    assert counter("newsflow_tags_assigned_total", topic="sport") == before + 1


def test_untagged_article_is_counted_and_passes_through(tagger: KeywordTagger) -> None:
    before = counter("newsflow_articles_tagged_total", outcome="untagged")
    [out] = TagStage(tagger).process(article("Nothing to see here."))
    assert isinstance(out, EnrichedArticle)
    assert out.topics == [] and out.entities == []
    assert counter("newsflow_articles_tagged_total", outcome="untagged") == before + 1


def test_an_enriched_article_is_tagged_again_and_keeps_its_dedup_fields(
    tagger: KeywordTagger,
) -> None:
    [first] = TagStage(tagger).process(article("Floods and a landslide hit the valley."))
    assert isinstance(first, EnrichedArticle)
    clustered = first.model_copy(update={"cluster_id": "c9", "revision": 3, "topics": ["x"]})
    [again] = TagStage(tagger).process(clustered)
    assert isinstance(again, EnrichedArticle)
    assert (again.cluster_id, again.revision) == ("c9", 3)
    assert again.topics == first.topics


def test_a_message_of_another_kind_is_a_typed_error(tagger: KeywordTagger) -> None:
    entry = FeedEntry(feed="f", feed_kind="rss", url="https://example.org/a")
    with pytest.raises(MessageError, match="takes articles"):
        list(TagStage(tagger).process(entry))


def test_the_stage_passes_language_and_title_to_any_tagger() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str | None, str | None]] = []

        def tag(
            self, text: str, *, title: str | None = None, language: str | None = None
        ) -> TagResult:
            self.calls.append((text, title, language))
            return TagResult(topics=[TopicTag(label="weather", score=3.0, evidence=["snow"])])

    recorder = Recorder()
    [out] = run_chain([TagStage(recorder)], article("Schnee.", "Winter", language="de"))
    assert recorder.calls == [("Schnee.", "Winter", "de")]
    assert isinstance(out, EnrichedArticle) and out.topics == ["weather"]
