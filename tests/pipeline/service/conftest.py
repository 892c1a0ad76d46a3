"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import FeedSite


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FeedSite]:
    """The demo's feeds and pages served on 127.0.0.1 for one test; a module may define
    its own (one site for the whole module)."""
    served = FeedSite(tmp_path / "site")
    yield served
    served.close()
