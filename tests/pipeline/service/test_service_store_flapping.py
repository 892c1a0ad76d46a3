"""A store that fails again soon after it came back is waited for longer each time.

A nearly full disk takes the probe's one-row write but not an article: the
service would come back, re-poll and re-fetch its work in hand, and fail again,
every second. It goes on with the longer waits instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.errors import StoreUnavailable
from pipeline.runtime.service import EmbeddedService
from pipeline.runtime.wiring import Resources


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EmbeddedService]:
    config = parse_config(
        {"storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"}, "extract": {"workers": 1}}
    )
    resources = Resources(config)
    embedded = EmbeddedService(config, resources)
    yield embedded
    embedded.close()
    resources.close()


def announced_waits(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().rsplit("trying the store again in ", 1)[1]
        for r in caplog.records
        if getattr(r, "event", None) == "store_unavailable"
    ]


def test_a_failure_soon_after_the_store_came_back_waits_longer(
    service: EmbeddedService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.runtime.service")
    stop = threading.Event()

    service._wait_for_store(StoreUnavailable("disk full"), stop)  # the probe's write succeeds
    service._wait_for_store(StoreUnavailable("disk full again"), stop)

    assert announced_waits(caplog) == ["1 s", "2 s"]
    backs = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "store_back"]
    assert backs == ["store is back after 1 tries", "store is back after 1 tries"]
