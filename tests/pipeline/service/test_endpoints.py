"""The routes of :class:`ServiceEndpoints` on a real server: headers, and scrape storms."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from pipeline.config import Config
from pipeline.service.endpoints import ServiceEndpoints


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
