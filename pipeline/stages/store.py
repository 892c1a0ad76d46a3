"""Store stage: enriched articles and duplicate events in, rows out (no messages).

The repository's upsert is idempotent, so a message redelivered after a crash
or replayed from a topic changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from prometheus_client import Counter

from connectors.storage.articles import ArticleRepository
from pipeline.models import DuplicateEvent, EnrichedArticle, Message
from pipeline.stages.base import Stage

STORED = Counter(
    "newsflow_store_writes_total",
    "Article writes by result (inserted, updated, unchanged) and kind (article, duplicate).",
    ["result", "kind"],
)


class StoreStage(Stage):
    name: ClassVar[str] = "store"
    accepts: ClassVar[tuple[type[Message], ...]] = (EnrichedArticle, DuplicateEvent)

    def __init__(self, articles: ArticleRepository) -> None:
        self.articles = articles

    def process(self, message: Message) -> Iterable[Message]:
        if isinstance(message, DuplicateEvent):
            STORED.labels(self.articles.record_duplicate(message), "duplicate").inc()
        else:
            assert isinstance(message, EnrichedArticle)
            STORED.labels(self.articles.upsert(message), "article").inc()
        return []
