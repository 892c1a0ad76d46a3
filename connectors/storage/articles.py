"""The article store: idempotent upserts, revisions, duplicates, clusters and export.

Idempotence is what makes replays safe: storing the same article again, or a
message redelivered after a crash, changes nothing. An article's identity is
its ``id``; what counts as a change is its content (see :func:`content_hash`),
not when or through which feed it was seen.

Revisions: a revision is what the article says, its title and text; every
distinct one is kept in ``article_revisions``. Unseen title and text become
the current revision, numbered ``max(incoming revision, current + 1)``. Per
article, messages arrive in order (one key, one partition), so the newest
arrival is the newest content. Anything else that changes (the dedup verdict,
tags, metadata) updates the article in place, under its current revision.

Content seen before is not a revision: a replay of an earlier revision, or the
same page extracted again (same ``page_hash``) into a different text because
the learned boilerplate moved in between. The stored content stands; only the
message's dedup verdict and feeds are taken.

Page validators: the ETag and Last-Modified the article's page was served with
are kept in columns of their own with that page's URL, outside its JSON and its
content hash (a new ETag on the same text is no change), and follow the last
fetch that brought any: an update's fetch of that URL sends them
(:meth:`ArticleRepository.page_validators`). A page reached through a redirect
is also found by the URL the feed listed (``listed_url``), which is what an
update requests: the redirect is followed with the same conditional headers. A
message without any (a WARC page, a copy read back from the store) keeps them,
and so do newer ones against a message fetched before them (a replay, a
redelivery: see :meth:`ArticleRepository._keep_page_validators`).

Duplicates: a duplicate is stored like any article, with ``duplicate_of`` and
``cluster_id`` set, and the feeds that listed it are credited to its canonical
article, whichever of the two is stored first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.storage.article_schema import COMPONENT, MIGRATIONS
from connectors.storage.db import Database, storable_text
from connectors.storage.feed_state import Validators
from connectors.storage.migrations import migrate
from pipeline.keys import bounded_key
from pipeline.models import DuplicateEvent, EnrichedArticle, decode, utcnow

UpsertResult = Literal["inserted", "updated", "unchanged"]

# Fields that change nothing stored: when, where and from which variant of the page
# (another sidebar, the same article text) it was seen, and our own numbering.
_VOLATILE = {"fetched_at", "feeds", "schema_version", "revision", "page_hash"}
_PAGE_FETCH = {"page_etag", "page_last_modified", "listed_url"}
"""How the page was fetched, kept in columns of their own: not in ``data``, not part of
the content."""

_PAGE = 500


@dataclass(frozen=True)
class Revision:
    """One stored content of an article."""

    article_id: str
    revision: int
    content_hash: str
    title: str | None
    text: str
    stored_at: str
    page_hash: str | None  # the page it was extracted from, when known


@dataclass(frozen=True)
class ClusterSummary:
    """A group of articles telling the same story; ``canonical_id`` is the original they copy."""

    cluster_id: str
    size: int
    canonical_id: str | None
    first_dated_at: str


@dataclass(frozen=True)
class _Current:
    content_hash: str
    revision: int
    feeds: list[str]
    validators: Validators
    page_url_key: str | None
    page_listed_key: str | None
    page_fetched_at: str | None


@dataclass(frozen=True)
class _Repeat:
    """The stored revision an incoming article repeats, and whether it repeats its text."""

    revision: int
    same_text: bool  # False: the same page (page_hash), extracted into another text


def content_hash(article: EnrichedArticle) -> str:
    """Hash of the stored row: what an article says and what newsflow found about it
    (verdict, tags), ignoring when, through which feed and from which variant of its
    page it was seen. Equal hashes mean there is nothing to write but the feeds."""
    return hashlib.sha256(article.to_json(exclude=_VOLATILE | _PAGE_FETCH)).hexdigest()


class ArticleRepository:
    """Articles on SQLite or PostgreSQL; the schema is migrated when the repository opens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, COMPONENT, MIGRATIONS)

    # -- writes ---------------------------------------------------------------

    def upsert(self, article: EnrichedArticle) -> UpsertResult:
        """Insert or update one article; storing content seen before is a no-op.

        Inside a caller's transaction it joins it without a savepoint of its
        own (the store stage wraps each message in one already).
        """
        with self.db.transaction(savepoint=False):
            return self._upsert(article)

    def upsert_many(self, articles: Iterable[EnrichedArticle]) -> list[UpsertResult]:
        """Upsert a batch in one transaction: one commit, and all or none of it is stored."""
        with self.db.transaction():
            return [self._upsert(article) for article in articles]

    def record_duplicate(self, event: DuplicateEvent) -> UpsertResult:
        """Store the duplicate itself and credit its feeds to the canonical article.

        The event is the authority on the verdict: its ``duplicate_of``,
        ``cluster_id``, ``similarity`` and ``verdict_version`` are written onto
        the stored duplicate.
        Like :meth:`upsert`, it joins a caller's transaction as it is.
        """
        duplicate = event.article.with_verdict(
            cluster_id=event.cluster_id,
            duplicate_of=event.duplicate_of,
            similarity=event.similarity,
            version=event.verdict_version,
            feeds=_merge(event.article.feeds, event.feeds),
        )
        with self.db.transaction(savepoint=False):
            result = self._upsert(duplicate)
            canonical = self._current(event.duplicate_of)
            if canonical is not None:
                self._credit(
                    event.duplicate_of, canonical.feeds, _merge(canonical.feeds, duplicate.feeds)
                )
        return result

    # -- reads ----------------------------------------------------------------

    def get(self, article_id: str) -> EnrichedArticle | None:
        rows = self.db.execute("SELECT data, feeds FROM articles WHERE id = ?", (article_id,))
        return load_article(rows[0]) if rows else None

    def iter_all(self) -> Iterator[EnrichedArticle]:
        """Every stored article in id order, read in pages so memory stays flat."""
        for data, feeds in self._iter_rows():
            yield load_article((data, feeds))

    def iter_json(self) -> Iterator[str]:
        """Every stored article as one JSON document (no newline), in id order.

        The text is the article as it was serialised when stored, with the
        merged feeds: the same bytes whichever engine holds it.
        """
        for data, feeds in self._iter_rows():
            yield export_json(data, feeds)

    def count(self, *, duplicates: bool | None = None) -> int:
        where = {
            None: "",
            True: " WHERE duplicate_of IS NOT NULL",
            False: " WHERE duplicate_of IS NULL",
        }
        return int(self.db.execute("SELECT COUNT(*) FROM articles" + where[duplicates])[0][0])

    def revisions(self, article_id: str) -> list[Revision]:
        """Every content revision stored for an article, oldest first."""
        rows = self.db.execute(
            "SELECT article_id, revision, content_hash, title, text, stored_at, page_hash"
            " FROM article_revisions WHERE article_id = ? ORDER BY revision",
            (article_id,),
        )
        return [Revision(*row) for row in rows]

    def page_validators(self, urls: Iterable[str]) -> dict[str, Validators]:
        """The validators each page at ``urls`` was served with when last fetched, for
        an update's conditional fetch; pages stored without any are left out.

        A page is found by the URL it was served at, and, when a redirect led there,
        by the URL the feed listed: an update requests the listed URL, and the
        redirect is followed with the same conditional headers.

        Called for the entries a poll hands on as updated only (two indexed lookups
        by key), never for new ones.
        """
        keys = {url: bounded_key(url) for url in urls}
        wanted = list(dict.fromkeys(keys.values()))
        found: dict[str, Validators] = {}
        for start in range(0, len(wanted), _PAGE):
            chunk = list(wanted[start : start + _PAGE])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT page_url_key, page_listed_key, page_etag, page_last_modified"
                f" FROM articles WHERE (page_url_key IN ({marks}) OR page_listed_key IN"
                f" ({marks})) AND (page_etag IS NOT NULL OR page_last_modified IS NOT NULL)"
                " ORDER BY updated_at",
                chunk + chunk,
            )
            for url_key, listed_key, etag, modified in rows:
                validators = Validators(etag, modified)
                found.update((key, validators) for key in (url_key, listed_key) if key)
        return {url: found[key] for url, key in keys.items() if key in found}

    def duplicates(self, article_id: str) -> list[EnrichedArticle]:
        """The stored articles found to duplicate ``article_id``."""
        rows = self.db.execute(
            "SELECT data, feeds FROM articles WHERE duplicate_of = ? ORDER BY id", (article_id,)
        )
        return [load_article(r) for r in rows]

    def cluster(self, cluster_id: str) -> list[EnrichedArticle]:
        """The articles of one cluster, oldest first."""
        rows = self.db.execute(
            "SELECT data, feeds FROM articles WHERE cluster_id = ? ORDER BY dated_at, id",
            (cluster_id,),
        )
        return [load_article(r) for r in rows]

    def clusters(self, *, min_size: int = 2, limit: int = 100) -> list[ClusterSummary]:
        """Clusters with at least ``min_size`` articles, largest first."""
        rows = self.db.execute(
            "SELECT cluster_id, COUNT(*), MIN(COALESCE(duplicate_of, id)),"
            " MIN(dated_at) FROM articles WHERE cluster_id IS NOT NULL GROUP BY cluster_id"
            " HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, cluster_id LIMIT ?",
            (min_size, limit),
        )
        return [ClusterSummary(r[0], int(r[1]), r[2], r[3]) for r in rows]

    # -- internals ------------------------------------------------------------

    def _upsert(self, article: EnrichedArticle) -> UpsertResult:
        """The upsert itself; the caller holds the transaction."""
        digest = content_hash(article)
        current = self._current(article.id)
        if current is None:
            self._insert(article, digest)
            return "inserted"
        result = self._upsert_stored(article, current, digest)
        self._keep_page_validators(article, current)
        return result

    def _upsert_stored(
        self, article: EnrichedArticle, current: _Current, digest: str
    ) -> UpsertResult:
        """The upsert of an article stored before (``current``)."""
        feeds = _merge(current.feeds, article.feeds)
        if digest == current.content_hash:
            return self._credit(article.id, current.feeds, feeds)
        repeat = self._repeated_revision(article)
        if repeat is None:
            revision = max(article.revision, current.revision + 1)
            update = {"feeds": feeds, "revision": revision}
            self._update(article.model_copy(update=update), digest, new_revision=True)
            return "updated"
        if repeat.same_text and repeat.revision == current.revision:
            update = {"feeds": feeds, "revision": current.revision}
            self._update(article.model_copy(update=update), digest, new_revision=False)
            return "updated"
        return self._keep_content(article, current, feeds)

    def _keep_content(
        self, article: EnrichedArticle, current: _Current, feeds: list[str]
    ) -> UpsertResult:
        """Content stored before came again: keep what is stored, take the verdict and feeds."""
        stored = self.get(article.id)
        assert stored is not None  # the caller found its row in this transaction
        verdict = article.verdict()
        if stored.verdict() == verdict:
            return self._credit(article.id, current.feeds, feeds)
        kept = stored.model_copy(update={**verdict, "feeds": feeds})
        self._update(kept, content_hash(kept), new_revision=False)
        return "updated"

    def _iter_rows(self) -> Iterator[tuple[str, str]]:
        last = ""
        while True:
            rows = self.db.execute(
                "SELECT id, data, feeds FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                (last, _PAGE),
            )
            for _, data, feeds in rows:
                yield data, feeds
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def _current(self, article_id: str) -> _Current | None:
        """The stored row's state, locked on PostgreSQL until the caller's transaction ends:
        two writers of one article (a store worker and a zombie of a rebalance) then merge
        their feeds one after the other instead of the second overwriting the first's."""
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        rows = self.db.execute(
            "SELECT content_hash, revision, feeds, page_etag, page_last_modified, page_url_key,"
            f" page_listed_key, page_fetched_at FROM articles WHERE id = ?{lock}",
            (article_id,),
        )
        if not rows:
            return None
        digest, revision, feeds, etag, modified, *page = rows[0]
        validators = Validators(etag, modified)
        return _Current(digest, int(revision), json.loads(feeds), validators, *page)

    def _keep_page_validators(self, article: EnrichedArticle, current: _Current) -> None:
        """Write the validators ``article``'s page came with, and which page that is, when
        it came with any and they differ from the stored ones (the page changed, only its
        ETag did, or the article was fetched from another page).

        The listed URL a redirect came from stays while the page is the same one: a feed
        linking the page itself does not make the redirect of another feed unknown.

        Only a later fetch replaces them: a replayed or redelivered message fetched
        before the stored validators would put back ones the server has moved on from,
        and the next update would be fetched whole. "Later" is the message's
        ``fetched_at``, the time the fetch stage got the page: every fetched page has
        one, and fetches of one URL happen in order (one partition, one fetch worker,
        its clock). Last-Modified is no such order: many servers send only an ETag,
        and a page restored from a backup or served by another CDN node goes back in
        time; an ETag has no order at all.
        """
        validators = _page_validators(article)
        if validators == Validators():
            return
        fetched_at = utc_text(article.fetched_at)
        assert fetched_at is not None  # a required field
        if current.page_fetched_at is not None and fetched_at < current.page_fetched_at:
            return
        url_key = bounded_key(article.url)
        listed_key = _listed_key(article)
        if listed_key is None and url_key == current.page_url_key:
            listed_key = current.page_listed_key
        stored = (current.validators, current.page_url_key, current.page_listed_key)
        if (validators, url_key, listed_key) == stored and fetched_at == current.page_fetched_at:
            return
        self.db.execute(
            "UPDATE articles SET page_etag = ?, page_last_modified = ?, page_url_key = ?,"
            " page_listed_key = ?, page_fetched_at = ? WHERE id = ?",
            (*astuple(validators), url_key, listed_key, fetched_at, article.id),
        )

    def _repeated_revision(self, article: EnrichedArticle) -> _Repeat | None:
        """The newest stored revision with the article's title and text, or from its page."""
        rows = self.db.execute(
            "SELECT revision, title, text, page_hash FROM article_revisions"
            " WHERE article_id = ? ORDER BY revision DESC",
            (article.id,),
        )
        said = (storable_text(article.title), storable_text(article.text))
        for revision, title, text, page_hash in rows:
            if (title, text) == said:
                return _Repeat(int(revision), same_text=True)
            if article.page_hash is not None and page_hash == article.page_hash:
                return _Repeat(int(revision), same_text=False)
        return None

    def _credit(self, article_id: str, old: list[str], new: list[str]) -> UpsertResult:
        if new == old:
            return "unchanged"
        self.db.execute(
            "UPDATE articles SET feeds = ?, updated_at = ? WHERE id = ?",
            (json.dumps(new), utcnow().isoformat(), article_id),
        )
        return "updated"

    def _insert(self, article: EnrichedArticle, digest: str) -> None:
        now = utcnow().isoformat()
        validators = _page_validators(article)
        feeds = _merge(article.feeds, self._feeds_of_duplicates(article.id))
        self.db.execute(
            "INSERT INTO articles (id, canonical_url, url, source, title, text, language,"
            " published_at, fetched_at, dated_at, duplicate_of, cluster_id, revision,"
            " content_hash, feeds, data, stored_at, updated_at, page_etag, page_last_modified,"
            " page_url_key, page_listed_key, page_fetched_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (article.id, *_columns(article), digest, json.dumps(feeds), _data(article), now, now,
             *astuple(validators), bounded_key(article.url), _listed_key(article),
             utc_text(article.fetched_at) if validators != Validators() else None),
        )  # fmt: skip
        self._write_revision(article, digest, now)
        self._write_tags(article, replace=False)

    def _update(self, article: EnrichedArticle, digest: str, *, new_revision: bool) -> None:
        now = utcnow().isoformat()
        self.db.execute(
            "UPDATE articles SET canonical_url = ?, url = ?, source = ?, title = ?, text = ?,"
            " language = ?, published_at = ?, fetched_at = ?, dated_at = ?, duplicate_of = ?,"
            " cluster_id = ?, revision = ?, content_hash = ?, feeds = ?, data = ?,"
            " updated_at = ? WHERE id = ?",
            (*_columns(article), digest, json.dumps(article.feeds), _data(article), now,
             article.id),
        )  # fmt: skip
        if new_revision:
            self._write_revision(article, digest, now)
        self._write_tags(article)

    def _feeds_of_duplicates(self, article_id: str) -> list[str]:
        """Feeds of duplicates stored before their canonical article arrived."""
        rows = self.db.execute("SELECT feeds FROM articles WHERE duplicate_of = ?", (article_id,))
        return sorted({feed for (feeds,) in rows for feed in json.loads(feeds)})

    def _write_revision(self, article: EnrichedArticle, digest: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO article_revisions (article_id, revision, content_hash, title, text,"
            " stored_at, page_hash) VALUES (?,?,?,?,?,?,?)",
            (article.id, article.revision, digest, storable_text(article.title),
             storable_text(article.text), now, article.page_hash),
        )  # fmt: skip

    def _write_tags(self, article: EnrichedArticle, *, replace: bool = True) -> None:
        """Tag rows for the filters; ``replace`` drops the previous revision's rows first."""
        if replace:
            self.db.execute("DELETE FROM article_topics WHERE article_id = ?", (article.id,))
            self.db.execute("DELETE FROM article_entities WHERE article_id = ?", (article.id,))
        topics = {tag_key(t): t for t in article.topics if tag_key(t)}
        self.db.insert_rows(
            "INSERT INTO article_topics (article_id, topic, topic_key)",
            [(article.id, storable_text(label), key) for key, label in sorted(topics.items())],
        )
        entities = {(tag_key(e.name), e.type): e.name for e in article.entities if tag_key(e.name)}
        self.db.insert_rows(
            "INSERT INTO article_entities (article_id, name, type, name_key)",
            [(article.id, storable_text(name), storable_text(kind), key)
             for (key, kind), name in sorted(entities.items())],
        )  # fmt: skip


def tag_key(label: str) -> str:
    """The form a topic or entity is looked up by: case and spacing do not matter."""
    return bounded_key(" ".join((storable_text(label) or "").casefold().split()))


def export_json(data: str, feeds: str) -> str:
    """One stored article as a JSON document: its stored JSON with the merged feeds."""
    document: dict[str, Any] = json.loads(data)
    document["feeds"] = json.loads(feeds)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _columns(article: EnrichedArticle) -> Sequence[Any]:
    """The indexed columns, from ``canonical_url`` to ``revision``, in table order."""
    return (
        article.canonical_url, article.url, article.source, storable_text(article.title),
        storable_text(article.text), article.language, utc_text(article.published_at),
        utc_text(article.fetched_at), utc_text(article.published_at or article.fetched_at),
        article.duplicate_of, article.cluster_id, article.revision,
    )  # fmt: skip


def _data(article: EnrichedArticle) -> str:
    """The ``data`` column: the article's JSON, without what has columns of its own."""
    return article.to_json(exclude=_PAGE_FETCH).decode("utf-8")


def _page_validators(article: EnrichedArticle) -> Validators:
    return Validators(storable_text(article.page_etag), storable_text(article.page_last_modified))


def _listed_key(article: EnrichedArticle) -> str | None:
    """The key of the URL the feed listed, when a redirect led from it to the page."""
    if article.listed_url is None or article.listed_url == article.url:
        return None
    return bounded_key(article.listed_url)


def utc_text(value: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so text comparison is time order on both engines."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _merge(old: Iterable[str], new: Iterable[str]) -> list[str]:
    return sorted(set(old) | set(new))


def load_article(row: Sequence[str]) -> EnrichedArticle:
    """An article from its stored ``(data, feeds)`` columns."""
    article = decode(EnrichedArticle, row[0])
    return article.model_copy(update={"feeds": json.loads(row[1])})
