"""The embedded runtime tries a transient fetch failure again before dead-lettering it.

A real HTTP server on 127.0.0.1 answers each path from a script of statuses
(503, 503, then the page); the pipeline fetches with retries of 0.05 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from corpus import generate_site_pages
from pipeline.config import parse_config
from pipeline.models import FeedEntry
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]
PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=9)[0]


class ScriptedServer:
    """``/<name>`` answers the statuses scripted for it in turn, then the page (200)."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[int]] = {}
        self.hits: dict[str, int] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                script = outer.scripts.get(self.path, [])
                if script:
                    self.send_error(script.pop(0))
                    return
                body = PAGE.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    served = ScriptedServer()
    threading.Thread(target=served.server.serve_forever, daemon=True).start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def resources(tmp_path: Path) -> Iterator[Resources]:
    config = parse_config(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "extract": {"workers": 1},
            "fetch": {
                "allow_private_networks": True,
                "respect_robots": False,
                "min_host_interval": 0,
                "retry_attempts": 2,
                "retry_backoff_seconds": 0.05,
            },
        },
        base=ROOT,
    )
    opened = Resources(config)
    yield opened
    opened.close()


def process(resources: Resources, url: str) -> RunSummary:
    pipeline = EmbeddedPipeline(resources.config, resources)
    summary = RunSummary()
    try:
        assert pipeline.process([FeedEntry(feed="f", feed_kind="rss", url=url)], summary)
    finally:
        pipeline.close()
    return summary


def retries() -> float:
    return REGISTRY.get_sample_value("newsflow_retries_total", {"worker": "fetch"}) or 0.0


def test_a_page_that_answers_503_twice_is_stored_on_the_third_try(
    server: ScriptedServer, resources: Resources
) -> None:
    server.scripts["/a"] = [503, 503]
    before = retries()

    summary = process(resources, f"{server.base}/a")

    assert server.hits["/a"] == 3
    assert summary.failures == 0
    assert resources.articles.count() == 1
    assert resources.dead_letters.count() == 0
    assert retries() == before + 2


def test_a_page_still_failing_after_the_retries_is_one_dead_letter(
    server: ScriptedServer, resources: Resources
) -> None:
    server.scripts["/b"] = [503] * 5

    summary = process(resources, f"{server.base}/b")

    assert server.hits["/b"] == 3  # the first try and 2 retries
    assert summary.failures == 1
    [letter] = [resources.dead_letters.get(i) for i in resources.dead_letters.ids()]
    assert letter is not None and (letter.reason, letter.attempts) == ("http_503", 1)


def test_a_page_that_is_gone_is_not_tried_again(
    server: ScriptedServer, resources: Resources
) -> None:
    server.scripts["/c"] = [404, 404]

    summary = process(resources, f"{server.base}/c")

    assert server.hits["/c"] == 1
    assert summary.failures == 1


def test_dropping_the_work_in_hand_ends_a_retry_wait_at_once(
    server: ScriptedServer, tmp_path: Path
) -> None:
    config = parse_config(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "extract": {"workers": 1},
            "fetch": {"allow_private_networks": True, "respect_robots": False,
                      "min_host_interval": 0, "retry_backoff_seconds": 30},
        },
        base=ROOT,
    )  # fmt: skip
    server.scripts["/d"] = [503] * 5
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    try:
        stop = threading.Event()
        entry = FeedEntry(feed="f", feed_kind="rss", url=f"{server.base}/d")
        assert pipeline.submit([entry], RunSummary(), stop=stop)
        deadline = time.monotonic() + 10
        while server.hits.get("/d", 0) < 1:
            assert time.monotonic() < deadline, "the page was never fetched"
            time.sleep(0.01)
        time.sleep(0.2)  # the fetch thread is now waiting 30 s to retry
        stop.set()
        started = time.monotonic()
        assert pipeline.drain(stop) is False
        pipeline.close()  # waits for the fetch thread: it must not sit out its 30 s
        assert time.monotonic() - started < 5
        assert resources.dead_letters.count() == 0  # dropped work comes again: no letter
    finally:
        resources.close()
    assert server.hits["/d"] == 1
