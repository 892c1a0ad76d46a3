"""Fetch stage: a feed entry in, the article page out.

Entries that already carry their page (WARC backfills) pass straight through,
so a backfill never touches the network.

An entry fetched again because its feed lists it as updated carries the
validators its stored page was served with (ETag, Last-Modified): the request
is conditional, and a 304 Not Modified means the page did not change. Nothing
goes on to extraction, and the entry is done, not failed: a second feed listing
the same update costs a 304, not a page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from prometheus_client import Counter

from connectors.http.base import Fetcher
from connectors.http.charset import decode_page
from pipeline.errors import FetchError, InputError
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.stages.base import Stage
from pipeline.urls import canonicalize_url

PAGES = Counter(
    "newsflow_fetch_pages",
    "Article pages the fetch stage asked for, by outcome: fetched, or not_modified (an"
    " update's conditional fetch answered 304: the stored page is current).",
    ["outcome"],
)


class FetchStage(Stage):
    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self, fetcher: Fetcher, *, max_body_bytes: int) -> None:
        self.fetcher = fetcher
        self.max_body_bytes = max_body_bytes

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        if message.body is not None:
            return [FetchedPage(entry=message, url=message.url, html=message.body)]
        response = self.fetcher.fetch(
            message.fetch_url,
            purpose="article",
            etag=message.etag,
            last_modified=message.last_modified,
        )
        if response.not_modified and (message.etag or message.last_modified):
            PAGES.labels("not_modified").inc()
            return []
        if response.status != 200:
            raise FetchError(
                f"unexpected HTTP {response.status} for {message.fetch_url}",
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
