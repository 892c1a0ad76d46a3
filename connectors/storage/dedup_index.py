"""The persistent dedup index shared by every dedup worker.

Tables (all prefixed ``dedup_``)::

    dedup_docs       one row per indexed article: URL key, text hash, packed
                     shingles (to confirm candidates exactly), cluster, canonical
                     pointer, match method and score, revision, time indexed
    dedup_buckets    (bucket, doc): one row per LSH band of each article
    dedup_clusters   cluster -> its current canonical article and that article's rank
    dedup_revisions  (article, content key) -> revision: replays keep their verdict
    dedup_meta       the shingle/band layout the stored rows were built with

The schema is created by the ``dedup_index`` migrations when the index opens.

**Concurrency.** :meth:`DedupIndex.record` reads candidates and writes the
verdict inside one ``db.transaction()``. On SQLite that is ``BEGIN IMMEDIATE``:
writers are serialised by the database lock, so of two near-duplicates seen at
the same moment by two processes, the second transaction sees the first's rows.
On PostgreSQL the transaction first takes a transaction-scoped advisory lock on
every key it will read (its id, URL keys, text hash and bucket keys, in sorted
order, so no deadlock), which serialises exactly the transactions that could
see each other as candidates.

**Canonical = earliest published, ties by smaller id, whatever the arrival
order.** When a later-arriving article turns out to be published earlier than
its cluster's canonical, it becomes the canonical and every other member is
re-pointed at it (the verdict lists them in ``repointed`` so the stage can emit
updated duplicate records). The cluster id never changes: it is the id of the
article that founded the cluster, so ids already emitted stay valid.

**Replays.** A known id with a content key seen before gets the verdict stored
for it, and writes nothing. A known id with new content is a revision: same
cluster and canonical status, revision + 1, shingles and buckets replaced.

**Window.** :meth:`DedupIndex.prune` removes articles indexed before
``now - window_days``; clusters left without members go with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.storage.db import Database, Dialect
from connectors.storage.migrations import Migration, migrate
from pipeline.config import DedupConfig
from pipeline.dedup.decide import (
    Candidate,
    Match,
    Repointed,
    Verdict,
    VerdictKind,
    best_match,
    precedes,
)
from pipeline.dedup.fingerprint import Fingerprint
from pipeline.dedup.sketch import Sketcher
from pipeline.dedup.text import pack, unpack
from pipeline.errors import ConfigError

_CREATE = [
    """CREATE TABLE IF NOT EXISTS dedup_docs (
        doc BIGINT PRIMARY KEY,
        article_id TEXT NOT NULL UNIQUE,
        url_key TEXT NOT NULL,
        text_hash TEXT,
        cluster_id TEXT NOT NULL,
        duplicate_of TEXT,
        method TEXT,
        similarity REAL,
        rank_order TEXT NOT NULL,
        revision INTEGER NOT NULL,
        shingles BLOB NOT NULL,
        repointed_by TEXT,
        indexed_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS dedup_docs_url ON dedup_docs (url_key)",
    "CREATE INDEX IF NOT EXISTS dedup_docs_text ON dedup_docs (text_hash)",
    "CREATE INDEX IF NOT EXISTS dedup_docs_cluster ON dedup_docs (cluster_id)",
    "CREATE INDEX IF NOT EXISTS dedup_docs_indexed ON dedup_docs (indexed_at)",
    """CREATE TABLE IF NOT EXISTS dedup_buckets (
        bucket BIGINT NOT NULL,
        doc BIGINT NOT NULL,
        PRIMARY KEY (bucket, doc)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS dedup_clusters (
        cluster_id TEXT PRIMARY KEY,
        canonical_id TEXT NOT NULL,
        canonical_order TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS dedup_revisions (
        article_id TEXT NOT NULL,
        content_key TEXT NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (article_id, content_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS dedup_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]



def _create(dialect: Dialect) -> list[str]:
    if dialect == "postgresql":
        return [s.replace(" WITHOUT ROWID", "").replace("BLOB", "BYTEA") for s in _CREATE]
    return list(_CREATE)


MIGRATIONS = (Migration(1, "create dedup index", _create),)

TABLES = ("dedup_docs", "dedup_buckets", "dedup_clusters", "dedup_revisions", "dedup_meta")

_DOC_COLUMNS = "doc, article_id, cluster_id, rank_order, url_key, text_hash, shingles"
_PRUNE_BATCH = 500


@dataclass(frozen=True)
class IndexSize:
    """How big the index is: rows per table and bytes on disk (None if unknown)."""

    articles: int
    clusters: int
    buckets: int
    disk_bytes: int | None


@dataclass(frozen=True)
class IndexedArticle:
    """One member of a cluster as the index knows it."""

    article_id: str
    cluster_id: str
    duplicate_of: str | None
    method: str | None
    similarity: float | None
    revision: int
    published: str
    indexed_at: str


def doc_key(article_id: str) -> int:
    """A compact, deterministic 63-bit row key for an article id (bucket rows stay small)."""
    return int.from_bytes(hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest()) >> 1


def lock_key(value: str) -> int:
    """A signed 64-bit advisory-lock key for a string key (PostgreSQL)."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8, person=b"newsflow-dedup")
    return int.from_bytes(digest.digest(), signed=True)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class DedupIndex:
    """Candidates, verdicts and clusters of the dedup stage, kept in the shared store."""

    def __init__(self, db: Database, config: DedupConfig) -> None:
        self.db = db
        self.config = config
        self.sketcher = Sketcher(
            num_perm=config.num_perm, bands=config.lsh_bands, rows=config.lsh_rows
        )
        migrate(db, "dedup_index", MIGRATIONS)
        self._check_layout()

    # -- recording ---------------------------------------------------------------------------

    def record(self, fingerprint: Fingerprint, now: datetime) -> Verdict:
        """Decide and store the verdict for one article, atomically; replays write nothing."""
        with self.db.transaction():
            self._lock(fingerprint)
            known = self._known(fingerprint.article_id)
            if known is not None:
                return self._record_known(known, fingerprint)
            match = best_match(fingerprint, self._candidates(fingerprint), self.config)
            verdict = self._decide_new(fingerprint, match)
            self._insert(fingerprint, verdict, match, now)
            return verdict

    def _lock(self, fingerprint: Fingerprint) -> None:
        if self.db.dialect != "postgresql":
            return  # BEGIN IMMEDIATE already holds the database write lock
        names = [f"id:{fingerprint.article_id}", *(f"url:{u}" for u in fingerprint.url_keys)]
        if fingerprint.text_hash:
            names.append(f"text:{fingerprint.text_hash}")
        keys = {lock_key(n) for n in names} | set(fingerprint.bucket_keys)
        for key in sorted(keys):
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def _known(self, article_id: str) -> tuple[Any, ...] | None:
        rows = self.db.execute(
            "SELECT cluster_id, duplicate_of, method, similarity, revision, shingles"
            " FROM dedup_docs WHERE article_id = ?",
            (article_id,),
        )
        return rows[0] if rows else None

    def _record_known(self, known: tuple[Any, ...], fingerprint: Fingerprint) -> Verdict:
        cluster_id, duplicate_of, method, similarity, revision, old_shingles = known
        rows = self.db.execute(
            "SELECT revision FROM dedup_revisions WHERE article_id = ? AND content_key = ?",
            (fingerprint.article_id, fingerprint.content_key),
        )
        replay = bool(rows)
        if replay:
            revision = int(rows[0][0])
        else:
            revision = self._max_revision(fingerprint.article_id) + 1
            self._store_revision(fingerprint, unpack(old_shingles), revision)
        repointed = () if duplicate_of else self._repointed_by(fingerprint.article_id, cluster_id)
        return Verdict(
            article_id=fingerprint.article_id,
            kind="duplicate" if duplicate_of else _canonical_kind(cluster_id, fingerprint),
            cluster_id=cluster_id,
            duplicate_of=duplicate_of,
            method=method,
            similarity=similarity,
            revision=revision,
            replay=replay,
            repointed=repointed,
        )

    def _max_revision(self, article_id: str) -> int:
        rows = self.db.execute(
            "SELECT MAX(revision) FROM dedup_revisions WHERE article_id = ?", (article_id,)
        )
        return int(rows[0][0] or 0)

    def _store_revision(self, fingerprint: Fingerprint, old_shingles: Any, revision: int) -> None:
        """Replace the text keys of a known article: it is matched by what it says now."""
        doc = doc_key(fingerprint.article_id)
        self.db.executemany(
            "DELETE FROM dedup_buckets WHERE bucket = ? AND doc = ?",
            [(key, doc) for key in self.sketcher.bucket_keys(old_shingles)],
        )
        self._insert_buckets(doc, fingerprint.bucket_keys)
        self.db.execute(
            "UPDATE dedup_docs SET url_key = ?, text_hash = ?, shingles = ?, revision = ?"
            " WHERE doc = ?",
            (
                fingerprint.url_keys[0], fingerprint.text_hash, pack(fingerprint.shingles),
                revision, doc,
            ),
        )
        self._insert_revision(fingerprint, revision)

    def _repointed_by(self, article_id: str, cluster_id: str) -> tuple[Repointed, ...]:
        rows = self.db.execute(
            "SELECT article_id, method, similarity FROM dedup_docs WHERE cluster_id = ?"
            " AND repointed_by = ? AND duplicate_of = ? ORDER BY article_id",
            (cluster_id, article_id, article_id),
        )
        return tuple(Repointed(r[0], r[1], float(r[2])) for r in rows)

    def _candidates(self, fingerprint: Fingerprint) -> list[Candidate]:
        """Articles sharing a URL key or the text hash, plus the top LSH bucket neighbours."""
        keys = list(fingerprint.url_keys)
        where = f"url_key IN ({_marks(keys)})"
        if fingerprint.text_hash is not None:
            where += " OR text_hash = ?"
            keys.append(fingerprint.text_hash)
        rows = self.db.execute(f"SELECT {_DOC_COLUMNS} FROM dedup_docs WHERE {where}", keys)
        exact_docs = {row[0] for row in rows}
        near_docs = [d for d in self._bucket_neighbours(fingerprint) if d not in exact_docs]
        if near_docs:
            rows += self.db.execute(
                f"SELECT {_DOC_COLUMNS} FROM dedup_docs WHERE doc IN ({_marks(near_docs)})",
                near_docs,
            )
        return [_candidate(row) for row in rows]

    def _bucket_neighbours(self, fingerprint: Fingerprint) -> list[int]:
        buckets = list(fingerprint.bucket_keys)
        if not buckets:
            return []
        rows = self.db.execute(
            f"SELECT doc FROM dedup_buckets WHERE bucket IN ({_marks(buckets)})"
            " GROUP BY doc ORDER BY COUNT(*) DESC, doc LIMIT ?",
            [*buckets, self.config.max_candidates],
        )
        return [int(r[0]) for r in rows]

    def _decide_new(self, fingerprint: Fingerprint, match: Match | None) -> Verdict:
        if match is None:
            self.db.execute(
                "INSERT INTO dedup_clusters (cluster_id, canonical_id, canonical_order)"
                " VALUES (?, ?, ?)",
                (fingerprint.article_id, fingerprint.article_id, fingerprint.order),
            )
            return Verdict(fingerprint.article_id, "unique", fingerprint.article_id, None,
                           None, None, revision=1)
        cluster_id = match.candidate.cluster_id
        canonical_id, canonical_order = self.db.execute(
            "SELECT canonical_id, canonical_order FROM dedup_clusters WHERE cluster_id = ?",
            (cluster_id,),
        )[0]
        if not precedes(fingerprint.rank, (canonical_order, canonical_id)):
            return Verdict(fingerprint.article_id, "duplicate", cluster_id, canonical_id,
                           match.method, match.similarity, revision=1)
        return Verdict(fingerprint.article_id, "canonical", cluster_id, None, match.method,
                       match.similarity, revision=1,
                       repointed=self._repoint(cluster_id, canonical_id, fingerprint, match))

    def _repoint(
        self, cluster_id: str, old_canonical: str, fingerprint: Fingerprint, match: Match
    ) -> tuple[Repointed, ...]:
        """Make ``fingerprint`` the canonical of the cluster; every member now points at it."""
        new = fingerprint.article_id
        self.db.execute(
            "UPDATE dedup_clusters SET canonical_id = ?, canonical_order = ? WHERE cluster_id = ?",
            (new, fingerprint.order, cluster_id),
        )
        self.db.execute(
            "UPDATE dedup_docs SET method = ?, similarity = ? WHERE article_id = ?",
            (match.method, match.similarity, old_canonical),
        )
        self.db.execute(
            "UPDATE dedup_docs SET duplicate_of = ?, repointed_by = ? WHERE cluster_id = ?",
            (new, new, cluster_id),
        )
        return self._repointed_by(new, cluster_id)

    def _insert(
        self, fingerprint: Fingerprint, verdict: Verdict, match: Match | None, now: datetime
    ) -> None:
        doc = doc_key(fingerprint.article_id)
        self.db.execute(
            "INSERT INTO dedup_docs (doc, article_id, url_key, text_hash, cluster_id, duplicate_of,"
            " method, similarity, rank_order, revision, shingles, indexed_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc, fingerprint.article_id, fingerprint.url_keys[0], fingerprint.text_hash,
                verdict.cluster_id, verdict.duplicate_of, match.method if match else None,
                match.similarity if match else None, fingerprint.order, 1,
                pack(fingerprint.shingles), iso(now),
            ),
        )
        self._insert_buckets(doc, fingerprint.bucket_keys)
        self._insert_revision(fingerprint, 1)

    def _insert_buckets(self, doc: int, keys: Sequence[int]) -> None:
        self.db.executemany(
            "INSERT INTO dedup_buckets (bucket, doc) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(key, doc) for key in keys],
        )

    def _insert_revision(self, fingerprint: Fingerprint, revision: int) -> None:
        self.db.execute(
            "INSERT INTO dedup_revisions (article_id, content_key, revision) VALUES (?, ?, ?)",
            (fingerprint.article_id, fingerprint.content_key, revision),
        )

    # -- window, size, listing ---------------------------------------------------------------

    def prune(self, now: datetime) -> int:
        """Drop articles indexed before ``now - window_days``; returns how many went."""
        cutoff = iso(now - timedelta(days=self.config.window_days))
        removed = 0
        while batch := self._prune_batch(cutoff):
            removed += batch
        return removed

    def _prune_batch(self, cutoff: str) -> int:
        with self.db.transaction():
            rows = self.db.execute(
                "SELECT doc, article_id, cluster_id, shingles FROM dedup_docs"
                " WHERE indexed_at < ? ORDER BY indexed_at LIMIT ?",
                (cutoff, _PRUNE_BATCH),
            )
            for doc, article_id, _cluster, shingle_data in rows:
                self.db.executemany(
                    "DELETE FROM dedup_buckets WHERE bucket = ? AND doc = ?",
                    [(key, doc) for key in self.sketcher.bucket_keys(unpack(shingle_data))],
                )
                self.db.execute("DELETE FROM dedup_revisions WHERE article_id = ?", (article_id,))
                self.db.execute("DELETE FROM dedup_docs WHERE doc = ?", (doc,))
            self.db.executemany(
                "DELETE FROM dedup_clusters WHERE cluster_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM dedup_docs WHERE cluster_id = ?)",
                [(c, c) for c in sorted({row[2] for row in rows})],
            )
            return len(rows)

    def count(self, table: str = "dedup_docs") -> int:
        """Rows in one of the index tables (articles by default)."""
        if table not in TABLES:
            raise ValueError(f"not a dedup table: {table}")
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}")[0][0])

    def size(self) -> IndexSize:
        """Row counts and bytes on disk (reading the disk size scans pages: not per article)."""
        return IndexSize(
            articles=self.count("dedup_docs"),
            clusters=self.count("dedup_clusters"),
            buckets=self.count("dedup_buckets"),
            disk_bytes=self._disk_bytes(),
        )

    def _disk_bytes(self) -> int | None:
        if self.db.dialect == "postgresql":
            total = " + ".join(f"pg_total_relation_size('{t}')" for t in TABLES)
            return int(self.db.execute(f"SELECT {total}")[0][0])
        try:
            names = ", ".join("?" for _ in TABLES)
            rows = self.db.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema"
                f" WHERE tbl_name IN ({names}))",
                TABLES,
            )
        except Exception:  # dbstat is an optional SQLite build feature
            return None
        return int(rows[0][0] or 0)

    def cluster(self, cluster_id: str) -> list[IndexedArticle]:
        """The members the index holds for a cluster, canonical first."""
        rows = self.db.execute(
            "SELECT article_id, cluster_id, duplicate_of, method, similarity, revision,"
            " rank_order, indexed_at FROM dedup_docs WHERE cluster_id = ?"
            " ORDER BY rank_order, article_id",
            (cluster_id,),
        )
        return [IndexedArticle(*row) for row in rows]

    def cluster_of(self, article_id: str) -> str | None:
        rows = self.db.execute(
            "SELECT cluster_id FROM dedup_docs WHERE article_id = ?", (article_id,)
        )
        return str(rows[0][0]) if rows else None

    def canonicals(self) -> Iterator[tuple[str, str]]:
        """(cluster, canonical) of every cluster: what the concurrency test checks."""
        rows = self.db.execute(
            "SELECT cluster_id, canonical_id FROM dedup_clusters ORDER BY cluster_id"
        )
        for cluster_id, canonical_id in rows:
            yield str(cluster_id), str(canonical_id)

    # -- layout ------------------------------------------------------------------------------

    def _check_layout(self) -> None:
        """Stored shingles are only comparable under one shingle size; bands can be rebuilt."""
        layout = [self.config.num_perm, self.config.lsh_bands, self.config.lsh_rows]
        wanted = {"shingle_size": str(self.config.shingle_size), "bands": json.dumps(layout)}
        with self.db.transaction():
            stored = dict(self.db.execute("SELECT name, value FROM dedup_meta"))
            if stored.get("shingle_size", wanted["shingle_size"]) != wanted["shingle_size"]:
                raise ConfigError(
                    [
                        f"dedup.shingle_size: the dedup index was built with"
                        f" {stored['shingle_size']}; set it back or drop the dedup_* tables"
                    ]
                )
            if stored and stored.get("bands") != wanted["bands"]:
                self._rebuild_buckets()
            self.db.executemany(
                "INSERT INTO dedup_meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                sorted(wanted.items()),
            )

    def _rebuild_buckets(self) -> None:
        self.db.execute("DELETE FROM dedup_buckets")
        for doc, shingle_data in self.db.execute("SELECT doc, shingles FROM dedup_docs"):
            self._insert_buckets(doc, self.sketcher.bucket_keys(unpack(shingle_data)))


def _canonical_kind(cluster_id: str, fingerprint: Fingerprint) -> VerdictKind:
    return "unique" if cluster_id == fingerprint.article_id else "canonical"


def _candidate(row: tuple[Any, ...]) -> Candidate:
    _doc, article_id, cluster_id, order, url_key, text_hash, shingle_data = row
    return Candidate(article_id, cluster_id, order, url_key, text_hash, unpack(shingle_data))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)

