"""The embedded runtime tries a transient fetch failure again before dead-lettering it.

A real HTTP server on 127.0.0.1 answers each path from a script of statuses
(503, 503, then the page); the pipeline fetches with retries of 0.05 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from local_http import ScriptedSite, local_resources, serving
from prometheus_client import REGISTRY

from corpus import generate_site_pages
from pipeline.models import FeedEntry
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]
PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=9)[0]


@pytest.fixture
def server() -> Iterator[ScriptedSite]:
    """``/<name>`` answers what a test scripts for it in turn, then the page (200)."""
    site = ScriptedSite(page=PAGE.html)
    with serving(site.server):
        yield site


@pytest.fixture
def resources(tmp_path: Path) -> Iterator[Resources]:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    with local_resources(url, retry_attempts=2, retry_backoff_seconds=0.05) as opened:
        yield opened


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
    server: ScriptedSite, resources: Resources
) -> None:
    server.scripts["/a"] = [503, 503]
    before = retries()

    summary = process(resources, f"{server.base}/a")

    assert server.hits["/a"] == 3
    assert summary.failures == 0
    assert resources.articles.count() == 1
    assert resources.dead_letters.count() == 0
    assert retries() == before + 2


@pytest.mark.parametrize("broken", ["empty", "cut"])
def test_a_page_whose_exchange_broke_off_is_stored_on_the_next_try(
    server: ScriptedSite, resources: Resources, broken: Literal["empty", "cut"]
) -> None:
    """A 200 closed right after its headers, or a body cut short: a server mid-deploy,
    not a page without an article (the empty one was a ``not_html`` dead letter)."""
    server.scripts["/e"] = [broken]

    summary = process(resources, f"{server.base}/e")

    assert server.hits["/e"] == 2
    assert (summary.failures, resources.articles.count()) == (0, 1)


def test_a_page_still_failing_after_the_retries_is_one_dead_letter(
    server: ScriptedSite, resources: Resources
) -> None:
    server.scripts["/b"] = [503] * 5

    summary = process(resources, f"{server.base}/b")

    assert server.hits["/b"] == 3  # the first try and 2 retries
    assert summary.failures == 1
    [letter] = [resources.dead_letters.get(i) for i in resources.dead_letters.ids()]
    assert letter is not None and (letter.reason, letter.attempts) == ("http_503", 1)


def test_a_page_that_is_gone_is_not_tried_again(server: ScriptedSite, resources: Resources) -> None:
    server.scripts["/c"] = [404, 404]

    summary = process(resources, f"{server.base}/c")

    assert server.hits["/c"] == 1
    assert summary.failures == 1


def test_dropping_the_work_in_hand_ends_a_retry_wait_at_once(
    server: ScriptedSite, tmp_path: Path
) -> None:
    server.scripts["/d"] = [503] * 5
    url = f"sqlite:///{tmp_path / 'news.db'}"
    with local_resources(url, retry_backoff_seconds=30) as resources:
        pipeline = EmbeddedPipeline(resources.config, resources)
        stop = threading.Event()
        entry = FeedEntry(feed="f", feed_kind="rss", url=f"{server.base}/d")
        assert pipeline.submit([entry], RunSummary(), stop=stop)
        deadline = time.monotonic() + 10
        while server.hits.get("/d", 0) < 1:
            assert time.monotonic() < deadline, "the page was never fetched"
            time.sleep(0.01)
        time.sleep(0.2)  # the fetch thread is now waiting 30 s to retry
        stop.set()
        assert pipeline.drain(stop) is False
        pipeline.close()
        deadline = time.monotonic() + 3
        while any(t.name.startswith("fetch-") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "a fetch thread still sits out its 30 s wait"
            time.sleep(0.05)
        assert resources.dead_letters.count() == 0  # dropped work comes again: no letter
    assert server.hits["/d"] == 1
