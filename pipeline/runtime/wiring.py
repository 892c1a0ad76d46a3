"""Building stages from the configuration: the one place that knows constructors.

A process opens its :class:`Resources` once (store connection, fetcher,
compiled rules and taxonomy) and builds the stages it runs from them, so each
stage receives its dependencies instead of reading globals. Everything is
opened lazily: a fetch-only Kafka worker never opens the taxonomy, an extract
process never opens an HTTP pool.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from connectors.http.base import Fetcher
from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Access, Database, sqlite_path
from connectors.storage.dead_letters import DeadLetterRepository
from connectors.storage.feed_state import FeedStateRepository
from connectors.storage.store import Store, open_store
from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.stages.base import Stage
from pipeline.stages.fetch import FetchStage
from pipeline.stages.store import StoreStage

if TYPE_CHECKING:
    from connectors.storage.dedup_index import DedupIndex
    from connectors.storage.residue_stats import ResidueStatsRepository
    from pipeline.extraction.learned import DeferredLines


class Resources:
    """What a process's stages share; opened lazily, closed once.

    ``deferred_lines``: the extract stage's line counts are held there for
    another process to write (an embedded extraction process hands them to
    the process that owns the writes); without it they are written at once.

    ``store_access``: ``"write"`` for a command that must not create the store
    (``newsflow dlq replay``); the service creates it (``"create"``).
    """

    def __init__(
        self,
        config: Config,
        *,
        deferred_lines: DeferredLines | None = None,
        store_access: Access = "create",
    ) -> None:
        self.config = config
        self.deferred_lines = deferred_lines
        self.store_access = store_access

    @cached_property
    def store(self) -> Store:
        storage = self.config.storage
        return open_store(storage.url, access=self.store_access, migrate=storage.migrate_on_start)

    @property
    def articles(self) -> ArticleRepository:
        return self.store.articles

    @property
    def dead_letters(self) -> DeadLetterRepository:
        return self.store.dead_letters

    @cached_property
    def feed_state(self) -> FeedStateRepository:
        return FeedStateRepository(self.store.db)

    @cached_property
    def residue_stats(self) -> ResidueStatsRepository:
        from connectors.storage.residue_stats import ResidueStatsRepository

        return ResidueStatsRepository(self.store.db)

    @cached_property
    def dedup_index(self) -> DedupIndex:
        from connectors.storage.dedup_index import DedupIndex

        return DedupIndex(self.store.db, self.config.dedup)

    @cached_property
    def fetcher(self) -> Fetcher:
        from connectors.http.fetcher import build_fetcher

        local_feeds = [f.url for f in self.config.feeds if f.is_local]
        return build_fetcher(
            self.config.fetch,
            local_feeds=local_feeds,
            max_feed_bytes=self.config.schedule.max_feed_bytes,
        )

    def close(self) -> None:
        if "fetcher" in self.__dict__:
            self.fetcher.close()
        if "store" in self.__dict__:
            self.store.close()


def check_store_schema(config: Config, *, source: str) -> None:
    """With ``storage.migrate_on_start: false``, refuse to start on a store with migrations
    pending: one line naming ``newsflow store migrate`` (a ConfigError, exit status 2),
    before any process of the service opens a repository.

    Every component is checked, not only those this process opens at once: the
    dedup index, say, opens with the first article, and would fail there. The
    check runs no DDL, and creates nothing: a missing SQLite file is refused, not made
    empty first (as it was, with its directory). ``source`` is the config file, as for
    other config problems.
    """
    if config.storage.migrate_on_start:
        return
    from connectors.storage.migrations import MIGRATE_COMMAND
    from connectors.storage.store_schema import store_problem

    url = config.storage.url
    if url.startswith("sqlite:") and not (path := sqlite_path(url)).exists():
        raise ConfigError(
            [
                f"storage.migrate_on_start is false and there is no database at {path}:"
                f" run {MIGRATE_COMMAND} first"
            ],
            source=source,
        )
    # "write": never creates it (nor its directory), should it go between the check and here
    db = Database(url, access="write", migrate=False)
    try:
        problem = store_problem(db)
    finally:
        db.close()
    if problem is not None:
        raise ConfigError([f"storage.migrate_on_start is false and {problem}"], source=source)


def check_stage_files(config: Config) -> None:
    """Read the files the stages will read (residue rules, taxonomy, entity lists) once, now.

    ``newsflow run`` builds the extract and tag stages in worker processes; a
    bad file found there, not at start, made every article fail (19 dead
    letters for the demo, embedded with extraction processes) instead of
    giving one ConfigError.
    """
    from pipeline.extraction.rules import load_rules
    from pipeline.tagging.tagger import KeywordTagger

    load_rules(config.extract.residue_rules)
    KeywordTagger.from_config(config.tagging)


def build_stage(name: str, resources: Resources) -> Stage:
    """The stage called ``name``, wired to this process's resources."""
    config = resources.config
    if name == "fetch":
        return FetchStage(
            resources.fetcher,
            max_body_bytes=config.fetch.max_body_bytes,
            deadline=config.fetch.deadline,
        )
    if name == "extract":
        from pipeline.extraction.rules import load_rules
        from pipeline.stages.extract import ExtractStage

        rules = load_rules(config.extract.residue_rules)
        return ExtractStage(
            rules, resources.residue_stats, config.extract, counter=resources.deferred_lines
        )
    if name == "tag":
        from pipeline.stages.tag import TagStage
        from pipeline.tagging import build_tagger

        return TagStage(build_tagger(config.tagging))
    if name == "dedup":
        from pipeline.stages.dedup import DedupStage

        return DedupStage(resources.dedup_index, config.dedup, articles=resources.articles)
    if name == "store":
        return StoreStage(resources.articles, resources.dedup_index)
    raise ValueError(f"unknown stage {name!r}")
