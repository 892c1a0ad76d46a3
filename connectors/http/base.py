"""The fetcher interface every stage and feed poller uses.

One method, like an HTTP transport: ``fetch(url, ...) -> FetchResponse``.
Implementations raise :class:`~pipeline.errors.FetchError` subclasses, never
library exceptions. A 304 Not Modified is a normal response (``status == 304``,
empty body), not an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from connectors.http.charset import charset_of

Purpose = Literal["feed", "article", "robots"]


@dataclass(frozen=True)
class FetchResponse:
    url: str
    """The final URL, after redirects."""
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers with lower-case names."""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        return charset_of(self.headers.get("content-type"))

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Fetcher(Protocol):
    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        """Fetch one http(s) URL; anything else is refused (local feed files: see below)."""
        ...

    def close(self) -> None: ...


class LocalFeedSource(Protocol):
    """Reads a feed file named in the configuration; never reachable from a URL.

    A separate method, so a link found inside a feed (always passed to
    :meth:`Fetcher.fetch`) can never name a file on this machine.
    """

    def fetch_local_feed(
        self, path: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResponse: ...
