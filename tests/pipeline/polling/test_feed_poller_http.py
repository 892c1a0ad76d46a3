"""FeedPoller + the real HTTP fetcher against a local server on 127.0.0.1 with ETag support."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.http import build_fetcher
from connectors.storage.db import Database
from connectors.storage.feed_state import FeedStateRepository
from pipeline.config import Config, FeedConfig, parse_config
from pipeline.polling import FeedPoller, Scheduler


@dataclass
class Site:
    """What the test server serves, and what it saw."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    statuses: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def serve(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path in site.statuses:
                status, headers = site.statuses[self.path]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = site.bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = f'"v{hash(body) & 0xFFFFFF:x}"'
            last_modified = "Wed, 01 May 2024 10:00:00 GMT"
            fresh = self.headers.get("If-None-Match") == etag
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.send_header("Content-Type", "application/rss+xml")
            if fresh:
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def rss(*links: str) -> bytes:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def config_for(feeds: list[FeedConfig]) -> Config:
    return parse_config(
        {
            "feeds": [f.model_dump() for f in feeds],
            "fetch": {
                "allow_private_networks": True,
                "min_host_interval": 0,
                "timeout": 5,
                "deadline": 10,
            },
        }
    )


def test_second_poll_of_an_unchanged_feed_sends_validators_and_yields_nothing(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    server, base = site
    server.bodies["/feed.xml"] = rss("/a?utm_source=rss", "/b")
    feed = FeedConfig(name="local-site", url=f"{base}/feed.xml")
    config = config_for([feed])
    fetcher = build_fetcher(config.fetch)
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 'state.db'}"))
    poller = FeedPoller(fetcher, repo, config)
    try:
        first = poller.poll(feed)
        assert first.status == "ok"
        assert [e.url for e in first.entries] == [f"{base}/a", f"{base}/b"]
        poller.commit(feed, first)
        second = poller.poll(feed)
        poller.commit(feed, second)
    finally:
        fetcher.close()
    assert second.status == "not_modified" and second.entries == []
    sent = server.requests[1][1]
    assert sent["if-none-match"] == repo.get("local-site").validators[feed.url].etag
    assert sent["if-modified-since"] == "Wed, 01 May 2024 10:00:00 GMT"
    assert len(server.requests) == 2


def test_changed_feed_yields_only_the_new_entry(site: tuple[Site, str], tmp_path: Path) -> None:
    server, base = site
    server.bodies["/feed.xml"] = rss("/a", "/b")
    feed = FeedConfig(name="s", url=f"{base}/feed.xml")
    config = config_for([feed])
    fetcher = build_fetcher(config.fetch)
    poller = FeedPoller(
        fetcher, FeedStateRepository(Database(f"sqlite:///{tmp_path / 'd.db'}")), config
    )
    try:
        poller.commit(feed, poller.poll(feed))
        server.bodies["/feed.xml"] = rss("/c", "/a", "/b?fbclid=1")
        result = poller.poll(feed)
    finally:
        fetcher.close()
    assert [e.url for e in result.entries] == [f"{base}/c"]


def test_server_errors_and_retry_after_reach_the_scheduler(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    server, base = site
    server.statuses["/busy.xml"] = (429, {"Retry-After": "120"})
    server.statuses["/broken.xml"] = (500, {})
    busy = FeedConfig(name="busy", url=f"{base}/busy.xml")
    broken = FeedConfig(name="broken", url=f"{base}/broken.xml")
    config = config_for([busy, broken])
    fetcher = build_fetcher(config.fetch)
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 'e.db'}"))
    poller = FeedPoller(fetcher, repo, config)
    scheduler = Scheduler(config.feeds, config.schedule, repo, clock=lambda: 1000.0)
    try:
        # broken first: after the 429 the fetcher leaves the whole host alone for 120 s
        results = {f.name: poller.poll(f) for f in (broken, busy)}
    finally:
        fetcher.close()
    assert results["busy"].retry_after == 120
    assert results["broken"].error is not None and results["broken"].error.reason == "http_500"
    for feed in (busy, broken):
        poller.commit(feed, results[feed.name])
        scheduler.record(feed, results[feed.name], now=1000.0)
    assert scheduler.due_at("busy") is not None and scheduler.due_at("busy") >= 1120
    assert repo.get("broken").failures == 1


def test_a_304_to_a_first_poll_without_validators_is_a_feed_failure(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    """A 304 to a request that sent no validators used to count as "not modified" forever:
    a healthy-looking feed that never yielded an entry."""
    server, base = site
    server.statuses["/stale.xml"] = (304, {})
    feed = FeedConfig(name="stale", url=f"{base}/stale.xml")
    config = config_for([feed])
    fetcher = build_fetcher(config.fetch)
    repo = FeedStateRepository(Database(f"sqlite:///{tmp_path / 'f.db'}"))
    poller = FeedPoller(fetcher, repo, config)
    scheduler = Scheduler(config.feeds, config.schedule, repo, clock=lambda: 1000.0)
    try:
        result = poller.poll(feed)
        checked = poller.check(feed)
    finally:
        fetcher.close()
    assert "if-none-match" not in server.requests[0][1]
    assert "if-modified-since" not in server.requests[0][1]
    for answer in (result, checked):
        assert answer.status == "error" and answer.error is not None
        assert answer.error.reason == "unexpected_304"
        assert "304 Not Modified to a request without validators" in str(answer.error)
    poller.commit(feed, result)
    due = scheduler.record(feed, result, now=1000.0)
    assert repo.get("stale").failures == 1
    retry = scheduler.policy.retry_delay(scheduler.policy.base(feed), failures=1, retry_after=None)
    assert abs(due - 1000.0 - retry) <= retry * config.schedule.jitter + 1
