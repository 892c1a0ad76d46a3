"""Prometheus metrics of feed polling, labelled per feed (names ``newsflow_feed_...``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prometheus_client import Counter, Gauge, values
from prometheus_client.metrics import MetricWrapperBase

from connectors.feeds import parse, warc
from connectors.storage.feed_state import FeedState

POLLS = Counter("newsflow_feed_polls_total", "Feed polls, by outcome.", ["feed", "status"])
FAILURES = Counter(
    "newsflow_feed_failures_total", "Failed feed polls, by reason.", ["feed", "reason"]
)
ENTRIES = Counter("newsflow_feed_entries_total", "New entries a feed yielded.", ["feed"])
UPDATED = Counter(
    "newsflow_feed_updated_entries_total",
    "Entries handed on before that a feed listed as updated since: fetched again, or"
    " waiting for a later poll (over schedule.max_updated_per_poll).",
    ["feed", "outcome"],
)
UPDATES_STAMPED = Counter(
    "newsflow_feed_updates_stamped_total",
    "Polls whose entries' updated times looked like the document's generation time (most"
    " share one time, or are minutes old): ignored, nothing fetched again.",
    ["feed"],
)
NOT_MODIFIED = Counter(
    "newsflow_feed_not_modified_total", "Polls answered 304 Not Modified.", ["feed"]
)
LAST_SUCCESS = Gauge(
    "newsflow_feed_last_success_timestamp_seconds", "When the feed was last polled fine.", ["feed"]
)
UNHEALTHY = Gauge(
    "newsflow_feed_unhealthy", "1 while a feed has failed too often in a row.", ["feed"]
)
CHILD_FAILURES = Counter(
    "newsflow_feed_child_sitemap_failures_total",
    "Child sitemaps of an index that could not be fetched or parsed, by reason.",
    ["feed", "reason"],
)

CHILDREN_OVER_CAP = Counter(
    "newsflow_feed_child_sitemaps_over_cap_total",
    "Child sitemaps an index listed that a poll did not read: over schedule.max_child_sitemaps.",
    ["feed"],
)


def show_feed(state: FeedState) -> None:
    """A feed followed (at start, or added by a reload): its gauges as its stored state
    says. A process starts with none, and a restart must not clear the alert on a feed
    that is still unhealthy."""
    UNHEALTHY.labels(state.feed).set(int(state.unhealthy))
    if state.last_success_at is not None:
        LAST_SUCCESS.labels(state.feed).set(state.last_success_at)
    else:
        with suppress(KeyError), _removal_in_memory():
            LAST_SUCCESS.remove(state.feed)


PER_FEED = (
    UNHEALTHY,
    LAST_SUCCESS,
    POLLS,
    FAILURES,
    ENTRIES,
    UPDATED,
    UPDATES_STAMPED,
    NOT_MODIFIED,
    CHILD_FAILURES,
    CHILDREN_OVER_CAP,
    warc.RECORDS,
    warc.UNREADABLE,
    parse.DROPPED,
)
"""Every metric with a ``feed`` label: what :func:`forget_feed` clears (a WARC backfill's
counters too: a backfill is the feed most often removed once it is through; and the
links and fields each feed document left out)."""


def forget_feed(name: str) -> None:
    """A feed no longer followed (removed or disabled by a reload): every series of it goes,
    or an alert on its gauges would never clear and its counters would be exported for ever.

    Only values held in memory can be forgotten. A process started with
    ``PROMETHEUS_MULTIPROC_DIR`` already set writes them to that directory's files instead,
    from which prometheus_client removes nothing (it warns): there a removed feed's
    series stay until the process restarts with a fresh directory.
    """
    for metric in PER_FEED:
        _remove_feed_series(metric, name)


def _remove_feed_series(metric: MetricWrapperBase, feed: str) -> None:
    """Remove every series of ``feed``, whatever its other labels (status, reason)."""
    with _removal_in_memory():
        metric.remove_by_labels({"feed": feed})


@contextmanager
def _removal_in_memory() -> Iterator[None]:
    """Silence prometheus_client's warning that removal does not work while this process
    keeps its values in memory, where removal does work.

    The library warns whenever ``PROMETHEUS_MULTIPROC_DIR`` is set; but the serving
    process sets it only for its worker processes
    (:func:`pipeline.service.metrics.child_process_metrics`). The warning is kept for a
    process that really writes its values to files.
    """
    with warnings.catch_warnings():
        if not getattr(values.ValueClass, "_multiprocess", False):
            warnings.filterwarnings("ignore", "Removal of labels", UserWarning)
        yield
