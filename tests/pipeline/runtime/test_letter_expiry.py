"""Embedded dead letters leave the store after storage.dead_letter_retention_hours."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.storage import Database, DeadLetterRepository
from pipeline.config import StorageConfig, parse_config
from pipeline.runtime.letter_expiry import LetterExpiry
from pipeline.runtime.service import EmbeddedService
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def letters(tmp_path: Path) -> Iterator[DeadLetterRepository]:
    db = Database(f"sqlite:///{tmp_path / 'news.db'}")
    yield DeadLetterRepository(db)
    db.close()


def failed(letters: DeadLetterRepository, key: str, *, days_ago: float) -> None:
    letters.add(
        stage="fetch", topic="items", error_class="HttpStatusError", reason="http_404",
        error="gone", payload="{}", letter_key=key,
    )  # fmt: skip
    then = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    letters.db.execute(
        "UPDATE dead_letters SET last_failed_at = ? WHERE letter_key = ?", (then, key)
    )


def expired_total() -> float:
    return REGISTRY.get_sample_value("newsflow_dead_letters_expired_total") or 0.0


def test_the_first_look_removes_what_is_past_the_retention_and_says_so(
    letters: DeadLetterRepository, caplog: pytest.LogCaptureFixture
) -> None:
    failed(letters, "a", days_ago=31)
    failed(letters, "b", days_ago=45)
    failed(letters, "c", days_ago=29)
    before = expired_total()
    expiry = LetterExpiry.from_config(letters, StorageConfig())

    with caplog.at_level(logging.INFO, logger="pipeline.runtime.letter_expiry"):
        assert expiry.run_due() == 2

    assert letters.count() == 1
    assert expired_total() - before == 2
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "dead_letters_expired"]
    assert record.getMessage() == "removed 2 dead letters that had not failed again for 30 days"


def test_later_looks_wait_their_interval(letters: DeadLetterRepository) -> None:
    now = [1000.0]
    expiry = LetterExpiry(letters, timedelta(hours=12), every_seconds=3600, clock=lambda: now[0])
    assert expiry.run_due() == 0
    failed(letters, "a", days_ago=1)

    now[0] += 3599
    assert expiry.run_due() == 0
    assert letters.count() == 1

    now[0] += 1
    assert expiry.run_due() == 1
    assert letters.count() == 0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EmbeddedService]:
    config = parse_config(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "extract": {"workers": 1},
            "service": {"http_enabled": False},
        },
        base=ROOT,
    )
    resources = Resources(config)
    service = EmbeddedService(config, resources)
    yield service
    service.close()
    resources.close()


def test_run_once_removes_expired_letters(service: EmbeddedService) -> None:
    """``newsflow run --once`` from cron must keep the store bounded too."""
    letters = service.resources.dead_letters
    failed(letters, "old", days_ago=31)
    failed(letters, "young", days_ago=1)

    service.run_once()

    kept = [letters.get(i) for i in letters.ids()]
    assert [letter.letter_key for letter in kept if letter] == ["young"]


def test_the_service_removes_expired_letters_as_it_runs(service: EmbeddedService) -> None:
    letters = service.resources.dead_letters
    failed(letters, "old", days_ago=31)
    stop = threading.Event()
    loop = threading.Thread(target=service.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while letters.count():
            assert time.monotonic() < deadline, "the expired letter is still there"
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
