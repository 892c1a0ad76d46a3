"""/metrics of a process with worker processes: one family per name, the children included."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from service_support import MANIFEST, FeedSite, ServiceProcess, wait_until, write_config

from pipeline.models import FeedEntry, Message
from pipeline.runtime.embedded import MESSAGES
from pipeline.service.metrics import (
    DIR_PREFIX,
    MULTIPROC_ENV,
    child_process_metrics,
    merge_families,
    remove_stale_metric_dirs,
    render_metrics,
    timed_process,
)
from pipeline.stages.base import Stage


def _child_counts(worker: str, count: int) -> None:
    """In a spawned process (multiprocess mode, as extraction processes run)."""
    from pipeline.runtime.embedded import MESSAGES as child_messages
    from pipeline.service.metrics import STAGE_SECONDS as child_seconds

    child_messages.labels(worker, "in").inc(count)
    child_seconds.labels(worker).observe(0.2)


def _families(body: bytes) -> dict[str, Metric]:
    families = list(text_string_to_metric_families(body.decode("utf-8")))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family appears twice: Prometheus rejects that"
    return {f.name: f for f in families}


def _value(family: Metric, sample: str, **labels: str) -> float:
    return sum(s.value for s in family.samples
               if s.name == sample and labels.items() <= s.labels.items())  # fmt: skip


def test_counters_of_spawned_workers_are_merged_into_this_process_families() -> None:
    MESSAGES.labels("expo-test", "in").inc(2)
    with child_process_metrics() as directory:
        assert directory is not None and os.environ[MULTIPROC_ENV] == str(directory)
        child = multiprocessing.get_context("spawn").Process(
            target=_child_counts, args=("expo-test", 5)
        )
        child.start()
        child.join(60)
        assert child.exitcode == 0
        families = _families(render_metrics(directory))
    assert MULTIPROC_ENV not in os.environ and not directory.exists()
    messages = families["newsflow_stage_messages"]
    assert _value(messages, "newsflow_stage_messages_total", worker="expo-test") == 7
    seconds = families["newsflow_stage_seconds"]
    assert _value(seconds, "newsflow_stage_seconds_count", worker="expo-test") == 1
    assert _value(seconds, "newsflow_stage_seconds_bucket", worker="expo-test", le="0.25") == 1


def test_merging_sums_equal_samples_and_keeps_the_earliest_created_time() -> None:
    mine = Metric("newsflow_x", "help", "counter")
    mine.samples = [Sample("newsflow_x_total", {"a": "1"}, 2.0),
                    Sample("newsflow_x_created", {"a": "1"}, 100.0)]  # fmt: skip
    theirs = Metric("newsflow_x", "help", "counter")
    theirs.samples = [Sample("newsflow_x_total", {"a": "1"}, 3.0),
                      Sample("newsflow_x_total", {"a": "2"}, 1.0),
                      Sample("newsflow_x_created", {"a": "1"}, 50.0)]  # fmt: skip
    (merged,) = merge_families([mine], [theirs])
    values = {(s.name, s.labels["a"]): s.value for s in merged.samples}
    assert values == {("newsflow_x_total", "1"): 5.0, ("newsflow_x_total", "2"): 1.0,
                      ("newsflow_x_created", "1"): 50.0}  # fmt: skip


class _Fails(Stage):
    name = "fails"
    accepts = (FeedEntry,)

    def process(self, message: Message) -> Iterable[Message]:
        raise ValueError("no")


def test_timed_process_observes_failures_too() -> None:
    count = {"worker": "timed-test"}
    before = REGISTRY.get_sample_value("newsflow_stage_seconds_count", count) or 0
    entry = FeedEntry(feed="f", feed_kind="rss", url="https://e.example/1")
    outcome = timed_process("timed-test", [_Fails()], entry)
    assert outcome.failure is not None and outcome.failure.reason == "unexpected"
    assert REGISTRY.get_sample_value("newsflow_stage_seconds_count", count) == before + 1


def test_a_counter_defined_here_shows_in_the_exposition_without_children() -> None:
    counter = Counter("newsflow_exposition_probe", "probe", ["k"])
    counter.labels("v").inc()
    families = _families(render_metrics(None))
    assert _value(families["newsflow_exposition_probe"], "newsflow_exposition_probe_total") == 1


def test_the_exposition_has_no_created_series() -> None:
    """A third of a service's series were ``_created`` times nothing reads (~6 per feed)."""
    counter = Counter("newsflow_lean_probe", "probe", ["k"])
    counter.labels("v").inc(2)
    assert any(s.name.endswith("_created") for f in REGISTRY.collect() for s in f.samples)
    body = render_metrics(None)
    assert b"_created" not in body
    assert _value(_families(body)["newsflow_lean_probe"], "newsflow_lean_probe_total") == 2


def test_directories_of_dead_processes_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = tmp_path / f"{DIR_PREFIX}{finished.pid}-abc"
    live = tmp_path / f"{DIR_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated-123-x"
    for directory in (dead, live, other):
        directory.mkdir()
    assert remove_stale_metric_dirs(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_gauges_one_process_sets_are_one_series_and_ready_needs_no_probe(tmp_path: Path) -> None:
    """With extraction processes, each would add ``{pid=...} 0`` beside the real value (a
    dashboard read 1 of 4 processes ready); and a service that only Prometheus watches
    must read as ready without anyone calling ``/readyz``."""
    site = FeedSite(tmp_path / "site")
    write_config(tmp_path / "newsflow.yaml", site, tmp_path / "news.db",
                 extract={"workers": 2}, service={"http_enabled": True})  # fmt: skip
    service = ServiceProcess(tmp_path / "newsflow.yaml")
    try:
        wait_until(lambda: service.stored() == len(MANIFEST["pages"]), 120, "the demo stored")
        metrics = service.metrics()
    finally:
        service.close()
        site.close()
    for gauge, labels in (
        ("newsflow_service_ready", ()),
        ("newsflow_dead_letters_waiting", (("source", "store"),)),
        ("newsflow_dedup_index_articles", ()),
    ):
        assert [labels for name, labels in metrics if name == gauge] == [labels], gauge
    assert metrics[("newsflow_service_ready", ())] == 1
    assert metrics[("newsflow_dead_letters_waiting", (("source", "store"),))] == 0
