"""The persistent dedup index shared by every dedup worker.

Tables (all prefixed ``dedup_``)::

    dedup_docs       one row per indexed article, in arrival order: current content
                     key, page key and revision, URL key, text hash, packed shingles (to
                     confirm candidates exactly), cluster, canonical pointer,
                     match method and score, time indexed
    dedup_buckets    (bucket, doc): one row per LSH band of each article
    dedup_clusters   cluster -> its current canonical article and that article's rank,
                     and the version of its verdicts
    dedup_revisions  (article, earlier content or page key) -> revision: old replays
                     keep theirs
    dedup_meta       the shingle/band layout the stored rows were built with
    dedup_counters   (SQLite) the verdict version counter; PostgreSQL has the
                     sequence dedup_verdict_versions

The schema is created by the ``dedup_index`` migrations
(:mod:`connectors.storage.dedup_schema`) when the index opens.

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

**Replays.** A known id with a content key seen before, or extracted from a page
seen before (its ``page_key``: the text can differ when the learned boilerplate
moved in between), gets the verdict stored for it (its current cluster and
canonical, and the revision that content had), and writes nothing. A known id
with new content is a revision: same cluster and canonical status, revision + 1,
shingles and buckets replaced so later copies match what it says now. A revision
does not re-order its cluster, even if its publication time changed.

**Verdict versions.** Each change to a cluster (founded, joined, new canonical)
stamps it with the next value of one index-wide counter (a sequence on
PostgreSQL, ``dedup_counters`` on SQLite), and a verdict carries its cluster's
stamp. So of two verdicts on one article the later has the higher version, also
when the article aged out of the window and came back into another cluster. A
joining article locks its cluster's row (PostgreSQL), so two changes to one
cluster take their stamps in the order they commit.

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

from connectors.storage.db import Database
from connectors.storage.dedup_schema import COMPONENT, MIGRATIONS, TABLES
from connectors.storage.migrations import migrate
from pipeline.config import DedupConfig
from pipeline.dedup.decide import (
    Candidate,
    Match,
    Method,
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


@dataclass(frozen=True)
class IndexedVerdict:
    """Where the index puts an article now: its cluster, and its canonical if it is a copy."""

    cluster_id: str
    duplicate_of: str | None
    method: Method | None
    similarity: float | None
    generation: int = 1


def page_ref(page_key: str) -> str:
    """How an earlier page of an article is remembered beside its earlier contents."""
    return f"page:{page_key}"


def _same_page(incoming: str | None, stored: str | None) -> bool:
    return incoming is not None and incoming == stored


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
        migrate(db, COMPONENT, MIGRATIONS)
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
            "SELECT d.doc, d.cluster_id, d.duplicate_of, d.method, d.similarity, d.revision,"
            " d.shingles, d.content_key, d.page_key, COALESCE(c.generation, 1)"
            " FROM dedup_docs d LEFT JOIN dedup_clusters c ON c.cluster_id = d.cluster_id"
            " WHERE d.article_id = ?",
            (article_id,),
        )
        return rows[0] if rows else None

    def _record_known(self, known: tuple[Any, ...], fingerprint: Fingerprint) -> Verdict:
        doc, cluster_id, duplicate_of, method, similarity, current, old_shingles = known[:7]
        old_key, old_page, generation = known[7:]  # what it said, its page; the cluster's
        same = fingerprint.content_key == old_key or _same_page(fingerprint.page_key, old_page)
        earlier = None if same else self._earlier_revision(fingerprint)
        replay = same or earlier is not None
        if same:
            revision = int(current)
        elif earlier is not None:
            revision = earlier
        else:
            revision = int(current) + 1
            self._insert_revision(fingerprint.article_id, old_key, int(current))
            if old_page:
                self._insert_revision(fingerprint.article_id, page_ref(old_page), int(current))
            self._store_revision(doc, fingerprint, unpack(old_shingles), revision)
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
            generation=int(generation),
        )

    def _earlier_revision(self, fingerprint: Fingerprint) -> int | None:
        """The revision an older content of this article had, if this content (or the page
        it was extracted from) is one."""
        keys = [fingerprint.content_key]
        if fingerprint.page_key:
            keys.append(page_ref(fingerprint.page_key))
        rows = self.db.execute(
            "SELECT MAX(revision) FROM dedup_revisions"
            f" WHERE article_id = ? AND content_key IN ({_marks(keys)})",
            (fingerprint.article_id, *keys),
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def _store_revision(
        self, doc: int, fingerprint: Fingerprint, old_shingles: Any, revision: int
    ) -> None:
        """Replace the text keys of a known article: it is matched by what it says now."""
        self.db.executemany(
            "DELETE FROM dedup_buckets WHERE bucket = ? AND doc = ?",
            [(key, doc) for key in self.sketcher.bucket_keys(old_shingles)],
        )
        self._insert_buckets(doc, fingerprint.bucket_keys)
        self.db.execute(
            "UPDATE dedup_docs SET url_key = ?, text_hash = ?, shingles = ?, revision = ?,"
            " content_key = ?, page_key = ? WHERE doc = ?",
            (
                fingerprint.url_keys[0],
                fingerprint.text_hash,
                pack(fingerprint.shingles),
                revision,
                fingerprint.content_key,
                fingerprint.page_key,
                doc,
            ),
        )

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
            return self._found_cluster(fingerprint)
        cluster_id = match.candidate.cluster_id
        canonical_id, canonical_order = self._lock_cluster(cluster_id)
        version = self._stamp(cluster_id)
        if precedes(fingerprint.rank, (canonical_order, canonical_id)):
            repointed = self._repoint(cluster_id, canonical_id, fingerprint, match)
            kind: VerdictKind = "canonical"
            duplicate_of = None
        else:
            repointed, kind, duplicate_of = (), "duplicate", canonical_id
        return Verdict(
            fingerprint.article_id,
            kind,
            cluster_id,
            duplicate_of,
            match.method,
            match.similarity,
            revision=1,
            repointed=repointed,
            generation=version,
        )

    def _found_cluster(self, fingerprint: Fingerprint) -> Verdict:
        version = self._next_version()
        self.db.execute(
            "INSERT INTO dedup_clusters (cluster_id, canonical_id, canonical_order, generation)"
            " VALUES (?, ?, ?, ?)",
            (fingerprint.article_id, fingerprint.article_id, fingerprint.order, version),
        )
        return Verdict(
            fingerprint.article_id,
            "unique",
            fingerprint.article_id,
            None,
            None,
            None,
            revision=1,
            generation=version,
        )

    def _lock_cluster(self, cluster_id: str) -> tuple[str, str]:
        """The cluster's canonical and its rank, its row locked until the transaction ends.

        (SQLite's transaction holds the database write lock already.) Without the
        lock, two articles joining one cluster through different members could
        each compare themselves with the canonical from before the other's change.
        """
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        canonical_id, canonical_order = self.db.execute(
            f"SELECT canonical_id, canonical_order FROM dedup_clusters WHERE cluster_id = ?{lock}",
            (cluster_id,),
        )[0]
        return str(canonical_id), str(canonical_order)

    def _stamp(self, cluster_id: str) -> int:
        """Give the cluster (its row locked) the next verdict version: it is changing."""
        version = self._next_version()
        self.db.execute(
            "UPDATE dedup_clusters SET generation = ? WHERE cluster_id = ?", (version, cluster_id)
        )
        return version

    def _next_version(self) -> int:
        """The next value of the index-wide verdict version counter (never given before)."""
        if self.db.dialect == "postgresql":
            rows = self.db.execute("SELECT nextval('dedup_verdict_versions')")
        else:
            rows = self.db.execute(
                "UPDATE dedup_counters SET value = value + 1 WHERE name = 'verdict_version'"
                " RETURNING value"
            )
        return int(rows[0][0])

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
        rows = self.db.execute(
            "INSERT INTO dedup_docs (article_id, content_key, page_key, url_key, text_hash,"
            " cluster_id, duplicate_of, method, similarity, rank_order, revision, shingles,"
            " indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING doc",
            (
                fingerprint.article_id,
                fingerprint.content_key,
                fingerprint.page_key,
                fingerprint.url_keys[0],
                fingerprint.text_hash,
                verdict.cluster_id,
                verdict.duplicate_of,
                match.method if match else None,
                match.similarity if match else None,
                fingerprint.order,
                1,
                pack(fingerprint.shingles),
                iso(now),
            ),
        )
        self._insert_buckets(int(rows[0][0]), fingerprint.bucket_keys)

    def _insert_buckets(self, doc: int, keys: Sequence[int]) -> None:
        self.db.executemany(
            "INSERT INTO dedup_buckets (bucket, doc) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(key, doc) for key in keys],
        )

    def _insert_revision(self, article_id: str, content_key: str, revision: int) -> None:
        """Remember a content the article had before, so replaying it keeps its revision."""
        self.db.execute(
            "INSERT INTO dedup_revisions (article_id, content_key, revision) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (article_id, content_key, revision),
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

    def verdict_of(self, article_id: str) -> IndexedVerdict | None:
        """The index's present verdict on an article; None when not indexed (or aged out).

        The store asks this inside its own transaction, so that an article is
        stored under the verdict the index holds now, not the one its message
        carried: a member re-pointed while its message was still on the way
        to the store (the dedup stage could not re-emit it, not being stored
        yet) is stored as the duplicate it has become. On PostgreSQL the row
        is read ``FOR SHARE``: a re-pointing transaction either committed
        before (and is seen) or waits until the store commits (and then finds
        the article stored, and re-emits it).
        """
        lock = " FOR SHARE" if self.db.dialect == "postgresql" else ""
        rows = self.db.execute(
            "SELECT cluster_id, duplicate_of, method, similarity FROM dedup_docs"
            f" WHERE article_id = ?{lock}",
            (article_id,),
        )
        if not rows:
            return None
        cluster_id, duplicate_of, method, similarity = rows[0]
        # A statement of its own, after the lock: had it waited for a re-pointing, a join
        # would pair the re-pointed row with the cluster's generation from before it.
        generation = self.db.execute(
            "SELECT generation FROM dedup_clusters WHERE cluster_id = ?", (cluster_id,)
        )
        version = int(generation[0][0]) if generation else 1
        return IndexedVerdict(cluster_id, duplicate_of, method, similarity, version)

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
        """Recompute every bucket row from the stored shingles, a page of articles at a time."""
        self.db.execute("DELETE FROM dedup_buckets")
        last = -1
        while rows := self.db.execute(
            "SELECT doc, shingles FROM dedup_docs WHERE doc > ? ORDER BY doc LIMIT ?",
            (last, _PRUNE_BATCH),
        ):
            for doc, shingle_data in rows:
                self._insert_buckets(doc, self.sketcher.bucket_keys(unpack(shingle_data)))
            last = rows[-1][0]


def _canonical_kind(cluster_id: str, fingerprint: Fingerprint) -> VerdictKind:
    return "unique" if cluster_id == fingerprint.article_id else "canonical"


def _candidate(row: tuple[Any, ...]) -> Candidate:
    _doc, article_id, cluster_id, order, url_key, text_hash, shingle_data = row
    return Candidate(article_id, cluster_id, order, url_key, text_hash, unpack(shingle_data))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)
