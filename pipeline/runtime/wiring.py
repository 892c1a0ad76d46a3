"""Building stages from the configuration: the one place that knows constructors.

A process opens its :class:`Resources` once (store connection, fetcher,
compiled taxonomy, residue rules) and builds the stages it runs from them, so
each stage receives its dependencies instead of reading globals.
"""

from __future__ import annotations

from functools import cached_property

from connectors.http.base import Fetcher
from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Database
from connectors.storage.dead_letters import DeadLetterRepository
from pipeline.config import Config
from pipeline.stages.base import Stage
from pipeline.stages.fetch import FetchStage
from pipeline.stages.store import StoreStage


class Resources:
    """What a process's stages share; opened lazily, closed once."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @cached_property
    def db(self) -> Database:
        return Database(self.config.storage.url)

    @cached_property
    def articles(self) -> ArticleRepository:
        return ArticleRepository(self.db)

    @cached_property
    def dead_letters(self) -> DeadLetterRepository:
        return DeadLetterRepository(self.db)

    @cached_property
    def fetcher(self) -> Fetcher:
        from connectors.http.fetcher import build_fetcher

        return build_fetcher(self.config.fetch)

    def close(self) -> None:
        if "fetcher" in self.__dict__:
            self.fetcher.close()
        if "db" in self.__dict__:
            self.db.close()


def build_stage(name: str, resources: Resources) -> Stage:
    """The stage called ``name``, wired to this process's resources."""
    config = resources.config
    if name == "fetch":
        return FetchStage(resources.fetcher, max_body_bytes=config.fetch.max_body_bytes)
    if name == "extract":
        from connectors.storage.residue_stats import ResidueStatsRepository

        from pipeline.extraction.residue import load_rules
        from pipeline.stages.extract import ExtractStage

        return ExtractStage(
            load_rules(config.extract.residue_rules),
            ResidueStatsRepository(resources.db),
            config.extract,
        )
    if name == "tag":
        from pipeline.stages.tag import TagStage
        from pipeline.tagging import build_tagger

        return TagStage(build_tagger(config.tagging))
    if name == "dedup":
        from connectors.storage.dedup_index import DedupIndex

        from pipeline.stages.dedup import DedupStage

        return DedupStage(DedupIndex(resources.db, config.dedup), config.dedup)
    if name == "store":
        return StoreStage(resources.articles)
    raise ValueError(f"unknown stage {name!r}")
