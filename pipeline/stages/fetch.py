"""Fetch stage: a feed entry in, the article page out.

Entries that already carry their page (WARC backfills) pass straight through,
so a backfill never touches the network.

An entry fetched again because its feed lists it as updated carries the
validators its stored page was served with (ETag, Last-Modified): the request
is conditional, and a 304 Not Modified means the page did not change. Nothing
goes on to extraction, and the entry is done, not failed: a second feed listing
the same update costs a 304, not a page.

Two feeds listing the same update in one run both carry the validators read
before either fetch was stored; both would get the changed page whole. The
stage remembers, for a while, what an update's conditional fetch of a URL was
answered with (:class:`RecentUpdates`): the same update of the same URL (the
same validators sent) waits for a fetch of it in flight and then asks with the
validators that fetch got instead, and a 304 ends it. No state is shared
between processes: entries are keyed by their URL, so on Kafka every update of
one URL goes to the one fetch worker that owns its partition.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from prometheus_client import Counter

from connectors.http.base import Fetcher
from connectors.http.charset import decode_page
from pipeline.errors import FetchError, InputError, excerpt
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.stages.base import Stage
from pipeline.urls import canonicalize_url

PAGES = Counter(
    "newsflow_fetch_pages",
    "Article pages the fetch stage asked for, by outcome: fetched, or not_modified (an"
    " update's conditional fetch answered 304: the stored page is current).",
    ["outcome"],
)


PageValidators = tuple[str | None, str | None]
"""An ETag and a Last-Modified, either may be missing."""

RECENT_SECONDS = 600.0
"""How long what an update's fetch was answered with stands in for the validators
that were stored before it. Long enough for every feed of a run to list the update;
short, because it stands in only until the page fetched is stored: if it never is
(its extraction failed), later updates must fetch the page again."""
RECENT_MAX = 4096
"""Updates remembered at most (the oldest answered are forgotten first)."""


@dataclass
class _Update:
    """One update's conditional fetch: in flight until ``done``, then what it got."""

    done: threading.Event = field(default_factory=threading.Event)
    answered: PageValidators | None = None
    """The validators of the page a 200 brought (None: a 304, a failure, none sent)."""
    finished_at: float = 0.0


class RecentUpdates:
    """The updates this stage fetched lately, by (URL, validators sent).

    An update of a URL sends the validators stored with its page. When another
    entry brings the same update (another feed, same validators) while that fetch
    is in flight or shortly after it, the page it fetched is on its way to the
    store: asking with that page's validators instead costs a 304 when it did not
    change again. Thread-safe: the stage's fetch threads share it.
    """

    def __init__(
        self,
        *,
        keep_seconds: float = RECENT_SECONDS,
        max_entries: int = RECENT_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_seconds = keep_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._updates: OrderedDict[tuple[str, PageValidators], _Update] = OrderedDict()

    def claim(self, key: tuple[str, PageValidators]) -> tuple[bool, _Update]:
        """``(True, update)`` to fetch ``key`` and :meth:`settle` it; ``(False, update)``
        when another fetch of it is in flight or recent: :meth:`wait` for its answer."""
        with self._lock:
            self._forget_old()
            known = self._updates.get(key)
            if known is not None:
                return False, known
            update = _Update()
            self._updates[key] = update
            return True, update

    def settle(
        self, key: tuple[str, PageValidators], update: _Update, answered: PageValidators | None
    ) -> None:
        """The fetch of ``key`` ended (``answered``: what its 200 came with); waiters go on.
        Without an answer to stand in (a 304, a failure) it is forgotten at once: the next
        entry with ``key`` (a retry, too) fetches as it would have."""
        with self._lock:
            update.answered = answered
            update.finished_at = self.clock()
            if answered is None:
                self._updates.pop(key, None)
            else:
                self._updates.move_to_end(key)
        update.done.set()

    def wait(self, update: _Update, timeout: float) -> PageValidators | None:
        """The validators to ask with instead, once the fetch claimed before ends
        (at most ``timeout`` seconds); None: ask with one's own."""
        if not update.done.wait(timeout):
            return None
        return update.answered

    def _forget_old(self) -> None:
        """Drop finished updates past their time, then the oldest over the bound."""
        now = self.clock()
        for key, update in list(self._updates.items()):
            if not update.done.is_set():
                continue
            if now - update.finished_at <= self.keep_seconds:
                break  # finished ones are in the order they finished
            del self._updates[key]
        finished = [k for k, u in self._updates.items() if u.done.is_set()]
        for key in finished[: max(0, len(self._updates) - self.max_entries)]:
            del self._updates[key]


class FetchStage(Stage):
    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        max_body_bytes: int,
        deadline: float = 60.0,
        recent: RecentUpdates | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.max_body_bytes = max_body_bytes
        self.deadline = deadline
        """How long an update waits for the same update's fetch in flight."""
        self.recent = recent if recent is not None else RecentUpdates()

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        if message.body is not None:
            return [FetchedPage(entry=message, url=message.url, html=message.body)]
        sent: PageValidators = (message.etag, message.last_modified)
        if sent == (None, None):  # a new entry, or a page stored without validators
            return self._fetched(message, sent)
        key = (message.url, sent)
        owner, update = self.recent.claim(key)
        if not owner:
            return self._fetched(message, self.recent.wait(update, self.deadline) or sent)
        answered: PageValidators | None = None
        try:
            pages = self._fetched(message, sent)
            answered = next(((p.etag, p.last_modified) for p in pages), None)
            return pages
        finally:
            self.recent.settle(key, update, None if answered == (None, None) else answered)

    def _fetched(self, message: FeedEntry, sent: PageValidators) -> list[FetchedPage]:
        """The page at the entry's URL, asked for with ``sent``; none when a 304 says the
        stored page is current."""
        etag, last_modified = sent
        response = self.fetcher.fetch(
            message.fetch_url, purpose="article", etag=etag, last_modified=last_modified
        )
        if response.not_modified and (etag or last_modified):
            PAGES.labels("not_modified").inc()
            return []
        if response.status != 200:
            raise FetchError(
                f"unexpected HTTP {response.status} for {excerpt(message.fetch_url)!r}",
                url=message.fetch_url,
                reason=f"http_{response.status}",
            )
        PAGES.labels("fetched").inc()
        return [
            FetchedPage(
                entry=message,
                url=_page_url(message, response.url),
                status=response.status,
                content_type=response.content_type or "text/html",
                html=decode_page(response.body, response.charset, max_bytes=self.max_body_bytes),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        ]

    def close(self) -> None:
        self.fetcher.close()


def _page_url(entry: FeedEntry, final_url: str) -> str:
    """The entry's canonical URL, or the redirect target cleaned the same way.

    A redirect may land on ``/a/44.html?utm_source=x#top``; kept as written, it would
    store the article a second time beside the feed that links ``/a/44.html`` directly.
    """
    if final_url == entry.fetch_url:
        return entry.url
    try:
        return canonicalize_url(final_url)
    except InputError:  # the fetcher only follows http(s) redirects: not expected
        return final_url
