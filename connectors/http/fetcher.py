"""The fetcher for feeds and article pages: safe by default, polite always.

:func:`build_fetcher` composes what the service uses: URLs under a configured
mirror prefix are served from disk (:class:`~connectors.http.local.MirrorFetcher`),
configured feed files are read by ``fetch_local_feed`` only, and every other
URL goes to :class:`HttpFetcher`.

Each hop of a fetch goes through the same steps, so a redirect can never
skip a check::

    parse_target (http/https only)  ->  AddressGuard (SSRF, resolves DNS)
    ->  robots.txt (article fetches)  ->  HostLimiter slot (politeness)
    ->  one request on a pooled connection to the validated IP
        (Host header and TLS SNI/certificate check use the host name)
    ->  interim 1xx responses skipped (connectors.http.interim)
    ->  status: redirect (next hop) | 304 | 429/503 + Retry-After | error | body
    ->  body read with a decoded-size cap, under the fetch's total deadline

Only :mod:`pipeline.errors` types leave this module; urllib3, socket and ssl
errors are translated by :func:`connectors.http.translate.translated`.

>>> from pipeline.errors import FetchRefused
>>> try:
...     HttpFetcher(FetchConfig()).fetch("file:///etc/passwd")
... except FetchRefused as exc:
...     print(exc.reason)
scheme
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from urllib.parse import urljoin

from urllib3 import PoolManager, Timeout
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.response import BaseHTTPResponse

from connectors.http.base import FetchResponse, Purpose
from connectors.http.body import ACCEPT_ENCODING, read_capped, refuse_announced_oversize
from connectors.http.clock import Clock, SystemClock
from connectors.http.content_types import (
    ACCEPT,
    Verdict,
    judge_content_type,
    looks_like_feed,
    refuse_content_type,
)
from connectors.http.deadline import (
    Deadline,
    DeadlineHTTPConnectionPool,
    DeadlineHTTPSConnectionPool,
)
from connectors.http.guard import AddressGuard, Resolver, parse_ip_host, system_resolver
from connectors.http.local import LocalFeedReader, MirrorFetcher
from connectors.http.metrics import BYTES, REFUSED, REQUESTS, counting_refusals
from connectors.http.politeness import HostLimiter, parse_retry_after
from connectors.http.robots import MAX_ROBOTS_BYTES, RobotsCache
from connectors.http.target import Target, parse_target
from connectors.http.translate import deadline_error, translated
from pipeline.config import FetchConfig
from pipeline.errors import (
    ConfigError,
    FetchError,
    FetchInterrupted,
    FetchRefused,
    HttpStatusError,
    RateLimited,
    excerpt,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_DISCARD_LIMIT = 64 * 1024
"""Bytes of an error or redirect body read to keep the connection; beyond, it is closed."""
_MAX_ADDRESSES = 3
"""Resolved addresses tried in turn when connecting fails."""

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True)
class _Redirect:
    location: str


@dataclass(frozen=True)
class _Request:
    """What stays the same on every hop of one fetch."""

    purpose: Purpose
    validators: Mapping[str, str]
    deadline: Deadline
    body_limit: int
    limit_setting: str = "fetch.max_body_bytes"
    truncate: bool = False


def robots_agent(user_agent: str) -> str:
    """The product token robots.txt groups are matched against (``newsflow``)."""
    return user_agent.split("/", 1)[0].split(None, 1)[0] if user_agent.strip() else "*"


class HttpFetcher:
    """Fetch http(s) URLs for feeds and articles; thread-safe, one instance per process.

    ``clock`` drives politeness (host gaps, Retry-After windows, robots cache
    age); ``resolver`` does DNS for the SSRF guard. Both are injectable for
    tests; the defaults are the real ones.
    """

    def __init__(
        self,
        config: FetchConfig,
        *,
        max_feed_bytes: int | None = None,
        clock: Clock | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._config = config
        self._max_feed_bytes = max_feed_bytes
        self._clock = clock or SystemClock()
        self._guard = AddressGuard(
            allow_private_networks=config.allow_private_networks,
            allowed_hosts=config.allowed_hosts,
            resolver=resolver,
        )
        self._limiter = HostLimiter(
            concurrency=config.per_host_concurrency,
            min_interval=config.min_host_interval,
            clock=self._clock,
        )
        self._robots = RobotsCache(
            self._download_robots,
            agent=robots_agent(config.user_agent),
            clock=self._clock,
            ttl=config.robots_cache_seconds,
            failure_ttl=config.robots_failure_cache_seconds,
        )
        # Pools are per address, and many publishers can sit behind one (a CDN): a pool
        # keeps as many idle connections as fetches can run at once, or it would discard
        # them. The host limiter, not the pool, bounds the requests to one host.
        self._pools = PoolManager(
            num_pools=max(32, 4 * config.concurrency),
            maxsize=config.concurrency,
            block=False,
            retries=False,
            cert_reqs=ssl.CERT_REQUIRED,
            ssl_context=_tls_context(config),
        )
        self._pools.pool_classes_by_scheme = {
            "http": DeadlineHTTPConnectionPool,
            "https": DeadlineHTTPSConnectionPool,
        }

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        """Fetch ``url``; a 304 comes back as ``FetchResponse(status=304, body=b'')``."""
        feed_cap = purpose == "feed" and self._max_feed_bytes is not None
        request = _Request(
            purpose=purpose,
            validators=_validators(etag, last_modified),
            deadline=Deadline(self._config.deadline),
            body_limit=(self._max_feed_bytes if feed_cap else None) or self._config.max_body_bytes,
            limit_setting="schedule.max_feed_bytes" if feed_cap else "fetch.max_body_bytes",
        )
        with counting_refusals():
            return self._follow(url, request)

    def blocked_for(self, host: str) -> float:
        """Seconds until ``host`` may be asked again after a 429/503 (0 when open)."""
        return self._limiter.blocked_for(host.lower())

    def close(self) -> None:
        self._pools.clear()

    def _download_robots(self, url: str) -> FetchResponse:
        request = _Request(
            purpose="robots",
            validators={},
            deadline=Deadline(self._config.deadline),
            body_limit=MAX_ROBOTS_BYTES,
            truncate=True,
        )
        return self._follow(url, request)  # refusals are counted once, by the article fetch

    def _follow(self, url: str, request: _Request) -> FetchResponse:
        chain = [url]
        while True:
            target = parse_target(chain[-1])
            addresses = self._guard.addresses(target.host, target.port, url=target.url)
            if request.purpose == "article" and self._config.respect_robots:
                self._robots.check(target.origin, target.url)
            outcome = self._exchange(target, addresses, request)
            if isinstance(outcome, FetchResponse):
                return outcome
            if len(chain) > self._config.max_redirects:
                raise _too_many_redirects(chain, self._config.max_redirects)
            chain.append(_redirect_target(target.url, outcome.location))

    def _exchange(
        self, target: Target, addresses: list[IPAddress], request: _Request
    ) -> FetchResponse | _Redirect:
        """One request/response on the wire, inside the host's politeness slot."""
        try:
            self._limiter.acquire(target.host, url=target.url)
        except RateLimited:
            REFUSED.labels("rate_limited").inc()
            raise
        try:
            if request.deadline.expired:
                raise deadline_error(target, request.deadline)
            with request.deadline.watching(), translated(target, request.deadline):
                response = self._open(target, addresses, request)
                REQUESTS.labels(target.host, str(response.status)).inc()
                return self._handle(target, response, request)
        finally:
            self._limiter.release(target.host)

    def _open(
        self, target: Target, addresses: list[IPAddress], request: _Request
    ) -> BaseHTTPResponse:
        """Send the request to the first validated address that accepts a connection."""
        headers = self._headers(target, request)
        candidates = addresses[:_MAX_ADDRESSES]
        for index, address in enumerate(candidates):
            try:
                return self._send(target, address, headers, request.deadline)
            except (NewConnectionError, ConnectTimeoutError):
                if index == len(candidates) - 1 or request.deadline.expired:
                    raise
        raise AssertionError("unreachable: the loop returns or raises")

    def _send(
        self, target: Target, address: IPAddress, headers: dict[str, str], deadline: Deadline
    ) -> BaseHTTPResponse:
        tls = {}
        if target.scheme == "https" and not _is_ip(target.host):
            tls = {"server_hostname": target.host, "assert_hostname": target.host}
        pool = self._pools.connection_from_host(
            str(address), port=target.port, scheme=target.scheme, pool_kwargs=tls
        )
        wait = min(self._config.timeout, max(deadline.remaining(), 0.001))
        return pool.urlopen(
            "GET",
            target.request_target,
            headers=headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            release_conn=False,
            timeout=Timeout(connect=wait, read=wait),
        )

    def _headers(self, target: Target, request: _Request) -> dict[str, str]:
        return {
            "Host": target.host_header,
            "User-Agent": self._config.user_agent,
            "Accept": ACCEPT[request.purpose],
            "Accept-Encoding": ACCEPT_ENCODING,
            **request.validators,
        }

    def _handle(
        self, target: Target, response: BaseHTTPResponse, request: _Request
    ) -> FetchResponse | _Redirect:
        status = response.status
        headers = {name.lower(): value for name, value in response.headers.itermerged()}
        complete = False
        try:
            if 200 <= status < 300:
                body = self._read_body(target, response, headers, request)
                complete = True
                return FetchResponse(url=target.url, status=status, body=body, headers=headers)
            complete = self._discard(response, request.deadline)
            if status in REDIRECT_STATUSES and headers.get("location"):
                return _Redirect(headers["location"])
            if status == 304:
                return FetchResponse(url=target.url, status=304, body=b"", headers=headers)
            if status in (429, 503):
                self._note_rate_limit(target, status, headers)
            raise HttpStatusError(
                f"{excerpt(target.url)!r} answered HTTP {status}"
                f" {excerpt(response.reason or '', 80)}".rstrip(),
                url=target.url,
                status=status,
            )
        finally:
            if not complete:
                response.close()  # unread bytes on the wire: this connection cannot be reused
            response.release_conn()

    def _read_body(
        self,
        target: Target,
        response: BaseHTTPResponse,
        headers: Mapping[str, str],
        request: _Request,
    ) -> bytes:
        media = headers.get("content-type", "")
        verdict = judge_content_type(request.purpose, media, url=target.url)
        if not request.truncate:
            refuse_announced_oversize(
                headers, request.body_limit, url=target.url, setting=request.limit_setting
            )
        body = read_capped(
            _wire_chunks(response, target, request.deadline),
            content_encoding=headers.get("content-encoding", ""),
            limit=request.body_limit,
            url=target.url,
            truncate=request.truncate,
            setting=request.limit_setting,
        )
        if verdict is Verdict.SNIFF and not looks_like_feed(body):
            raise refuse_content_type(request.purpose, "text/html", target.url)
        if not body and request.purpose == "article":
            raise _empty_page(target.url, response.status)
        return body

    def _discard(self, response: BaseHTTPResponse, deadline: Deadline) -> bool:
        """Read a small error/redirect body away; True when it ended (connection reusable)."""
        seen = 0
        while seen <= _DISCARD_LIMIT and not deadline.expired:
            chunk = response.read1(_CHUNK, decode_content=False)
            if not chunk:
                return True
            seen += len(chunk)
        return False

    def _note_rate_limit(self, target: Target, status: int, headers: Mapping[str, str]) -> None:
        """Close the host for its Retry-After window and raise RateLimited."""
        seconds = parse_retry_after(headers.get("retry-after"), now=self._clock.time())
        if seconds is None:
            if status == 503:
                return  # a plain outage: the caller sees HttpStatusError 503
            seconds = self._config.retry_after_default
        seconds = min(seconds, self._config.max_retry_after)
        self._limiter.block(target.host, seconds, status=status)
        raise RateLimited(
            f"{excerpt(target.url)!r} answered HTTP {status}: {excerpt(target.host)} asks us to"
            f" wait {seconds:.0f} s",
            url=target.url,
            status=status,
            retry_after=seconds,
        )


def _wire_chunks(response: BaseHTTPResponse, target: Target, deadline: Deadline) -> Iterator[bytes]:
    """Raw body chunks as they arrive; a socket cut by the deadline ends as a timeout."""
    while True:
        chunk = response.read1(_CHUNK, decode_content=False)
        if deadline.expired:
            raise deadline_error(target, deadline)
        if not chunk:
            return
        BYTES.inc(len(chunk))
        yield chunk


def _tls_context(config: FetchConfig) -> ssl.SSLContext:
    """System CAs plus ``fetch.ca_bundle`` (intranet feeds behind a private CA).

    The connection goes to an IP address, so urllib3 checks the certificate
    against the host name it is given (``assert_hostname``) after the handshake;
    ``check_hostname`` is off here once, rather than flipped by urllib3 on a
    context shared by all threads.
    """
    context = ssl.create_default_context()
    context.check_hostname = False  # verified by urllib3 against the URL's host name
    if config.ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(config.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError([f"fetch.ca_bundle: cannot load {config.ca_bundle}: {exc}"]) from None
    return context


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Conditional-GET headers; values with line breaks are dropped, never sent."""
    headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
    return {
        name: value
        for name, value in headers.items()
        if value and not any(c in value for c in "\r\n\0")
    }


def _is_ip(host: str) -> bool:
    """An address literal gets no SNI (the guard has already validated the spelling)."""
    try:
        return parse_ip_host(host) is not None
    except ValueError:
        return False


def _redirect_target(url: str, location: str) -> str:
    """Where a redirect's ``Location`` points, resolved against ``url``."""
    try:
        return urljoin(url, location.strip())
    except ValueError as exc:  # "http://[::1": not even splittable
        raise FetchRefused(
            f"{excerpt(url)!r} redirected to an invalid URL {excerpt(location)!r}:"
            f" {excerpt(str(exc))}",
            url=url,
            reason="invalid_redirect",
        ) from None


def _empty_page(url: str, status: int) -> FetchError:
    """A page answered with no body: a server mid-deploy or a connection closed after the
    headers (worth trying again), unless the server said so on purpose (204)."""
    if status == 204:
        return FetchError(
            f"{excerpt(url)!r} answered HTTP 204 No Content", url=url, reason="no_content"
        )
    return FetchInterrupted(
        f"{excerpt(url)!r} answered HTTP {status} with an empty body", url=url, reason="empty_body"
    )


def _too_many_redirects(chain: list[str], limit: int) -> FetchError:
    loop = " (a redirect loop)" if len(set(chain)) < len(chain) else ""
    return FetchError(
        f"gave up on {excerpt(chain[0])!r} after {limit} redirects{loop}: "
        + " -> ".join(excerpt(url) for url in chain),
        url=chain[0],
        reason="too_many_redirects",
    )


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
    max_feed_bytes: int | None = None,
    clock: Clock | None = None,
    resolver: Resolver = system_resolver,
) -> CompositeFetcher:
    """Compose the fetcher for ``config``; ``local_feeds`` are the configured feed paths.

    Pass ``[f.url for f in config.feeds if f.is_local]`` as ``local_feeds``:
    they are the only files :meth:`CompositeFetcher.fetch_local_feed` reads.
    Feeds, over HTTP or local, are capped by ``max_feed_bytes``
    (``schedule.max_feed_bytes``: a sitemap may hold 50 MB) instead of
    ``fetch.max_body_bytes``, when given.
    """
    mirrors = (
        MirrorFetcher(config.local_mirrors, max_body_bytes=config.max_body_bytes)
        if config.local_mirrors
        else None
    )
    return CompositeFetcher(
        HttpFetcher(config, max_feed_bytes=max_feed_bytes, clock=clock, resolver=resolver),
        mirrors=mirrors,
        local_feeds=LocalFeedReader(
            local_feeds,
            max_body_bytes=max_feed_bytes or config.max_body_bytes,
            setting="schedule.max_feed_bytes" if max_feed_bytes else "fetch.max_body_bytes",
        ),
    )
