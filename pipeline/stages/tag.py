"""Tag stage: an extracted article in, the same article with topics and entities out.

Labels in ``EnrichedArticle.topics`` are taxonomy paths, best first: an IPTC
top-level slug (``politics``, ``conflict-war-peace``) or a slug path for a
sub-topic (``politics/international-relations``); a sub-topic's parent is
always present too. ``topic_tags`` carries the score and evidence of each,
``entities`` the countries, organisations, places and people found::

    stage = TagStage(build_tagger(config.tagging))
    [enriched] = stage.process(article)
    enriched.topics      # ['politics', 'politics/international-relations', ...]
    enriched.entities    # [Entity(name='Iran', type='country'), ...]

An article that already went through (an ``EnrichedArticle``, say on a replay)
is tagged again and keeps its dedup fields.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar

from pipeline.errors import MessageError
from pipeline.models import EnrichedArticle, ExtractedArticle, Message
from pipeline.stages.base import Stage
from pipeline.tagging import Tagger
from pipeline.tagging.metrics import (
    ARTICLES_TAGGED,
    ENTITIES_ASSIGNED,
    TAGGING_SECONDS,
    TAGS_ASSIGNED,
)


class TagStage(Stage):
    name: ClassVar[str] = "tag"
    accepts: ClassVar[tuple[type[Message], ...]] = (ExtractedArticle,)

    def __init__(self, tagger: Tagger) -> None:
        self.tagger = tagger

    def process(self, message: Message) -> Iterable[Message]:
        if not isinstance(message, ExtractedArticle):
            raise MessageError(
                f"the tag stage takes articles, got {type(message).__name__}", reason="wrong_type"
            )
        started = time.perf_counter()
        result = self.tagger.tag(message.text, title=message.title, language=message.language)
        TAGGING_SECONDS.observe(time.perf_counter() - started)
        for tag in result.topics:
            TAGS_ASSIGNED.labels(topic=tag.label).inc()
        for entity in result.entities:
            ENTITIES_ASSIGNED.labels(type=entity.type).inc()
        ARTICLES_TAGGED.labels(outcome="tagged" if result.topics else "untagged").inc()
        fields = dict(message)
        fields.pop("schema_version", None)
        fields.update(topics=result.labels, topic_tags=result.topics, entities=result.entities)
        return [EnrichedArticle(**fields)]
