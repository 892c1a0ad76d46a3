"""Fetch stage: a feed entry in, the article page out.

Entries that already carry their page (WARC backfills) pass straight through,
so a backfill never touches the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from connectors.http.base import Fetcher
from connectors.http.charset import decode_page
from pipeline.errors import FetchError
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.stages.base import Stage


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
        response = self.fetcher.fetch(message.fetch_url, purpose="article")
        if response.status != 200:
            raise FetchError(
                f"unexpected HTTP {response.status} for {message.fetch_url}",
                url=message.fetch_url,
                reason=f"http_{response.status}",
            )
        return [
            FetchedPage(
                entry=message,
                url=message.url if response.url == message.fetch_url else response.url,
                status=response.status,
                content_type=response.content_type or "text/html",
                html=decode_page(response.body, response.charset, max_bytes=self.max_body_bytes),
            )
        ]

    def close(self) -> None:
        self.fetcher.close()
