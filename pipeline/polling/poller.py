"""Poll one feed: fetch (conditionally), parse, keep only new entries; commit afterwards.

Polling and committing are two calls on purpose::

    result = poller.poll(feed)          # reads state, fetches, parses: writes nothing
    hand_off_durably(result.entries)    # stored, or produced to Kafka
    poller.commit(feed, result)         # entries marked seen, validators saved

A crash (even ``kill -9``) between the two re-delivers the same entries on
the next poll instead of losing them; the store is idempotent, so the
re-delivery is harmless. ``commit`` must be called for every result,
including errors (it counts the failure).

An entry is new when its canonical URL was not seen before for this feed and
its GUID (when the feed's GUIDs are usable) was not either: the same URL
under a new GUID is not a new article, nor is a GUID whose URL changed slug.
GUIDs repeated inside one document, or short numbers (positions), are ignored.
An entry seen before comes again when the feed lists it as updated since it
was handed on (:mod:`pipeline.polling.revisions`), carrying the validators its
stored page was served with (from ``pages``, looked up for updates only): its
fetch is conditional, and an unchanged page costs a 304.

A WARC feed (a backfill) is read in batches of :data:`WARC_BATCH` pages with
their bodies; ``commit`` saves where the next batch starts, and ``more`` says
to poll again at once. Finished files are remembered and not read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from connectors.feeds import FeedLimits, ParsedFeed, is_warc_feed, iter_warc_entries, parse_feed
from connectors.feeds.warc import read_warc_batch, warc_paths
from connectors.http.base import Fetcher, FetchResponse
from connectors.storage.feed_state import FeedState, FeedStateRepository, Validators
from pipeline.config import Config, FeedConfig
from pipeline.errors import (
    FeedError,
    FetchError,
    HostBlocked,
    HttpStatusError,
    NewsflowError,
    StorageError,
)
from pipeline.models import FeedEntry
from pipeline.polling import metrics
from pipeline.polling.revisions import generation_stamped, last_revision, revision_of

log = logging.getLogger(__name__)

CHILD_TIME_FACTOR = 2
"""A sitemap index's children are fetched for at most this many ``fetch.deadline``s."""

PollStatus = Literal["ok", "not_modified", "error"]

_POSITIONAL_GUID = re.compile(r"^\d{1,3}$")
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)
MAX_SITEMAP_DEPTH = 2
WARC_BATCH = 256
"""Entries (with their page bodies) handed over per poll of a WARC backfill."""


class PageValidatorSource(Protocol):
    """Where the validators of stored pages are read
    (:class:`~connectors.storage.articles.ArticleRepository`)."""

    def page_validators(self, urls: Iterable[str]) -> dict[str, Validators]: ...


@dataclass(frozen=True)
class PollResult:
    """What one poll found. Only ``entries`` that are new; pass it back to ``commit``."""

    feed: str
    status: PollStatus
    entries: list[FeedEntry] = field(default_factory=list)
    updated: int = 0
    """How many of ``entries`` (the last ones) were handed on before and are listed as
    changed since (:mod:`pipeline.polling.revisions`)."""
    updates_waiting: int = 0
    """Entries listed as changed over ``schedule.max_updated_per_poll``: the next poll's."""
    updates_stamped: bool = False
    """The document's updated times looked like its generation time and were ignored."""
    error: NewsflowError | None = None
    kind: str | None = None
    total_entries: int = 0
    """Entries listed by the documents fetched, new or not."""
    ttl_seconds: float | None = None
    """The publisher's wish: ``<ttl>``, syndication period or Cache-Control max-age."""
    retry_after: float | None = None
    last_modified: str | None = None
    child_errors: list[str] = field(default_factory=list)
    """Child sitemaps that failed; the rest of the index was still read."""
    polled_at: float = 0.0
    validators: dict[str, Validators] = field(default_factory=dict, repr=False)
    seen_keys: list[str] = field(default_factory=list, repr=False)
    """Keys ``commit`` marks seen: those of new entries plus refreshed old ones."""
    keys_by_url: dict[str, list[str]] = field(default_factory=dict, repr=False)
    """The keys of each new entry (by URL), for :meth:`FeedPoller.mark_seen`."""
    revisions: dict[str, float] = field(default_factory=dict, repr=False)
    """The revision to record with a key when it is marked (:mod:`~pipeline.polling.revisions`)."""
    marked: set[str] = field(default_factory=set, repr=False, compare=False)
    """Keys :meth:`FeedPoller.mark_seen` already marked: ``commit`` does not number them
    again (each number spent twice would halve the seen window)."""
    cursor: str | None = field(default=None, repr=False)
    """Where a WARC backfill resumes; saved by ``commit``."""
    more: bool = False
    """A WARC backfill has more to deliver: poll again right away."""

    @property
    def new_entries(self) -> int:
        """How many of ``entries`` are new (the rest were fetched before and are updated)."""
        return len(self.entries) - self.updated

    @property
    def not_modified(self) -> bool:
        return self.status == "not_modified"

    @property
    def ok(self) -> bool:
        return self.status != "error"

    @property
    def deferred(self) -> bool:
        """Not polled at all: the feed's host asked (Retry-After, in an answer to another
        of its URLs) to be left alone for ``retry_after`` seconds more. Not the feed's
        failure: it neither counts towards unhealthy nor backs the feed off."""
        return isinstance(self.error, HostBlocked)


@dataclass
class _Selection:
    """What a poll hands on and marks, built entry by entry (:meth:`FeedPoller._new_entries`)."""

    entries: list[FeedEntry] = field(default_factory=list)
    to_mark: list[str] = field(default_factory=list)
    keys_by_url: dict[str, list[str]] = field(default_factory=dict)
    revisions: dict[str, float] = field(default_factory=dict)
    updated: int = 0
    updates_waiting: int = 0
    stamped: bool = False

    def hand_on(
        self, entry: FeedEntry, keys: list[str], revision: float | None, *, updated: bool = False
    ) -> None:
        self.entries.append(entry)
        self.keys_by_url[entry.url] = keys
        self.updated += updated
        if revision is not None:
            self.record(keys, revision)

    def record(self, keys: list[str], revision: float) -> None:
        """Record ``revision`` with ``keys`` (when they are marked: handed on, or at commit)."""
        self.to_mark.extend(keys)
        self.revisions.update(dict.fromkeys(keys, revision))


@dataclass(frozen=True)
class _Document:
    url: str
    response: FetchResponse
    parsed: ParsedFeed | None


class FeedPoller:
    """Polls feeds through a :class:`Fetcher` and remembers them in a FeedStateRepository.

    ``fetcher`` may also implement ``fetch_local_feed(path, etag=, last_modified=)``
    (:class:`~connectors.http.base.LocalFeedSource`) for feeds configured as a file.
    ``pages`` gives the validators of stored pages to the entries handed on as
    updated; without it, an update's page is fetched unconditionally.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        state: FeedStateRepository | None,
        config: Config,
        *,
        pages: PageValidatorSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fetcher = fetcher
        self.state = state
        self.pages = pages
        self.config = config
        self.limits = FeedLimits.from_config(config.schedule)
        self.clock = clock

    # -- polling --------------------------------------------------------------------------

    def poll(self, feed: FeedConfig) -> PollResult:
        """Fetch and parse ``feed``; return its new entries. Writes nothing.

        Fetch and feed errors become a result with ``status == "error"``;
        only storage errors (the state could not be read) are raised.
        """
        state = self.state.get(feed.name) if self.state else FeedState(feed=feed.name)
        return self._poll(feed, state, only_new=True)

    def check(self, feed: FeedConfig) -> PollResult:
        """Try ``feed`` once, unconditionally, listing every entry; reads and writes no state."""
        if is_warc_feed(feed):
            return self._check_warc(feed)
        return self._poll(feed, FeedState(feed=feed.name), only_new=False)

    def _poll(self, feed: FeedConfig, state: FeedState, *, only_new: bool) -> PollResult:
        now = self.clock()
        try:
            if is_warc_feed(feed):
                return self._poll_warc(feed, state, now)
            documents, child_errors = self._fetch_all(feed, state)
        except (FetchError, FeedError) as exc:
            return PollResult(
                feed=feed.name,
                status="error",
                error=exc,
                polled_at=now,
                retry_after=exc.retry_after if isinstance(exc, HttpStatusError) else None,
            )
        except StorageError:
            raise
        except Exception as exc:  # a bug met on this feed's input: the feed fails, not the run
            return PollResult(feed=feed.name, status="error", error=_internal(feed, exc),
                              polled_at=now)  # fmt: skip
        root = documents[0]
        validators = _validators(documents, state)
        changed = [d.parsed for d in documents if d.parsed is not None]
        if not changed:
            return PollResult(
                feed=feed.name,
                status="not_modified",
                polled_at=now,
                validators=validators,
                last_modified=root.response.headers.get("last-modified"),
                ttl_seconds=_max_age(root.response),
                child_errors=child_errors,
            )
        listed = _unique_by_url(e for parsed in changed for e in parsed.entries)
        chosen = self._new_entries(feed, state, listed, now) if only_new else _Selection(listed)
        return PollResult(
            feed=feed.name,
            status="ok",
            entries=chosen.entries,
            updated=chosen.updated,
            updates_waiting=chosen.updates_waiting,
            updates_stamped=chosen.stamped,
            kind=changed[0].kind,
            total_entries=len(listed),
            ttl_seconds=_ttl(root),
            last_modified=root.response.headers.get("last-modified"),
            child_errors=child_errors,
            polled_at=now,
            validators=validators,
            seen_keys=chosen.to_mark,
            keys_by_url=chosen.keys_by_url,
            revisions=chosen.revisions,
        )

    def _fetch_all(self, feed: FeedConfig, state: FeedState) -> tuple[list[_Document], list[str]]:
        """The feed document, then (for a sitemap index) a bounded number of children.

        When the index itself is unchanged (304), the children fetched last time
        are asked again: a news sitemap changes while its index often does not.
        Children are fetched one after another, within a time budget (twice
        ``fetch.deadline``): an index of stalling children must not hold its
        poll thread for children x deadline. An index whose every child failed
        is the feed's failure; some failing is logged.
        """
        started = time.monotonic()
        root = self._document(feed, feed.url, state)
        documents = [root]
        errors: list[str] = []
        if root.parsed is not None:
            children = root.parsed.child_sitemaps
        else:
            children = [url for url in state.validators if url != feed.url]
        queue = [(url, 1) for url in children]
        budget = self.limits.max_child_sitemaps
        seen = {feed.url}
        indexes = {feed.url}
        loops: list[str] = []
        deadline = started + CHILD_TIME_FACTOR * self.config.fetch.deadline
        while queue and budget > 0:
            url, depth = queue.pop(0)
            if url in seen:
                if url in indexes:
                    loops.append(url)
                continue
            if time.monotonic() > deadline:
                metrics.CHILD_FAILURES.labels(feed.name, "time_budget").inc()
                errors.append(f"{min(len(queue) + 1, budget)} child sitemaps left for the next"
                              " poll: this poll's time budget is spent")  # fmt: skip
                break
            seen.add(url)
            budget -= 1
            try:
                child = self._document(feed, url, state)
            except (FetchError, FeedError) as exc:
                metrics.CHILD_FAILURES.labels(feed.name, exc.reason).inc()
                errors.append(f"{url}: {exc}")
                continue
            documents.append(child)
            if child.parsed and child.parsed.child_sitemaps:
                indexes.add(url)
            if child.parsed and depth < MAX_SITEMAP_DEPTH:
                queue.extend((u, depth + 1) for u in child.parsed.child_sitemaps)
        if budget == 0:
            _children_over_cap(
                feed, {url for url, _ in queue} - seen, cap=self.limits.max_child_sitemaps
            )
        if errors:
            _child_failures(feed, children_fetched=len(documents) - 1, errors=errors)
        if loops:
            _sitemap_loops(feed, loops, children=documents[1:])
        return documents, errors

    def _document(self, feed: FeedConfig, url: str, state: FeedState) -> _Document:
        known = state.validators.get(url, Validators())
        response = self._fetch(feed, url, known)
        if response.not_modified:
            _check_304_answers_validators(feed, url, known)
            return _Document(url, response, None)
        parsed = parse_feed(
            response.body,
            feed=feed,
            base_url=response.url,
            kind=feed.kind,
            limits=self.limits,
            content_type=response.headers.get("content-type"),
        )
        return _Document(url, response, parsed)

    def _fetch(self, feed: FeedConfig, url: str, known: Validators) -> FetchResponse:
        if url == feed.url and feed.is_local:
            read_local = getattr(self.fetcher, "fetch_local_feed", None)
            if read_local is None:
                raise FeedError(
                    "this fetcher cannot read local feed files",
                    feed=feed.name,
                    reason="local_unsupported",
                )
            response: FetchResponse = read_local(
                url, etag=known.etag, last_modified=known.last_modified
            )
            return response
        return self.fetcher.fetch(
            url, purpose="feed", etag=known.etag, last_modified=known.last_modified
        )

    def _new_entries(
        self, feed: FeedConfig, state: FeedState, listed: list[FeedEntry], now: float
    ) -> _Selection:
        """The new entries, then those listed as updated since handed on; what to mark."""
        usable = _usable_guids(listed)
        keyed = [(entry, entry_keys(entry, usable)) for entry in listed]
        all_keys = (k for _, keys in keyed for k in keys)
        known = self.state.known_keys(feed.name, all_keys) if self.state else {}
        stale_below = state.seen_seq - self.config.schedule.seen_window // 2
        seen_of = [[known[k] for k in keys if k in known] for _, keys in keyed]
        recorded = [last_revision(seen) for seen in seen_of]
        trust_updates = not generation_stamped(listed, now, recorded)
        chosen = _Selection(stamped=not trust_updates)
        updated: list[tuple[FeedEntry, list[str], float]] = []
        for (entry, keys), seen, last in zip(keyed, seen_of, recorded, strict=True):
            revision = revision_of(entry) if trust_updates else None
            if not seen:
                chosen.hand_on(entry, keys, revision)
            elif revision is not None:
                if last is None:  # handed on before its time was recorded: record it only
                    chosen.record(keys, revision)
                elif revision > last:
                    updated.append((entry, keys, revision))
            # Mark unknown keys (a new GUID for a known URL too) and refresh old ones
            # still listed, so they do not fall out of the window while listed.
            chosen.to_mark.extend(k for k in keys if k not in known or known[k].seq <= stale_below)
        budget = self.config.schedule.max_updated_per_poll
        handed = updated[:budget]
        stored = self._page_validators([entry.url for entry, _, _ in handed])
        for entry, keys, revision in handed:
            chosen.hand_on(_conditional(entry, stored.get(entry.url)), keys, revision, updated=True)
        chosen.updates_waiting = len(updated[budget:])
        return chosen

    def _page_validators(self, urls: list[str]) -> dict[str, Validators]:
        """The stored pages' validators: one lookup per poll with updates, none without."""
        if not urls or self.pages is None:
            return {}
        return self.pages.page_validators(urls)

    def _poll_warc(self, feed: FeedConfig, state: FeedState, now: float) -> PollResult:
        """The next batch of a WARC backfill, from the saved cursor; finished files are seen."""
        paths = warc_paths(feed.url)
        if not paths:
            raise FeedError(f"no WARC files match {feed.url}", feed=feed.name, reason="no_files")
        keys = {path: _warc_file_key(path) for path in paths}
        done = self.state.known_keys(feed.name, keys.values()) if self.state else {}
        resume = _load_cursor(state.cursor)
        budget = min(self.limits.max_entries, WARC_BATCH)
        entries: list[FeedEntry] = []
        finished: list[str] = []
        errors: list[str] = []
        cursor = None
        for path in (p for p in paths if keys[p] not in done):
            start = resume[1] if resume and resume[0] == str(path) else 0
            batch = read_warc_batch(
                path,
                feed,
                start_offset=start,
                limit=budget - len(entries),
                max_body_bytes=self.config.fetch.max_body_bytes,
            )
            if batch.error is not None:  # a damaged file is read up to the damage, not again
                log.warning("feed %s: %s", feed.name, batch.error,
                            extra={"feed": feed.name, "reason": "bad_warc"})  # fmt: skip
                errors.append(batch.error)
            entries.extend(batch.entries)
            if not batch.finished:
                cursor = json.dumps({"file": str(path), "offset": batch.next_offset})
                break
            finished.append(keys[path])
        if len(errors) == len(paths) and not entries:
            # Not one of the feed's files can be read: the feed failed, not "read in part".
            raise FeedError(
                f"{len(errors)} of {len(errors)} WARC files unreadable: {'; '.join(errors)[:500]}",
                feed=feed.name,
                reason="bad_warc",
            )
        return PollResult(
            feed=feed.name,
            status="ok",
            entries=entries,
            kind="warc",
            total_entries=len(entries),
            child_errors=errors,
            polled_at=now,
            seen_keys=finished,
            cursor=cursor,
            more=cursor is not None,
        )

    def _check_warc(self, feed: FeedConfig) -> PollResult:
        now = self.clock()
        count = 0
        try:
            for _ in iter_warc_entries(feed.url, feed):
                count += 1
                if count >= self.limits.max_entries:
                    break
        except FeedError as exc:
            return PollResult(
                feed=feed.name,
                status="error",
                error=exc,
                kind="warc",
                total_entries=count,
                polled_at=now,
            )
        return PollResult(
            feed=feed.name, status="ok", kind="warc", total_entries=count, polled_at=now
        )

    # -- committing -----------------------------------------------------------------------

    def mark_seen(self, feed: FeedConfig, result: PollResult, entries: Sequence[FeedEntry]) -> None:
        """Mark ``entries`` of ``result`` seen before the poll commits: call it in the
        transaction that stores them (or keeps their dead letters). A service killed
        before :meth:`commit` then polls the feed again and gets only the rest."""
        keys = [k for entry in entries for k in result.keys_by_url.get(entry.url, ())]
        self._repository("mark_seen").mark_seen(
            feed.name, keys, window=self.config.schedule.seen_window, revisions=result.revisions
        )
        result.marked.update(keys)

    def commit(self, feed: FeedConfig, result: PollResult) -> FeedState:
        """Record ``result`` after its entries were handed on durably. Idempotent."""
        repository = self._repository("commit")
        before = repository.get(feed.name)
        if result.deferred:
            metrics.POLLS.labels(feed.name, "deferred").inc()
            log.info(
                "feed %s not polled: %s", feed.name, result.error,
                extra={"feed": feed.name, "reason": "host_blocked", "event": "feed_deferred"},
            )  # fmt: skip
            return before
        metrics.POLLS.labels(feed.name, result.status).inc()
        if result.error is not None:
            after = repository.record_failure(
                feed.name,
                url=feed.url,
                at=result.polled_at,
                error=str(result.error),
                reason=result.error.reason,
                unhealthy_after=self.config.schedule.unhealthy_after_failures,
            )
            metrics.FAILURES.labels(feed.name, result.error.reason).inc()
            self._log_failure(feed, before, after, result.error)
        else:
            after = repository.record_success(
                feed.name,
                url=feed.url,
                at=result.polled_at,
                validators=result.validators,
                keys=[k for k in result.seen_keys if k not in result.marked],
                window=self.config.schedule.seen_window,
                revisions=result.revisions,
                cursor=result.cursor,
            )
            self._count_entries(feed, result)
            metrics.LAST_SUCCESS.labels(feed.name).set(result.polled_at)
            if result.not_modified:
                metrics.NOT_MODIFIED.labels(feed.name).inc()
            if before.failures:
                log.info(
                    "feed %s recovered after %d failed polls",
                    feed.name,
                    before.failures,
                    extra={"feed": feed.name, "event": "feed_recovered"},
                )
        metrics.UNHEALTHY.labels(feed.name).set(int(after.unhealthy))
        return after

    def _count_entries(self, feed: FeedConfig, result: PollResult) -> None:
        metrics.ENTRIES.labels(feed.name).inc(result.new_entries)
        metrics.UPDATED.labels(feed.name, "fetched").inc(result.updated)
        if result.updates_waiting:
            metrics.UPDATED.labels(feed.name, "waiting").inc(result.updates_waiting)
        if result.updates_stamped:
            metrics.UPDATES_STAMPED.labels(feed.name).inc()

    def _repository(self, method: str) -> FeedStateRepository:
        """The feed state that committing writes (a poller without one only reads feeds)."""
        if self.state is None:
            raise RuntimeError(f"FeedPoller.{method} needs a FeedStateRepository")
        return self.state

    def _log_failure(
        self, feed: FeedConfig, before: FeedState, after: FeedState, error: NewsflowError
    ) -> None:
        """One warning when a feed starts failing and one when it turns unhealthy; no spam."""
        context = {"feed": feed.name, "reason": error.reason, "event": "feed_failed"}
        if after.unhealthy and not before.unhealthy:
            log.warning(
                "feed %s marked unhealthy after %d failed polls in a row (retried slowly): %s",
                feed.name,
                after.failures,
                error,
                extra={**context, "event": "feed_unhealthy"},
            )
        elif after.failures == 1:
            log.warning("feed %s failed: %s", feed.name, error, extra=context)
        else:
            log.debug(
                "feed %s failed again (%d in a row): %s",
                feed.name,
                after.failures,
                error,
                extra=context,
            )


# -- helpers ----------------------------------------------------------------------------


def entry_keys(entry: FeedEntry, usable_guids: set[str] | None = None) -> list[str]:
    """The keys an entry is remembered by: its canonical URL, and its GUID when usable."""
    keys = ["u:" + _digest(entry.url)]
    if entry.guid and (usable_guids is None or entry.guid in usable_guids):
        keys.append("g:" + _digest(entry.guid))
    return keys


def _conditional(entry: FeedEntry, validators: Validators | None) -> FeedEntry:
    """``entry`` carrying the validators of its stored page, when there are any."""
    if validators is None:
        return entry
    return entry.model_copy(
        update={"etag": validators.etag, "last_modified": validators.last_modified}
    )


def _usable_guids(entries: Iterable[FeedEntry]) -> set[str]:
    """GUIDs that identify one entry: unique in the document and not a bare position."""
    counts: dict[str, int] = {}
    for entry in entries:
        if entry.guid:
            counts[entry.guid] = counts.get(entry.guid, 0) + 1
    return {g for g, n in counts.items() if n == 1 and not _POSITIONAL_GUID.match(g)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _unique_by_url(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.url not in seen:
            seen.add(entry.url)
            unique.append(entry)
    return unique


def _validators(documents: list[_Document], state: FeedState) -> dict[str, Validators]:
    """New validators for documents fetched fresh; kept ones for those answered 304.

    Every document fetched is listed, with empty validators if the server sent
    none: the keys also say which child sitemaps to re-check behind a 304 index.
    """
    result: dict[str, Validators] = {}
    for document in documents:
        if document.parsed is None:
            result[document.url] = state.validators.get(document.url, Validators())
        else:
            headers = document.response.headers
            result[document.url] = Validators(headers.get("etag"), headers.get("last-modified"))
    return result


def _warc_file_key(path: Path) -> str:
    """A WARC file is done once read; a file rewritten in place (new size/mtime) is new."""
    try:
        stat = path.stat()
        identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    except OSError:
        identity = str(path)
    return "w:" + _digest(identity)


def _load_cursor(text: str | None) -> tuple[str, int] | None:
    try:
        data = json.loads(text) if text else None
        return (str(data["file"]), int(data["offset"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _max_age(response: FetchResponse) -> float | None:
    match = _MAX_AGE.search(response.headers.get("cache-control", ""))
    return float(match.group(1)) if match and int(match.group(1)) > 0 else None


def _ttl(root: _Document) -> float | None:
    hints = [
        h for h in (root.parsed.ttl_seconds if root.parsed else None, _max_age(root.response)) if h
    ]
    return max(hints) if hints else None


def _children_over_cap(feed: FeedConfig, unread: set[str], *, cap: int) -> None:
    """Children past ``schedule.max_child_sitemaps`` are not read (an index of 10,000 must
    not cost 10,000 fetches a poll); said and counted, since their entries are never seen."""
    if not unread:
        return
    metrics.CHILDREN_OVER_CAP.labels(feed.name).inc(len(unread))
    log.warning(
        "%s: %d child sitemaps of the index not read, over schedule.max_child_sitemaps (%d):"
        " their entries are not polled; raise it to read them",
        feed.name,
        len(unread),
        cap,
        extra={"feed": feed.name, "event": "child_sitemaps_over_cap", "count": len(unread)},
    )


def _child_failures(feed: FeedConfig, *, children_fetched: int, errors: list[str]) -> None:
    """Some child sitemaps failed: a warning; all of them: the feed's failure."""
    if children_fetched == 0:
        raise FeedError(
            f"every child sitemap of the index failed ({len(errors)}); first: {errors[0]}",
            feed=feed.name,
            reason="children_failed",
        )
    log.warning(
        "%s: %d child sitemaps failed (%d read); first: %s", feed.name, len(errors),
        children_fetched, errors[0], extra={"feed": feed.name, "event": "child_sitemaps_failed"},
    )  # fmt: skip


def _sitemap_loops(feed: FeedConfig, loops: list[str], *, children: list[_Document]) -> None:
    """Indexes listed again after they were read (an index listing itself, two listing each
    other) are counted; when the index leads to nothing else, that is the feed's failure,
    not a healthy feed that never yields an entry."""
    metrics.CHILD_FAILURES.labels(feed.name, "loop").inc(len(loops))
    if any(child.parsed is None or not child.parsed.child_sitemaps for child in children):
        return  # a sitemap of pages was read (or was unchanged): the loop costs nothing
    raise FeedError(
        f"the sitemap index leads back to {loops[0]}, already read, and to no sitemap of"
        " pages (an index listing itself, or indexes listing each other): nothing to read",
        feed=feed.name,
        reason="sitemap_loop",
    )


def _internal(feed: FeedConfig, error: Exception) -> FeedError:
    """An unexpected exception while polling ``feed``, as that feed's failure: it is a bug
    to fix (its traceback is logged at DEBUG), but one feed's input must not stop the others."""
    log.error(
        "polling %s failed: internal error %s: %s (this is a bug)", feed.name,
        type(error).__name__, error, extra={"feed": feed.name, "event": "bug"},
    )  # fmt: skip
    log.debug("traceback of the internal error polling %s", feed.name, exc_info=error)
    return FeedError(f"internal error: {type(error).__name__}: {error}", feed=feed.name,
                     reason="internal")  # fmt: skip


def _check_304_answers_validators(feed: FeedConfig, url: str, known: Validators) -> None:
    """A 304 only means "unchanged since the copy you have"; to a request that named no
    copy (no ETag, no Last-Modified) it is a broken server or cache, and taking it as
    "unchanged" would report the feed healthy forever while reading nothing from it."""
    if known.etag is None and known.last_modified is None:
        raise FeedError(
            f"{url} answered 304 Not Modified to a request without validators"
            " (no If-None-Match/If-Modified-Since sent): nothing to read",
            feed=feed.name,
            reason="unexpected_304",
        )
