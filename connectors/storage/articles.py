"""The article table: idempotent upserts of enriched articles, duplicates and export.

Idempotence is what makes replays safe: storing the same article again, or a
message redelivered after a crash, changes nothing. An article's identity is
its ``id``; what counts as a change is its content (see :func:`content_hash`),
not when it was fetched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from connectors.storage.db import Database
from pipeline.models import DuplicateEvent, EnrichedArticle, decode, utcnow

UpsertResult = Literal["inserted", "updated", "unchanged"]

_VOLATILE = {"fetched_at", "feeds", "schema_version"}

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS articles (
        id TEXT PRIMARY KEY,
        canonical_url TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        language TEXT,
        published_at TEXT,
        duplicate_of TEXT,
        cluster_id TEXT,
        revision INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        feeds TEXT NOT NULL,
        data TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS articles_cluster ON articles (cluster_id)",
    "CREATE INDEX IF NOT EXISTS articles_duplicate_of ON articles (duplicate_of)",
    "CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at)",
]


def content_hash(article: EnrichedArticle) -> str:
    """Hash of what an article says, ignoring when and through which feed it was seen."""
    payload = article.model_dump_json(exclude=_VOLATILE)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ArticleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.script(SCHEMA)

    def upsert(self, article: EnrichedArticle) -> UpsertResult:
        """Insert or update one article; storing the same content twice is a no-op."""
        new_hash = content_hash(article)
        with self.db.transaction():
            rows = self.db.execute(
                "SELECT content_hash, revision, feeds FROM articles WHERE id = ?", (article.id,)
            )
            if not rows:
                self._insert(article, new_hash)
                return "inserted"
            old_hash, old_revision, old_feeds = rows[0]
            feeds = _merge(json.loads(old_feeds), article.feeds)
            if old_hash == new_hash or article.revision < old_revision:
                if feeds != json.loads(old_feeds):
                    self._set_feeds(article.id, feeds)
                    return "updated"
                return "unchanged"
            self._update(article.model_copy(update={"feeds": feeds}), new_hash)
            return "updated"

    def record_duplicate(self, event: DuplicateEvent) -> UpsertResult:
        """Store the duplicate itself and credit its feeds to the canonical article."""
        with self.db.transaction():
            result = self.upsert(event.article)
            rows = self.db.execute("SELECT feeds FROM articles WHERE id = ?", (event.duplicate_of,))
            if rows:
                feeds = _merge(json.loads(rows[0][0]), event.feeds)
                if feeds != json.loads(rows[0][0]):
                    self._set_feeds(event.duplicate_of, feeds)
        return result

    def get(self, article_id: str) -> EnrichedArticle | None:
        rows = self.db.execute("SELECT data, feeds FROM articles WHERE id = ?", (article_id,))
        return _load(rows[0]) if rows else None

    def iter_all(self) -> Iterator[EnrichedArticle]:
        """Every stored article, oldest first, read in pages so memory stays flat."""
        last = ""
        while True:
            rows = self.db.execute(
                "SELECT data, feeds, id FROM articles WHERE id > ? ORDER BY id LIMIT 500", (last,)
            )
            if not rows:
                return
            for row in rows:
                yield _load(row)
            last = rows[-1][2]

    def cluster(self, cluster_id: str) -> list[EnrichedArticle]:
        rows = self.db.execute(
            "SELECT data, feeds FROM articles WHERE cluster_id = ? ORDER BY published_at, id",
            (cluster_id,),
        )
        return [_load(r) for r in rows]

    def count(self, *, duplicates: bool | None = None) -> int:
        where = {None: "", True: " WHERE duplicate_of IS NOT NULL", False: " WHERE duplicate_of IS NULL"}
        return int(self.db.execute("SELECT COUNT(*) FROM articles" + where[duplicates])[0][0])

    def _insert(self, article: EnrichedArticle, digest: str) -> None:
        now = utcnow().isoformat()
        self.db.execute(
            "INSERT INTO articles (id, canonical_url, url, source, title, text, language,"
            " published_at, duplicate_of, cluster_id, revision, content_hash, feeds, data,"
            " stored_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.id, article.canonical_url, article.url, article.source, article.title,
                article.text, article.language, _iso(article.published_at), article.duplicate_of,
                article.cluster_id, article.revision, digest, json.dumps(sorted(set(article.feeds))),
                article.model_dump_json(), now, now,
            ),
        )

    def _update(self, article: EnrichedArticle, digest: str) -> None:
        self.db.execute(
            "UPDATE articles SET canonical_url = ?, url = ?, source = ?, title = ?, text = ?,"
            " language = ?, published_at = ?, duplicate_of = ?, cluster_id = ?, revision = ?,"
            " content_hash = ?, feeds = ?, data = ?, updated_at = ? WHERE id = ?",
            (
                article.canonical_url, article.url, article.source, article.title, article.text,
                article.language, _iso(article.published_at), article.duplicate_of,
                article.cluster_id, article.revision, digest, json.dumps(article.feeds),
                article.model_dump_json(), utcnow().isoformat(), article.id,
            ),
        )

    def _set_feeds(self, article_id: str, feeds: list[str]) -> None:
        self.db.execute(
            "UPDATE articles SET feeds = ?, updated_at = ? WHERE id = ?",
            (json.dumps(feeds), utcnow().isoformat(), article_id),
        )


def _merge(old: list[str], new: list[str]) -> list[str]:
    return sorted(set(old) | set(new))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _load(row: tuple[str, ...]) -> EnrichedArticle:
    article = decode(EnrichedArticle, row[0])
    return article.model_copy(update={"feeds": json.loads(row[1])})
