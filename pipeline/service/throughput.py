"""Throughput over the last hour, per minute, from this process's own counters.

A sampler reads a few counter totals every ``interval`` seconds and keeps an
hour of samples; :meth:`Throughput.per_minute` turns the differences into
per-minute counts for the status page's chart. It needs no store query, so
it works the same in every role (a ``stage extract`` process charts its own
work), and it starts empty when the process starts::

    throughput = Throughput(lambda: collect_metrics(child_dir))
    throughput.sample()                 # called by a timer thread
    throughput.per_minute()             # {"series": {"entries": [0, 3, ...], ...}}
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric

from pipeline.service.metrics import sample_total
from pipeline.topology import WORKERS

log = logging.getLogger(__name__)

MINUTES = 60
SAMPLE_SECONDS = 5.0


def totals(families: Iterable[Metric]) -> dict[str, float]:
    """The counters charted: new feed entries, messages into each worker, dead letters."""
    families = list(families)
    series = {"entries": sample_total(families, "newsflow_feed_entries_total")}
    for worker in WORKERS:
        series[worker.name] = sample_total(
            families, "newsflow_stage_messages_total", worker=worker.name, direction="in"
        )
    series["dead letters"] = sample_total(families, "newsflow_dead_letters_total")
    return series


class Throughput:
    """An hour of counter samples; thread-safe."""

    def __init__(
        self,
        collect: Callable[[], Iterable[Metric]],
        *,
        interval: float = SAMPLE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.collect = collect
        self.interval = interval
        self.clock = clock
        self._samples: deque[tuple[float, dict[str, float]]] = deque(
            maxlen=int(MINUTES * 60 / interval) + 2
        )
        self._lock = threading.Lock()

    def sample(self) -> None:
        point = (self.clock(), totals(self.collect()))
        with self._lock:
            self._samples.append(point)

    def per_minute(self, *, live: bool = True) -> dict[str, object]:
        """Counts per minute for the last hour, oldest first; the last bucket is this minute.

        ``live``: the counters are read once more now, so the last bucket is
        current rather than up to one sampling interval old.
        """
        now = self.clock()
        with self._lock:
            samples = list(self._samples)
        if live:
            samples.append((now, totals(self.collect())))
        names = list(samples[-1][1]) if samples else list(totals([]))
        series = {name: [0.0] * MINUTES for name in names}
        for (_, before), (at, after) in itertools.pairwise(samples):
            bucket = MINUTES - 1 - int((now - at) // 60)
            if 0 <= bucket < MINUTES:
                for name in names:
                    series[name][bucket] += max(0.0, after.get(name, 0) - before.get(name, 0))
        return {
            "bucket_seconds": 60,
            "since": samples[0][0] if samples else now,
            "series": {name: [round(v) for v in counts] for name, counts in series.items()},
        }

    def run(self, stop: threading.Event) -> None:
        """Sample every ``interval`` seconds until ``stop`` (a daemon thread's target)."""
        while True:
            try:
                self.sample()
            except Exception:  # a failed read of worker files must not end the sampling
                log.debug("throughput sample failed", exc_info=True)
            if stop.wait(self.interval):
                return
