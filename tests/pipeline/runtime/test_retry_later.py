"""Dead-lettered fetches that failed transiently are fetched again later by the service.

The service test runs :meth:`EmbeddedService.run_forever` against a real HTTP
server on 127.0.0.1 whose feed lists three pages: one fine, one answering 429
with ``Retry-After: 1`` once, one gone (404).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from local_http import ScriptedSite, serving
from prometheus_client import REGISTRY

from corpus import generate_site_pages
from pipeline.config import parse_config
from pipeline.models import utcnow
from pipeline.runtime.outcome import Failure
from pipeline.runtime.retry_later import MAX_WAIT, RetryLater
from pipeline.runtime.service import EmbeddedService
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]
PAGES = dict(zip("abc", generate_site_pages(n_sites=1, pages_per_site=3, seed=4), strict=True))


def failure(
    *,
    stage: str = "fetch",
    retryable: bool = True,
    retry_after: float | None = None,
    reason: str = "timeout",
) -> Failure:
    return Failure(stage=stage, topic="items", error_class="FetchTimeout", reason=reason,
                   error="slow", payload="{}", retryable=retryable, letter_key="k",
                   retry_after=retry_after)  # fmt: skip


def waits(policy: RetryLater, failed: Failure, attempts: range) -> list[float | None]:
    """Each attempt's wait in whole seconds (None: left to a replay)."""
    schedule = policy.schedule(failed)
    moments = [(schedule(n), utcnow()) for n in attempts]
    return [round((at - now).total_seconds()) if at else None for at, now in moments]


def test_the_wait_doubles_and_ends_after_the_configured_attempts() -> None:
    policy = RetryLater(attempts=4, first_wait=timedelta(seconds=300))
    assert waits(policy, failure(), range(1, 6)) == [300, 600, 1200, 2400, None]


def test_the_wait_is_at_least_the_hosts_retry_after_and_at_most_a_day() -> None:
    policy = RetryLater(attempts=30, first_wait=timedelta(seconds=300))
    assert waits(policy, failure(retry_after=7200), range(1, 2)) == [7200]
    assert waits(policy, failure(), range(20, 21)) == [MAX_WAIT.total_seconds()]


def test_a_page_never_requested_waits_for_its_host_without_using_up_its_attempts() -> None:
    policy = RetryLater(attempts=2, first_wait=timedelta(seconds=300))
    blocked = failure(reason="host_blocked", retry_after=900)
    assert waits(policy, blocked, range(1, 8)) == [900] * 7


@pytest.mark.parametrize(
    "failed",
    [failure(retryable=False), failure(stage="extract"), failure(stage="store")],
    ids=["a page gone for good", "an extraction failure", "a storage failure"],
)
def test_only_transient_fetch_failures_are_tried_again_later(failed: Failure) -> None:
    policy = RetryLater(attempts=5, first_wait=timedelta(seconds=1))
    assert waits(policy, failed, range(1, 2)) == [None]


def test_no_attempts_configured_leaves_every_letter_to_a_replay() -> None:
    assert waits(RetryLater(0, timedelta(seconds=1)), failure(), range(1, 2)) == [None]


@pytest.fixture
def server() -> Iterator[ScriptedSite]:
    """``/feed.xml`` lists ``/a``, ``/b`` and ``/c``; ``/b`` answers 429 (Retry-After: 1)
    the first time, ``/c`` is gone."""
    site = ScriptedSite(
        pages={f"/{name}": page.html for name, page in PAGES.items()},
        feeds={"/feed.xml": [f"/{name}" for name in PAGES]},
        scripts={"/b": [(429, {"Retry-After": "1"})], "/c": [404] * 10},
    )
    with serving(site.server):
        yield site


def through() -> float:
    return (
        REGISTRY.get_sample_value("newsflow_dead_letters_retried_total", {"result": "through"})
        or 0.0
    )


def test_the_service_fetches_a_rate_limited_page_again_after_its_wait_and_keeps_the_gone_one(
    server: ScriptedSite, tmp_path: Path
) -> None:
    config = parse_config(
        {
            "feeds": [{"name": "f", "url": f"{server.base}/feed.xml", "interval_seconds": 3600}],
            "storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "extract": {"workers": 1},
            "fetch": {
                "allow_private_networks": True,
                "respect_robots": False,
                "min_host_interval": 0,
                "retry_attempts": 0,
                "retry_later_seconds": 0.2,
            },
            "schedule": {"jitter": 0},  # the first poll at once, not spread over minutes
            "service": {"http_enabled": False},
        },
        base=ROOT,
    )
    resources = Resources(config)
    service = EmbeddedService(config, resources)
    stop = threading.Event()
    before = through()
    loop = threading.Thread(target=service.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while resources.articles.count() < 2 or server.hits.get("/c", 0) < 1:
            assert time.monotonic() < deadline, f"not settled: hits {server.hits}"
            time.sleep(0.1)
        time.sleep(0.5)  # a wrong extra retry would show in the hits now
    finally:
        stop.set()
        loop.join(timeout=10)
        service.close()
    letters = [resources.dead_letters.get(i) for i in resources.dead_letters.ids()]
    resources.close()

    assert server.hits["/b"] == 2  # the 429, then the page after Retry-After
    assert server.hits["/c"] == 1  # gone for good: never asked again (a host_blocked try
    # during the 429's wait sends nothing)
    [gone] = letters
    assert gone is not None
    assert (gone.reason, gone.retry_at) == ("http_404", None)
    assert through() >= before + 1
