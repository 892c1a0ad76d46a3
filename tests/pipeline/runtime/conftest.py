"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_http import local_resources

from pipeline.runtime.wiring import Resources


@pytest.fixture
def resources(store_url: str) -> Iterator[Resources]:
    """Resources that fetch from 127.0.0.1 (:func:`local_http.local_resources`), on a fresh
    store of each engine in turn; a test module may define its own."""
    with local_resources(store_url) as opened:
        yield opened
