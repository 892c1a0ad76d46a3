"""Storage connectors: SQLite (embedded default) and PostgreSQL (production)."""

from connectors.storage.articles import ArticleRepository, ClusterSummary, Revision, UpsertResult
from connectors.storage.db import Database
from connectors.storage.dead_letters import DeadLetter, DeadLetterRepository
from connectors.storage.migrations import Migration, migrate
from connectors.storage.search import ArticleSearch, SearchHit, SearchQuery
from connectors.storage.store import Store, open_store

__all__ = [
    "ArticleRepository",
    "ArticleSearch",
    "ClusterSummary",
    "Database",
    "DeadLetter",
    "DeadLetterRepository",
    "Migration",
    "Revision",
    "SearchHit",
    "SearchQuery",
    "Store",
    "UpsertResult",
    "migrate",
    "open_store",
]
