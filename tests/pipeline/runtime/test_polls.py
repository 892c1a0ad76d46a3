"""Polls run in parallel and are handed on in listed order, but a slow feed holds up the
others for at most a second.

The service test serves a feed that answers only when the test lets it (at the
latest after :data:`SLOW_FEED_SECONDS`), listed before a feed that answers at
once, from a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpus import generate_site_pages
from pipeline.config import FeedConfig, parse_config
from pipeline.polling.poller import PollResult
from pipeline.runtime.polls import HOLD_SECONDS, poll_in_parallel
from pipeline.runtime.service import EmbeddedService
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]
SLOW, FAST = (
    FeedConfig(name="slow", url="https://slow.example/"),
    FeedConfig(name="fast", url="https://fast.example/"),
)


def sleepy_poll(seconds: dict[str, float]) -> object:
    def poll(feed: FeedConfig) -> PollResult:
        time.sleep(seconds.get(feed.name, 0.0))
        return PollResult(feed=feed.name, status="ok")

    return poll


def test_results_come_in_listed_order_when_the_polls_take_similar_times() -> None:
    polls = poll_in_parallel(
        sleepy_poll({"slow": 0.3}),  # type: ignore[arg-type]
        [SLOW, FAST],
        threading.Event(),
        threads=2,
    )
    assert [feed.name for feed, _ in polls] == ["slow", "fast"]


def test_a_poll_slower_than_the_hold_no_longer_holds_up_the_ones_after_it() -> None:
    """The fast feed's result is handed on after the hold, while the slow poll listed before
    it still runs: that poll ends only once the fast result is out (at the latest after
    :data:`SLOW_FEED_SECONDS`, so a hold that waited for it fails the test)."""
    release = threading.Event()

    def poll(feed: FeedConfig) -> PollResult:
        if feed.name == "slow":
            release.wait(SLOW_FEED_SECONDS)
        return PollResult(feed=feed.name, status="ok")

    started = time.monotonic()
    handed: list[tuple[str, float, bool]] = []
    try:
        for feed, _ in poll_in_parallel(poll, [SLOW, FAST], threading.Event(), threads=2):
            handed.append((feed.name, time.monotonic() - started, release.is_set()))
            release.set()
    finally:
        release.set()
    assert [(name, slow_ended) for name, _, slow_ended in handed] == [
        ("fast", False),
        ("slow", True),
    ]
    assert handed[0][1] >= HOLD_SECONDS  # held up for the hold first


def test_a_stop_is_seen_while_a_poll_is_still_running() -> None:
    """The poll ends only when the test lets it (at the latest after
    :data:`SLOW_FEED_SECONDS`): the polls must be left while it still runs."""
    stop, release, ended = threading.Event(), threading.Event(), threading.Event()
    waited: list[float] = []

    def poll(feed: FeedConfig) -> PollResult:
        release.wait(SLOW_FEED_SECONDS)
        ended.set()
        return PollResult(feed=feed.name, status="ok")

    def while_waiting() -> None:
        waited.append(time.monotonic())
        time.sleep(0.05)
        if len(waited) == 3:
            stop.set()

    polls = poll_in_parallel(poll, [SLOW], stop, threads=1, while_waiting=while_waiting)
    try:
        assert list(polls) == []
        assert not ended.is_set(), "the stop waited for the poll in hand"
    finally:
        release.set()


PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=4)[0]
SLOW_FEED_SECONDS = 30.0


@dataclass
class SlowServer:
    url: str
    release: threading.Event = field(default_factory=threading.Event)
    """Set: the slow feed answers."""
    answered: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[SlowServer]:
    served: list[SlowServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/slow.xml":
                served[0].release.wait(SLOW_FEED_SECONDS)
                served[0].answered.set()
                body = b'<rss version="2.0"><channel><title>s</title></channel></rss>'
            elif self.path == "/fast.xml":
                body = (
                    f'<rss version="2.0"><channel><title>f</title><item><title>x</title>'
                    f"<link>{base}/page</link></item></channel></rss>"
                ).encode()
            else:
                body = PAGE.html.encode()
            self.send_response(200)
            kind = "application/rss+xml" if self.path.endswith(".xml") else "text/html"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.append(SlowServer(f"http://127.0.0.1:{httpd.server_address[1]}"))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served[0]
    served[0].release.set()
    httpd.shutdown()
    httpd.server_close()


def test_a_slow_feed_does_not_hold_up_the_articles_of_the_feeds_after_it(
    server: SlowServer, tmp_path: Path
) -> None:
    """The fast feed's article is stored while the slow feed, listed first, has not
    answered yet (it answers when released, or after 30 s: a run held up by it fails)."""
    config = parse_config(
        {
            "feeds": [
                {"name": "slow", "url": f"{server.url}/slow.xml"},
                {"name": "fast", "url": f"{server.url}/fast.xml"},
            ],
            "storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "extract": {"workers": 1},
            "fetch": {"allow_private_networks": True, "respect_robots": False,
                      "min_host_interval": 0, "per_host_concurrency": 4,
                      "timeout": 2 * SLOW_FEED_SECONDS, "deadline": 2 * SLOW_FEED_SECONDS},
        },
        base=ROOT,
    )  # fmt: skip
    resources = Resources(config)
    service = EmbeddedService(config, resources)
    stored_before_slow_answered = False
    try:
        runner = threading.Thread(target=service.run_once)
        runner.start()
        while runner.is_alive() and not server.answered.is_set():
            if resources.articles.count():
                stored_before_slow_answered = not server.answered.is_set()
                break
            time.sleep(0.02)
        server.release.set()
        runner.join(timeout=30)
        assert not runner.is_alive()
    finally:
        service.close()
        resources.close()
    assert stored_before_slow_answered, "the fast feed's article waited for the slow feed"
