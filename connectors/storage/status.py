"""Read-only queries for the live status page and the readiness probe.

Every query here is cheap on a large store: it reads a handful of rows
through an index (newest articles, their clusters, newest dead letters) or is
a plain ``SELECT 1``. The page polls them every few seconds, so nothing here
scans a table::

    reads = StatusReads(db)
    reads.ping()                       # raises StorageError when unreachable
    reads.recent_articles(20)          # newest stored first
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.storage.articles import load_article
from connectors.storage.db import Database
from connectors.storage.dead_letters import DeadLetter
from pipeline.models import EnrichedArticle


@dataclass(frozen=True)
class StoredArticle:
    """An article as the status page lists it."""

    article: EnrichedArticle
    stored_at: str


@dataclass(frozen=True)
class ClusterMember:
    cluster_id: str
    id: str
    title: str | None
    url: str
    source: str
    duplicate_of: str | None


class StatusReads:
    """Small reads of articles and dead letters; tables must exist (open the store first)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ping(self) -> None:
        """One round trip; raises :class:`~pipeline.errors.StorageError` if the store is away."""
        self.db.execute("SELECT 1")

    def recent_articles(self, limit: int) -> list[StoredArticle]:
        """The ``limit`` articles stored last, newest first (SQLite: by rowid, an index walk)."""
        order = "seq DESC" if self.db.dialect == "sqlite" else "stored_at DESC, id"
        rows = self.db.execute(
            f"SELECT data, feeds, stored_at FROM articles ORDER BY {order} LIMIT ?", (limit,)
        )
        return [StoredArticle(load_article((r[0], r[1])), str(r[2])) for r in rows]

    def cluster_members(
        self, cluster_ids: Sequence[str], per_cluster: int = 10
    ) -> list[ClusterMember]:
        """Members of the given clusters (through the cluster index), oldest first."""
        members: list[ClusterMember] = []
        for cluster_id in dict.fromkeys(cluster_ids):
            rows = self.db.execute(
                "SELECT cluster_id, id, title, url, source, duplicate_of FROM articles"
                " WHERE cluster_id = ? ORDER BY dated_at, id LIMIT ?",
                (cluster_id, per_cluster),
            )
            members.extend(ClusterMember(*row) for row in rows)
        return members

    def recent_dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest dead letters, newest first; payloads left out (empty) to stay small."""
        rows = self.db.execute(
            "SELECT id, stage, topic, error_class, reason, error, '', created_at, letter_key,"
            " attempts, COALESCE(last_failed_at, created_at), retry_at FROM dead_letters"
            " ORDER BY COALESCE(last_failed_at, created_at) DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [DeadLetter(*row) for row in rows]

    def dead_letter_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM dead_letters")[0][0])
