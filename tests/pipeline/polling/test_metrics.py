"""Per-feed polling metrics: a feed no longer followed leaves no series behind."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.feeds import parse, warc
from connectors.storage.feed_state import FeedState
from pipeline.polling import metrics


def test_forgetting_a_feed_while_worker_processes_write_to_files_is_quiet_and_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serving process points PROMETHEUS_MULTIPROC_DIR at a directory for its workers
    only; its own values stay in memory, so the removal works and needs no warning."""
    metrics.FAILURES.labels("gone", "http_500").inc()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.forget_feed("gone")
    sample = REGISTRY.get_sample_value(
        "newsflow_feed_failures_total", {"feed": "gone", "reason": "http_500"}
    )
    assert sample is None


def test_showing_a_feed_never_polled_while_worker_processes_write_to_files_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At start on a fresh store every feed is shown without a last success: the raw
    UserWarning went to stderr between the JSON log events."""
    metrics.LAST_SUCCESS.labels("fresh").set(1.0)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.show_feed(FeedState(feed="fresh"))
    sample = REGISTRY.get_sample_value(
        "newsflow_feed_last_success_timestamp_seconds", {"feed": "fresh"}
    )
    assert sample is None


def test_forgetting_a_warc_backfill_drops_its_record_and_unreadable_counters() -> None:
    """A backfill removed once it is through left newsflow_warc_records_total{feed=...}
    exported for the life of the process (seen on a service reloaded without it)."""
    warc.RECORDS.labels("backfill-done").inc(20)
    warc.UNREADABLE.labels("backfill-done").inc()
    metrics.forget_feed("backfill-done")
    exported = {
        sample.labels.get("feed")
        for metric in REGISTRY.collect()
        if metric.name.startswith("newsflow_warc_")
        for sample in metric.samples
    }
    assert "backfill-done" not in exported


def test_forgetting_a_feed_drops_its_links_dropped_series() -> None:
    """newsflow_feed_links_dropped_total{feed=...} of a removed feed stayed exported."""
    parse.DROPPED.labels("removed", "not_http").inc()
    parse.DROPPED.labels("removed", "field_too_long").inc(3)
    parse.DROPPED.labels("kept", "not_http").inc()
    metrics.forget_feed("removed")
    exported = {
        sample.labels.get("feed")
        for metric in REGISTRY.collect()
        if metric.name == "newsflow_feed_links_dropped"
        for sample in metric.samples
    }
    assert "removed" not in exported and "kept" in exported
