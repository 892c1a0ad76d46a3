"""Store stage: enriched articles and duplicate events in, rows out.

The repository's upsert is idempotent, so a message redelivered after a crash
or replayed from a topic changes nothing.

A message carries the dedup verdict of its moment, and messages of different
topics (``enriched``, ``duplicates``) reach the store in no fixed order. So
when the dedup index is at hand, each article is stored under the verdict the
index holds now: an article re-pointed at an earlier-published copy before
its own message was stored becomes the duplicate it is, instead of a second
canonical of its cluster. The corrected message is the stage's only output:
readers of ``news.duplicates`` learn of the re-pointing that the dedup stage
could not announce (the article was not stored yet). It comes back to the
store, which finds nothing to change. It carries the index's
``verdict_version``, not a new one: published after the store's transaction,
it may reach the topic after a newer verdict, and readers keep the highest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from prometheus_client import Counter

from connectors.storage.articles import ArticleRepository, UpsertResult
from connectors.storage.dedup_index import IndexedVerdict
from pipeline.models import DuplicateEvent, EnrichedArticle, Message
from pipeline.stages.base import Stage
from pipeline.stages.dedup import repointed_event

STORED = Counter(
    "newsflow_store_writes_total",
    "Article writes by result (inserted, updated, unchanged) and kind (article, duplicate).",
    ["result", "kind"],
)
CORRECTED = Counter(
    "newsflow_store_verdicts_corrected_total",
    "Articles stored under a newer dedup verdict than their message carried, by what they became.",
    ["became"],
)


class VerdictLookup(Protocol):
    """Where the store reads an article's present dedup verdict (``DedupIndex`` fits)."""

    def verdict_of(self, article_id: str) -> IndexedVerdict | None: ...


@dataclass(frozen=True)
class StoreWrite:
    """What the store did with one message: the message as stored (under the verdict the
    index holds now) and whether its row was inserted, updated or left unchanged."""

    message: DuplicateEvent | EnrichedArticle
    result: UpsertResult

    @property
    def changed(self) -> bool:
        """False for a replay or a page fetched again unchanged: nothing new was stored."""
        return self.result != "unchanged"


class StoreStage(Stage):
    name: ClassVar[str] = "store"
    accepts: ClassVar[tuple[type[Message], ...]] = (EnrichedArticle, DuplicateEvent)

    def __init__(self, articles: ArticleRepository, verdicts: VerdictLookup | None = None) -> None:
        self.articles = articles
        self.verdicts = verdicts
        self._last_write: StoreWrite | None = None

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, (DuplicateEvent, EnrichedArticle))
        self._last_write = None
        with self.articles.db.transaction():
            present = self._with_present_verdict(message)
            if isinstance(present, DuplicateEvent):
                result = self.articles.record_duplicate(present)
                STORED.labels(result, "duplicate").inc()
            else:
                result = self.articles.upsert(present)
                STORED.labels(result, "article").inc()
        self._last_write = StoreWrite(present, result)
        return [] if present is message else [present]

    def take_write(self) -> StoreWrite | None:
        """The write of the message processed last, once (None after a failure).

        The stage's output is the corrected verdict only, so this is how a runtime
        learns, right after running the stage, whether anything changed: the run
        summary counts stored articles by it. Taking it clears it, so a message the
        stage never saw is not credited with an earlier one's write.
        """
        write, self._last_write = self._last_write, None
        return write

    def _with_present_verdict(
        self, message: DuplicateEvent | EnrichedArticle
    ) -> DuplicateEvent | EnrichedArticle:
        """The message as the index's present verdict has it (itself when they agree)."""
        present = self.verdicts.verdict_of(message.id) if self.verdicts else None
        carried = message.duplicate_of if isinstance(message, DuplicateEvent) else None
        if present is None or present.duplicate_of == carried:
            return message
        article = message.article if isinstance(message, DuplicateEvent) else message
        if present.duplicate_of is None:
            CORRECTED.labels("canonical").inc()
            return article.with_verdict(
                cluster_id=present.cluster_id,
                duplicate_of=None,
                similarity=None,
                version=present.generation,
            )
        CORRECTED.labels("duplicate").inc()
        return repointed_event(
            article,
            cluster_id=present.cluster_id,
            canonical_id=present.duplicate_of,
            method=present.method,
            similarity=present.similarity,
            version=present.generation,
        )


def changed_by_store(stages: Sequence[Stage]) -> DuplicateEvent | EnrichedArticle | None:
    """The message as stored, when the store stage among ``stages`` just changed the store
    with it; None for a replay, an unchanged page, a failure, or no store stage.

    Call it right after running ``stages`` on one message, in the same thread.
    """
    for stage in stages:
        if isinstance(stage, StoreStage):
            write = stage.take_write()
            if write is not None and write.changed:
                return write.message
    return None
