"""Metrics of the long-running service, and the ``/metrics`` text it serves.

Most ``newsflow_*`` metrics live next to the code that counts them (feed
polls in :mod:`pipeline.polling.metrics`, fetches in
:mod:`connectors.http.metrics`, stage messages in
:mod:`pipeline.runtime.embedded`...). This module adds what only a service
has: per-message processing time, consumer lag, DLQ size, the loop heartbeat
and config reloads (and whether the file on disk is rejected).

Worker processes. Extraction runs in a process pool (embedded) and every
worker in its own process (``newsflow run`` on Kafka); their counters would
be invisible to the process serving ``/metrics``. :func:`child_process_metrics`
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before they start, so
they write their values there (prometheus_client's multiprocess mode), and
:func:`render_metrics` merges those files with this process's own registry
into one family per metric name. A gauge without labels exists, at 0, in
every process that imports it; one that a single process sets says
``multiprocess_mode="livemax"``, or each worker process would add a
``{pid="..."} 0`` series beside the real value (a "ready" gauge read as
1 of 4 processes ready)::

    with child_process_metrics() as directory:
        ...start workers...
        body = render_metrics(directory)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

from pipeline.models import Message
from pipeline.runtime.outcome import Outcome, process_safely
from pipeline.stages.base import Stage

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DIR_PREFIX = "newsflow-metrics-"

STAGE_SECONDS = Histogram(
    "newsflow_stage_seconds",
    "Time to process one message through a worker's stages (failures included), per worker.",
    ["worker"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "newsflow_kafka_consumer_lag",
    "Records not yet consumed, per assigned partition (end offset minus position).",
    ["group", "topic", "partition"],
    multiprocess_mode="livesum",
)
ASSIGNED_PARTITIONS = Gauge(
    "newsflow_kafka_assigned_partitions",
    "Partitions assigned to this consumer-group member.",
    ["group"],
    multiprocess_mode="livesum",
)
DEAD_LETTERS_WAITING = Gauge(
    "newsflow_dead_letters_waiting",
    "DLQ size: dead letters waiting for a fix or for their retry (source=store: store rows,"
    " embedded; source=kafka: records of news.dlq and news.retry past their groups). No"
    " series until the first count answered.",
    ["source"],
    multiprocess_mode="livemax",
)
"""Labelled so that it has no series before the first count: a gauge without labels
exists at 0 in every process that imports it, and that 0 read as an empty DLQ."""
STORE_READ_AGE = Gauge(
    "newsflow_store_read_age_seconds",
    "Seconds since the store last answered the count behind newsflow_dead_letters_waiting"
    " (embedded; since the start before it first did): near 0 while the store answers,"
    " growing while it does not, the last count served meanwhile.",
    multiprocess_mode="livemax",
)
HEARTBEAT = Gauge(
    "newsflow_service_heartbeat_timestamp_seconds",
    "When a long-running loop of this process last moved (liveness).",
    ["loop"],
)
CONFIG_RELOADS = Counter(
    "newsflow_config_reloads_total",
    "Config reloads (SIGHUP or file change) by result: applied, unchanged, rejected.",
    ["result"],
)
CONFIG_REJECTED = Gauge(
    "newsflow_config_rejected",
    "1 while the config file on disk is rejected (invalid) and an older config runs, else 0.",
    multiprocess_mode="livemax",
)
CONFIG_RESTART_PENDING = Gauge(
    "newsflow_config_restart_pending",
    "Settings the config file on disk changes that only a restart applies (their running"
    " values stay in effect); 0 once the process runs what the file says.",
    multiprocess_mode="livemax",
)
STORE_UNAVAILABLE = Counter(
    "newsflow_store_unavailable_total",
    "Times a worker held its work back because the store could not be reached (the"
    " embedded service waits for it; a Kafka worker rewinds its batch), per worker.",
    ["worker"],
)
READY = Gauge(
    "newsflow_service_ready",
    "1 when the last readiness check passed, else 0.",
    multiprocess_mode="livemax",
)


def timed_process(worker: str, stages: Sequence[Stage], message: Message) -> Outcome:
    """:func:`process_safely`, observing the time taken in ``newsflow_stage_seconds``."""
    started = time.perf_counter()
    try:
        return process_safely(stages, message)
    finally:
        STAGE_SECONDS.labels(worker).observe(time.perf_counter() - started)


@contextmanager
def child_process_metrics() -> Iterator[Path | None]:
    """A metrics directory for worker processes started inside the block; removed after.

    Yields None when this process is itself in multiprocess mode (the
    variable was set before it started): then everything is in that
    directory already and :func:`render_metrics` reads only it.
    """
    if _this_process_is_multiprocess():
        yield None
        return
    previous = os.environ.get(MULTIPROC_ENV)
    remove_stale_metric_dirs(Path(tempfile.gettempdir()))
    directory = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def collect_metrics(child_dir: Path | None = None) -> list[Metric]:
    """Every metric family of this process and its worker processes, merged by name."""
    if _this_process_is_multiprocess():
        return list(MultiProcessCollector(None, path=os.environ[MULTIPROC_ENV]).collect())
    families = list(REGISTRY.collect())
    if child_dir is not None and child_dir.is_dir():
        children = MultiProcessCollector(None, path=str(child_dir)).collect()
        families = merge_families(families, children)
    return families


def remove_stale_metric_dirs(parent: Path) -> list[Path]:
    """Remove metrics directories left by processes that died without cleaning up (kill -9)."""
    removed = []
    for directory in parent.glob(f"{DIR_PREFIX}*-*"):
        pid = directory.name.removeprefix(DIR_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def render_metrics(child_dir: Path | None = None) -> bytes:
    """The Prometheus text of :func:`collect_metrics`, without ``_created`` samples.

    prometheus_client adds a ``_created`` series (the child's creation time) beside
    every counter, histogram and summary child: a third of a service's series, ~6
    per feed, which Prometheus stores and nothing of newsflow's reads. A counter's
    reset is told by its value going down, as everywhere else.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(without_created(collect_metrics(child_dir))))
    return generate_latest(registry)


def without_created(families: Iterable[Metric]) -> list[Metric]:
    """``families`` with their ``_created`` samples left out."""
    kept = []
    for family in families:
        lean = Metric(family.name, family.documentation, family.type, family.unit)
        lean.samples = [s for s in family.samples if not s.name.endswith("_created")]
        kept.append(lean)
    return kept


def sample_total(families: Iterable[Metric], sample: str, **labels: str) -> float:
    """The sum of every sample called ``sample`` whose labels include ``labels``."""
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def merge_families(*sources: Iterable[Metric]) -> list[Metric]:
    """Families of the same name merged; equal samples summed (``_created``: the earliest)."""
    merged: dict[str, Metric] = {}
    samples: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], Sample]] = {}
    for source in sources:
        for family in source:
            if family.name not in merged:
                merged[family.name] = Metric(family.name, family.documentation, family.type)
                samples[family.name] = {}
            bucket = samples[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                bucket[key] = _combine(bucket.get(key), sample)
    for name, family in merged.items():
        family.samples = list(samples[name].values())
    return list(merged.values())


def _combine(old: Sample | None, new: Sample) -> Sample:
    if old is None:
        return new
    if new.name.endswith("_created"):
        return old._replace(value=min(old.value, new.value))
    return old._replace(value=old.value + new.value)


def _this_process_is_multiprocess() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class _Fixed:
    """A collector handing out families collected beforehand."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families
