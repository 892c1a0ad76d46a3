"""The fetcher the service uses, composed from config: mirrors, network, feed files.

>>> from pipeline.config import FetchConfig
>>> fetcher = build_fetcher(FetchConfig(), local_feeds=["/srv/feeds/local.xml"])
>>> from pipeline.errors import FetchRefused
>>> try:
...     fetcher.fetch_local_feed("/etc/passwd")
... except FetchRefused as exc:
...     print(exc.reason)
local_path
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from connectors.http.base import FetchResponse, Purpose
from connectors.http.clock import Clock
from connectors.http.fetcher import HttpFetcher
from connectors.http.guard import Resolver, system_resolver
from connectors.http.local import LocalFeedReader, MirrorFetcher
from pipeline.config import FetchConfig


class CompositeFetcher:
    """URLs under a mirror prefix come from disk, all others from the network.

    Implements both :class:`~connectors.http.base.Fetcher` and
    :class:`~connectors.http.base.LocalFeedSource`.
    """

    def __init__(
        self,
        network: HttpFetcher,
        *,
        mirrors: MirrorFetcher | None = None,
        local_feeds: LocalFeedReader | None = None,
    ) -> None:
        self.network = network
        self._mirrors = mirrors
        self._local_feeds = local_feeds or LocalFeedReader((), max_body_bytes=1024)

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        if self._mirrors is not None and self._mirrors.serves(url):
            return self._mirrors.fetch(url, purpose=purpose, etag=etag, last_modified=last_modified)
        return self.network.fetch(url, purpose=purpose, etag=etag, last_modified=last_modified)

    def fetch_local_feed(
        self, path: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResponse:
        return self._local_feeds.fetch_local_feed(path, etag=etag, last_modified=last_modified)

    def close(self) -> None:
        self.network.close()


def build_fetcher(
    config: FetchConfig,
    *,
    local_feeds: Iterable[str | Path] = (),
    clock: Clock | None = None,
    resolver: Resolver = system_resolver,
) -> CompositeFetcher:
    """Compose the fetcher for ``config``; ``local_feeds`` are the configured feed paths.

    Pass ``[f.url for f in config.feeds if f.is_local]`` as ``local_feeds``:
    they are the only files :meth:`CompositeFetcher.fetch_local_feed` reads.
    """
    mirrors = (
        MirrorFetcher(config.local_mirrors, max_body_bytes=config.max_body_bytes)
        if config.local_mirrors
        else None
    )
    return CompositeFetcher(
        HttpFetcher(config, clock=clock, resolver=resolver),
        mirrors=mirrors,
        local_feeds=LocalFeedReader(local_feeds, max_body_bytes=config.max_body_bytes),
    )
