"""The routes of :class:`ServiceEndpoints` on a real server: headers, and scrape storms."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.service import endpoints as endpoints_module
from pipeline.service.endpoints import METRICS_REUSE_SECONDS, ServiceEndpoints


@pytest.fixture
def endpoints() -> Iterator[ServiceEndpoints]:
    config = Config.model_validate({"service": {"http_port": 0}})
    with ServiceEndpoints(config, role="test", store=False) as running:
        yield running


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.parametrize("path", ["/metrics", "/api/status", "/healthz", "/readyz"])
def test_live_answers_are_not_cached_by_clients_or_proxies(
    endpoints: ServiceEndpoints, path: str
) -> None:
    """/metrics had no Cache-Control: a caching proxy in front could serve old figures."""
    status, headers, body = get(f"{endpoints.url}{path}")
    assert status in (200, 503)
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Length"] == str(len(body))


def test_a_scrape_storm_renders_the_metrics_about_once_a_second(
    endpoints: ServiceEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 clients scraping in a loop rendered /metrics 70 times a second, 6 ms of CPU each
    under the GIL the pipeline needs: a run --once took three times as long."""
    renders: list[float] = []
    real_render = endpoints_module._render_metrics

    def counted(directory: Path | None) -> bytes:
        renders.append(time.monotonic())
        return real_render(directory)

    monkeypatch.setattr(endpoints_module, "_render_metrics", counted)
    url = f"{endpoints.url}/metrics"
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: get(url), range(200)))
    took = time.monotonic() - started
    assert {status for status, _, _ in answers} == {200}
    assert all(b"newsflow_" in body for _, _, body in answers)
    assert 1 <= len(renders) <= took / METRICS_REUSE_SECONDS + 2, (len(renders), took)


def test_a_scrape_a_second_later_is_rendered_afresh(
    endpoints: ServiceEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[float] = []
    real_render = endpoints_module._render_metrics
    monkeypatch.setattr(
        endpoints_module, "_render_metrics", lambda d: renders.append(1) or real_render(d)
    )
    get(f"{endpoints.url}/metrics")
    time.sleep(METRICS_REUSE_SECONDS + 0.1)
    get(f"{endpoints.url}/metrics")
    assert len(renders) == 2
