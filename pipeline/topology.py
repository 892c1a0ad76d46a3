"""Which worker consumes which topic and runs which stages.

The same table drives both transports: on Kafka each worker is a consumer
group (``newsflow stage NAME``); embedded, the workers run one after another
in one process with in-memory hand-offs instead of topics. A worker's output
topic is each produced message's own ``topic``.

::

    feeds ─poll─▶ items ─fetch─▶ pages ─extract─▶ articles ─dedup─▶ enriched ───┬─store─▶ DB
                                                          (tag → dedup) └─▶ duplicates ┘

The store writes to ``duplicates`` too, rarely: a re-pointing the dedup stage
could not announce (see :mod:`pipeline.stages.store`). Every worker writes the
messages it cannot handle to ``dlq``, or to ``retry`` when they are to be
tried again later (:data:`LETTER_TOPICS`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Worker:
    name: str
    consumes: tuple[str, ...]
    stages: tuple[str, ...]
    """Stage names, run in order on each consumed message."""


WORKERS: tuple[Worker, ...] = (
    Worker("fetch", ("items",), ("fetch",)),
    Worker("extract", ("pages",), ("extract",)),
    Worker("dedup", ("articles",), ("tag", "dedup")),
    Worker("store", ("enriched", "duplicates"), ("store",)),
)

WORKER_BY_NAME = {w.name: w for w in WORKERS}

STAGES: tuple[str, ...] = tuple(stage for w in WORKERS for stage in w.stages)
"""Every stage, in pipeline order: what a dead letter's ``stage`` names."""

LETTER_TOPICS: tuple[str, ...] = ("dlq", "retry")
"""Where failed messages wait: ``dlq`` for a person (``newsflow dlq``), ``retry`` for
their time to be fetched again (transient fetch failures; the service sends them back)."""

TOPICS: tuple[str, ...] = ("items", "pages", "articles", "enriched", "duplicates", *LETTER_TOPICS)


def topic_name(prefix: str, logical: str) -> str:
    """``news`` + ``items`` -> ``news.items``."""
    return f"{prefix}.{logical}"
