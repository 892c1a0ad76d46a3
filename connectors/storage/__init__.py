"""Storage connectors: SQLite (embedded default) and PostgreSQL (production)."""

from connectors.storage.articles import ArticleRepository, UpsertResult
from connectors.storage.db import Database
from connectors.storage.dead_letters import DeadLetter, DeadLetterRepository

__all__ = ["ArticleRepository", "Database", "DeadLetter", "DeadLetterRepository", "UpsertResult"]
