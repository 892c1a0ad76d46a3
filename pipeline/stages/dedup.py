"""Dedup stage: every article gets a cluster; copies become duplicate events.

Input is the :class:`~pipeline.models.EnrichedArticle` the tag stage produces
(``duplicate_of`` unset). Output, per verdict of the shared index:

- unique or canonical: ``[article]`` with ``cluster_id`` set, followed by one
  :class:`~pipeline.models.DuplicateEvent` per member re-pointed at it (when
  an earlier-published copy arrives after its cluster's canonical);
- duplicate: ``[DuplicateEvent(..., article=article with duplicate_of,
  cluster_id and similarity set)]``.

A known id with changed title or text comes out again with ``revision + 1``;
the same content again yields the same verdict and writes nothing. Usage::

    stage = DedupStage(DedupIndex(db, config.dedup), config.dedup, articles=repo)
    [out] = stage.process(article)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from prometheus_client import Counter, Gauge

from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.dedup.decide import Method, Repointed, Verdict
from pipeline.dedup.fingerprint import Fingerprinter
from pipeline.errors import InputError
from pipeline.models import DuplicateEvent, EnrichedArticle, Message, utcnow
from pipeline.stages.base import Stage

VERDICTS = Counter(
    "newsflow_dedup_verdicts_total",
    "Dedup verdicts: unique, canonical, duplicate, revision, replay.",
    ["verdict"],
)
DUPLICATES = Counter("newsflow_dedup_duplicates_total", "Duplicates found, by method.", ["method"])
REPOINTED = Counter(
    "newsflow_dedup_repointed_total",
    "Members re-pointed at an earlier-published canonical; resolved=no when the stored"
    " article could not be looked up to re-emit it.",
    ["resolved"],
)
INDEX_ARTICLES = Gauge(
    "newsflow_dedup_index_articles",
    "Articles held by the dedup index (refreshed on prune).",
    multiprocess_mode="livemax",
)


class ArticleLookup(Protocol):
    """Where re-pointed members are read back from (``ArticleRepository`` fits)."""

    def get(self, article_id: str) -> EnrichedArticle | None: ...


class DedupStage(Stage):
    name: ClassVar[str] = "dedup"
    accepts: ClassVar[tuple[type[Message], ...]] = (EnrichedArticle,)

    def __init__(
        self,
        index: DedupIndex,
        config: DedupConfig,
        *,
        articles: ArticleLookup | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.index = index
        self.config = config
        self.articles = articles
        self.clock = clock
        self.fingerprinter = Fingerprinter(config)
        self._next_prune: datetime | None = None
        self.refresh_size()

    def process(self, message: Message) -> Iterable[Message]:
        if not isinstance(message, EnrichedArticle):
            raise InputError(
                f"dedup takes enriched articles, got {type(message).__name__}", reason="wrong_type"
            )
        now = self.clock()
        self._prune_when_due(now)
        verdict = self.index.record(self.fingerprinter.of(message), now)
        _count(verdict)
        article = message.with_verdict(
            cluster_id=verdict.cluster_id,
            duplicate_of=verdict.duplicate_of,
            similarity=verdict.similarity if verdict.duplicate_of else None,
            version=verdict.generation,
            revision=verdict.revision,
        )
        if verdict.duplicate_of is not None:
            return [
                duplicate_event(article, verdict.duplicate_of, verdict.method, verdict.similarity)
            ]
        return [article, *self._repointed(article, verdict.repointed)]

    def _repointed(
        self, canonical: EnrichedArticle, members: Iterable[Repointed]
    ) -> list[DuplicateEvent]:
        """Duplicate events for members whose canonical is now ``canonical``."""
        events = []
        for member in members:
            stored = self.articles.get(member.article_id) if self.articles else None
            REPOINTED.labels("yes" if stored else "no").inc()
            if stored is None:
                continue
            events.append(
                repointed_event(
                    stored,
                    cluster_id=canonical.cluster_id,
                    canonical_id=canonical.id,
                    method=member.method,
                    similarity=member.similarity,
                    version=canonical.verdict_version,
                )
            )
        return events

    def _prune_when_due(self, now: datetime) -> None:
        """Age the index out as the stream goes, so every transport bounds it alike."""
        if self._next_prune is not None and now < self._next_prune:
            return
        self.prune(now)
        self._next_prune = now + timedelta(seconds=self.config.prune_interval_seconds)

    def prune(self, now: datetime | None = None) -> int:
        """Age out index entries past the window (the runtime calls this periodically)."""
        removed = self.index.prune(now or self.clock())
        self.refresh_size()
        return removed

    def refresh_size(self) -> None:
        INDEX_ARTICLES.set(self.index.count())


def duplicate_event(
    article: EnrichedArticle, canonical_id: str, method: Method | None, similarity: float | None
) -> DuplicateEvent:
    """The event saying ``article`` copies ``canonical_id`` (the article carries the verdict)."""
    # detected_at is the fetch time, not the wall clock, so a replay emits the same event
    return DuplicateEvent(
        id=article.id,
        url=article.url,
        duplicate_of=canonical_id,
        cluster_id=article.cluster_id or canonical_id,
        similarity=similarity if similarity is not None else 1.0,
        method=method or "near_duplicate",
        verdict_version=article.verdict_version,
        feeds=article.feeds,
        detected_at=article.fetched_at,
        article=article,
    )


def repointed_event(
    article: EnrichedArticle,
    *,
    cluster_id: str | None,
    canonical_id: str,
    method: Method | None,
    similarity: float | None,
    version: int,
) -> DuplicateEvent:
    """``article`` made a copy of ``canonical_id``: the verdict set on it, and its event."""
    copy = article.with_verdict(
        cluster_id=cluster_id, duplicate_of=canonical_id, similarity=similarity, version=version
    )
    return duplicate_event(copy, canonical_id, method, similarity)


def _count(verdict: Verdict) -> None:
    if verdict.replay:
        VERDICTS.labels("replay").inc()
        return
    if verdict.revision > 1:
        VERDICTS.labels("revision").inc()
        return
    VERDICTS.labels(verdict.kind).inc()
    INDEX_ARTICLES.inc()
    if verdict.duplicate_of is not None and verdict.method is not None:
        DUPLICATES.labels(verdict.method).inc()
