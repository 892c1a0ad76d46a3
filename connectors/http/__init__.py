"""One HTTP fetcher for feeds and article pages: safe (SSRF guard, caps,
deadlines) and polite (per-host limits, Retry-After, robots.txt, conditional GET).

Start from :func:`build_fetcher`; the pieces are importable on their own.
"""

from connectors.http.base import Fetcher, FetchResponse, LocalFeedSource, Purpose
from connectors.http.clock import Clock, FakeClock, SystemClock
from connectors.http.fetcher import CompositeFetcher, HttpFetcher, build_fetcher
from connectors.http.guard import AddressGuard, Resolver, forbidden_reason, parse_ip_host
from connectors.http.local import LocalFeedReader, MirrorFetcher

__all__ = [
    "AddressGuard",
    "Clock",
    "CompositeFetcher",
    "FakeClock",
    "FetchResponse",
    "Fetcher",
    "HttpFetcher",
    "LocalFeedReader",
    "LocalFeedSource",
    "MirrorFetcher",
    "Purpose",
    "Resolver",
    "SystemClock",
    "build_fetcher",
    "forbidden_reason",
    "parse_ip_host",
]
