"""Politeness: Retry-After windows, robots.txt, per-host gaps and concurrency.

Retry-After and robots ages run on a :class:`FakeClock`, so "120 s" takes no
time; the gap and overlap tests use the server's own record of when each
request started.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

import pytest
from http_fault_server import FaultServer, Handler, ok, redirect, respond
from prometheus_client import REGISTRY

from connectors.http.clock import FakeClock
from connectors.http.fetcher import HttpFetcher
from pipeline.config import FetchConfig
from pipeline.errors import FetchRefused, HttpStatusError, RateLimited

FEED = b"<rss><channel/></rss>"


def to_loopback(host: str, port: int) -> list[str]:
    """Every test host name (a.test, b.test, ...) is this machine."""
    return ["127.0.0.1"]


def fetcher(clock: FakeClock | None = None, **settings: object) -> HttpFetcher:
    config = FetchConfig.model_validate({"allow_private_networks": True, **settings})
    return HttpFetcher(config, clock=clock, resolver=to_loopback)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def switchable(first: Handler, then: Handler) -> tuple[Handler, threading.Event]:
    """A handler that answers ``first`` until the returned event is set, then ``then``."""
    switched = threading.Event()

    def handler(request: BaseHTTPRequestHandler) -> None:
        (then if switched.is_set() else first)(request)

    return handler, switched


# --- Retry-After ---


def test_429_retry_after_120_means_no_request_to_that_host_for_120_s(server: FaultServer) -> None:
    clock = FakeClock()
    handler, recovered = switchable(
        respond(429, b"slow down", {"Retry-After": "120"}), ok(FEED, "application/rss+xml")
    )
    server.routes["/feed"] = handler
    client = fetcher(clock)
    url = server.url("/feed", host="a.test")

    with pytest.raises(RateLimited) as limited:
        client.fetch(url, purpose="feed")
    assert (limited.value.status, limited.value.retry_after) == (429, 120)
    recovered.set()  # the server would answer now; the fetcher must still not ask

    for step in (0.0, 1.0, 59.0, 59.9):
        clock.advance(step)
        started = time.monotonic()
        with pytest.raises(RateLimited) as again:
            client.fetch(url, purpose="feed")
        assert time.monotonic() - started < 0.5  # raised at once, no sleeping
        assert again.value.retry_after == pytest.approx(120 - (clock.monotonic() - 0.0), abs=1e-6)
    assert len([h for h in server.hits if h.host == "a.test"]) == 1
    assert client.blocked_for("a.test") == pytest.approx(0.1)

    assert client.fetch(server.url("/feed", host="b.test"), purpose="feed").status == 200

    clock.advance(0.1)
    assert client.blocked_for("a.test") == 0
    assert client.fetch(url, purpose="feed").body == FEED
    assert len([h for h in server.hits if h.host == "a.test"]) == 2


@pytest.mark.parametrize(
    "value", ["\u00b2", "1\u00b2", "Fri, 31 Dec 1999 23:59:59 +99999999999999999999"]
)
def test_an_unreadable_retry_after_is_the_default_wait(server: FaultServer, value: str) -> None:
    """A superscript digit (one Latin-1 byte) raised ValueError, a huge zone OverflowError:
    the fetch failed as an internal error instead of a rate limit."""
    server.routes["/feed"] = respond(429, b"", {"Retry-After": value})
    client = fetcher(FakeClock(), retry_after_default=42)
    with pytest.raises(RateLimited) as limited:
        client.fetch(server.url("/feed"), purpose="feed")
    assert limited.value.retry_after == 42


def test_retry_after_as_an_http_date_is_honoured(server: FaultServer) -> None:
    clock = FakeClock()
    when = formatdate(clock.time() + 120, usegmt=True)
    handler, recovered = switchable(
        respond(503, b"", {"Retry-After": when}), ok(FEED, "application/rss+xml")
    )
    server.routes["/feed"] = handler
    client = fetcher(clock)
    with pytest.raises(RateLimited) as limited:
        client.fetch(server.url("/feed"), purpose="feed")
    assert limited.value.status == 503
    assert limited.value.retry_after == pytest.approx(120)
    recovered.set()
    clock.advance(119)
    with pytest.raises(RateLimited):
        client.fetch(server.url("/feed"), purpose="feed")
    clock.advance(1)
    assert client.fetch(server.url("/feed"), purpose="feed").status == 200
    assert len(server.hits) == 2


def test_503_without_retry_after_is_a_plain_error_and_blocks_nothing(server: FaultServer) -> None:
    server.routes["/feed"] = respond(503, b"down")
    client = fetcher(FakeClock())
    for _ in range(2):
        with pytest.raises(HttpStatusError) as failed:
            client.fetch(server.url("/feed"), purpose="feed")
        assert not isinstance(failed.value, RateLimited)
    assert len(server.hits) == 2


def test_429_without_retry_after_waits_the_configured_default(server: FaultServer) -> None:
    clock = FakeClock()
    server.routes["/feed"] = respond(429)
    client = fetcher(clock, retry_after_default=30)
    with pytest.raises(RateLimited) as limited:
        client.fetch(server.url("/feed"), purpose="feed")
    assert limited.value.retry_after == 30
    assert client.blocked_for("127.0.0.1") == 30


def test_an_absurd_retry_after_is_capped(server: FaultServer) -> None:
    server.routes["/feed"] = respond(429, b"", {"Retry-After": "99999999"})
    client = fetcher(FakeClock(), max_retry_after=600)
    with pytest.raises(RateLimited) as limited:
        client.fetch(server.url("/feed"), purpose="feed")
    assert limited.value.retry_after == 600


def test_requests_inside_the_window_are_counted_as_refused(server: FaultServer) -> None:
    server.routes["/feed"] = respond(429, b"", {"Retry-After": "60"})
    client = fetcher(FakeClock())
    before = (
        REGISTRY.get_sample_value("newsflow_fetch_refused_total", {"reason": "rate_limited"}) or 0
    )
    reasons = []
    for _ in range(3):
        with pytest.raises(RateLimited) as limited:
            client.fetch(server.url("/feed"), purpose="feed")
        reasons.append(limited.value.reason)
    after = REGISTRY.get_sample_value("newsflow_fetch_refused_total", {"reason": "rate_limited"})
    assert after == before + 2
    assert len(server.hits) == 1
    assert reasons == ["http_429", "host_blocked", "host_blocked"]  # two were never requested


# --- robots.txt (article fetches only) ---


def test_robots_503_means_zero_article_fetches(server: FaultServer) -> None:
    server.routes["/robots.txt"] = respond(503, b"down")
    server.routes["/news/1.html"] = ok(b"<p>article</p>")
    server.routes["/feed"] = ok(FEED, "application/rss+xml")
    client = fetcher(FakeClock())
    for _ in range(3):
        with pytest.raises(FetchRefused) as refused:
            client.fetch(server.url("/news/1.html"), purpose="article")
        assert refused.value.reason == "robots"
        assert "unreachable (HTTP 503)" in str(refused.value)
    assert server.hits_for("/news/1.html") == []
    assert len(server.hits_for("/robots.txt")) == 1  # the failure is cached too
    assert client.fetch(server.url("/feed"), purpose="feed").status == 200  # feeds skip robots


def test_robots_404_allows_article_fetches(server: FaultServer) -> None:
    server.routes["/news/1.html"] = ok(b"<p>article</p>")
    client = fetcher(FakeClock())
    assert client.fetch(server.url("/news/1.html")).body == b"<p>article</p>"
    assert client.fetch(server.url("/news/1.html")).status == 200
    assert len(server.hits_for("/robots.txt")) == 1
    assert len(server.hits_for("/news/1.html")) == 2


def assert_private_refused(server: FaultServer, rules: bytes) -> None:
    """With ``rules`` as robots.txt, /news/1.html is fetched and /private/1.html refused
    without being asked for."""
    server.routes["/robots.txt"] = ok(rules, "text/plain")
    server.routes["/news/1.html"] = ok(b"<p>public</p>")
    server.routes["/private/1.html"] = ok(b"<p>secret</p>")
    client = fetcher(FakeClock())
    assert client.fetch(server.url("/news/1.html")).body == b"<p>public</p>"
    with pytest.raises(FetchRefused) as refused:
        client.fetch(server.url("/private/1.html"))
    assert refused.value.reason == "robots"
    assert server.hits_for("/private/1.html") == []


def test_robots_rules_are_applied_for_our_user_agent(server: FaultServer) -> None:
    assert_private_refused(
        server, b"User-agent: *\nDisallow: /\n\nUser-agent: newsflow\nDisallow: /private/\n"
    )


@pytest.mark.parametrize("value", ["\u00b2", "%C2%B2", "9" * 5000, "1/\u00b2"])
def test_robots_with_an_unreadable_crawl_delay_still_applies_its_rules(
    server: FaultServer, value: str
) -> None:
    """RobotFileParser raised ValueError on these: every article fetch of the site failed
    as an internal error. The Crawl-delay line still ends its group of rules."""
    field = "Request-rate" if "/" in value else "Crawl-delay"
    rules = f"User-agent: other\n{field}: {value}\nUser-agent: *\nDisallow: /private/\n"
    assert_private_refused(server, rules.encode())


def test_robots_are_kept_24_hours_and_failures_retried_sooner(server: FaultServer) -> None:
    clock = FakeClock()
    handler, recovered = switchable(respond(500), ok(b"User-agent: *\nAllow: /\n", "text/plain"))
    server.routes["/robots.txt"] = handler
    server.routes["/a.html"] = ok(b"<p>a</p>")
    client = fetcher(clock, min_host_interval=0)
    with pytest.raises(FetchRefused):
        client.fetch(server.url("/a.html"))
    recovered.set()
    clock.advance(899)
    with pytest.raises(FetchRefused):
        client.fetch(server.url("/a.html"))
    clock.advance(2)  # past robots_failure_cache_seconds (900)
    assert client.fetch(server.url("/a.html")).status == 200
    assert len(server.hits_for("/robots.txt")) == 2
    clock.advance(24 * 3600 - 1)
    client.fetch(server.url("/a.html"))
    assert len(server.hits_for("/robots.txt")) == 2
    clock.advance(2)
    client.fetch(server.url("/a.html"))
    assert len(server.hits_for("/robots.txt")) == 3


def test_robots_unreachable_host_disallows_and_says_why() -> None:
    with FaultServer() as gone:
        url = gone.url("/a.html")
    with pytest.raises(FetchRefused) as refused:
        fetcher(FakeClock()).fetch(url)
    assert refused.value.reason == "robots"
    assert "unreachable (connection)" in str(refused.value)


def test_robots_redirect_is_followed_and_a_rate_limit_is_not_cached_as_rules(
    server: FaultServer,
) -> None:
    server.routes["/robots.txt"] = redirect("/real-robots.txt")
    server.routes["/real-robots.txt"] = ok(b"User-agent: *\nDisallow: /x\n", "text/plain")
    server.routes["/y.html"] = ok(b"<p>y</p>")
    client = fetcher(FakeClock())
    assert client.fetch(server.url("/y.html")).status == 200
    with pytest.raises(FetchRefused):
        client.fetch(server.url("/x.html"))

    with FaultServer({"/robots.txt": respond(429, b"", {"Retry-After": "120"})}) as busy:
        with pytest.raises(RateLimited):
            client.fetch(busy.url("/y.html", host="busy.test"))
        assert busy.hits_for("/y.html") == []


def test_robots_can_be_switched_off(server: FaultServer) -> None:
    server.routes["/robots.txt"] = ok(b"User-agent: *\nDisallow: /\n", "text/plain")
    server.routes["/a.html"] = ok(b"<p>a</p>")
    assert fetcher(FakeClock(), respect_robots=False).fetch(server.url("/a.html")).status == 200
    assert server.hits_for("/robots.txt") == []


# --- per-host gap and concurrency ---


def burst(client: HttpFetcher, urls: list[str], workers: int = 8) -> list[int]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda u: client.fetch(u, purpose="feed").status, urls))


def test_per_host_gap_holds_under_a_burst_of_100_links_on_a_fake_clock(server: FaultServer) -> None:
    clock = FakeClock()
    starts: list[float] = []

    def timed(request: BaseHTTPRequestHandler) -> None:
        starts.append(clock.monotonic())
        ok(FEED, "application/rss+xml")(request)

    server.routes["/item"] = timed
    client = fetcher(clock, min_host_interval=1.0)
    statuses = burst(client, [server.url(f"/item?n={n}") for n in range(100)])
    assert statuses == [200] * 100
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert len(starts) == 100
    assert min(gaps) >= 1.0
    assert server.max_in_flight("127.0.0.1") == 1


def test_per_host_gap_holds_under_a_burst_of_100_links_in_real_time(server: FaultServer) -> None:
    gap = 0.02
    server.routes["/item"] = ok(FEED, "application/rss+xml")
    client = fetcher(min_host_interval=gap)
    assert burst(client, [server.url(f"/item?n={n}") for n in range(100)]) == [200] * 100
    starts = sorted(h.started for h in server.hits)
    gaps = sorted(b - a for a, b in itertools.pairwise(starts))
    # The client spaces starts by >= gap; the server's clock adds thread-scheduling jitter
    # to single gaps, so judge the span and the bulk of the gaps (no limiter: gaps ~1 ms).
    assert starts[-1] - starts[0] >= 99 * gap - 0.02
    assert gaps[len(gaps) // 2] >= 0.95 * gap
    assert gaps[len(gaps) // 10] >= 0.9 * gap
    assert server.max_in_flight("127.0.0.1") == 1


def answered_when_all_in(count: int, wait: float = 5.0) -> tuple[Handler, list[bool]]:
    """A handler that answers each request only once ``count`` are in (at the latest after
    ``wait`` s), and per request whether they all were: requests made one after another
    each wait it out, whatever the machine's speed."""
    arrived: list[int] = []
    all_in = threading.Event()
    met: list[bool] = []
    lock = threading.Lock()

    def handler(request: BaseHTTPRequestHandler) -> None:
        with lock:
            arrived.append(1)
            if len(arrived) == count:
                all_in.set()
        met.append(all_in.wait(wait))
        ok(FEED, "application/rss+xml")(request)

    return handler, met


def test_two_hosts_are_fetched_in_parallel(server: FaultServer) -> None:
    server.routes["/meet"], met = answered_when_all_in(2)
    client = fetcher(min_host_interval=0)
    burst(client, [server.url("/meet", host="a.test"), server.url("/meet", host="b.test")])
    assert sorted(h.host for h in server.hits) == ["a.test", "b.test"]
    assert met == [True, True], "the second request came only after the first was answered"


def test_one_host_gets_one_request_at_a_time_by_default(server: FaultServer) -> None:
    server.routes["/slow"] = ok(FEED, "application/rss+xml", delay=0.3)
    started = time.monotonic()
    burst(fetcher(min_host_interval=0), [server.url("/slow", host="a.test")] * 2)
    assert time.monotonic() - started >= 0.6
    assert server.max_in_flight("a.test") == 1


def test_per_host_concurrency_can_be_raised(server: FaultServer) -> None:
    server.routes["/meet"], met = answered_when_all_in(3)
    client = fetcher(min_host_interval=0, per_host_concurrency=3)
    burst(client, [server.url("/meet", host="a.test")] * 3)
    assert met == [True] * 3
    assert server.max_in_flight("a.test") == 3


def test_hosts_sharing_an_address_keep_their_connections(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Publishers behind one CDN address share one connection pool (pools are per
    address): a pool of one connection discarded every other host's connection,
    with a urllib3 warning each time, and the next request connected afresh."""
    server.routes["/item"] = ok(FEED, "application/rss+xml", delay=0.01)
    urls = [server.url(f"/item?n={n}", host=f"h{n % 6}.test") for n in range(120)]
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        assert burst(fetcher(min_host_interval=0), urls, workers=6) == [200] * 120
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    connections = {hit.client_port for hit in server.hits}
    assert len(connections) <= 6, f"{len(connections)} connections for 6 hosts"


def test_many_hosts_many_threads_all_succeed(server: FaultServer) -> None:
    # Each answer takes 10 ms: two requests to one host at once would overlap in the server.
    server.routes["/item"] = ok(FEED, "application/rss+xml", delay=0.01)
    urls = [server.url(f"/item?n={n}", host=f"h{n % 4}.test") for n in range(80)]
    assert burst(fetcher(min_host_interval=0), urls, workers=12) == [200] * 80
    assert all(server.max_in_flight(f"h{i}.test") == 1 for i in range(4))
