"""The embedded service: poll feeds when due, run the pipeline, commit, repeat.

``run_once`` polls every enabled feed once and drains the pipeline;
``run_forever`` follows the scheduler until asked to stop. A feed's poll is
committed (its new entries marked seen, its validators saved) only after its
entries went through the pipeline, so a crash in between re-delivers them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from pipeline.config import Config, FeedConfig
from pipeline.polling.poller import FeedPoller, PollResult
from pipeline.polling.scheduler import Scheduler
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

log = logging.getLogger(__name__)

POLL_THREADS = 8


class EmbeddedService:
    def __init__(self, config: Config, resources: Resources) -> None:
        self.config = config
        self.resources = resources
        self.pipeline = EmbeddedPipeline(config, resources)
        self.poller = FeedPoller(resources.fetcher, resources.feed_state, config)
        self.scheduler = Scheduler(config.feeds, config.schedule, resources.feed_state)

    def run_once(self) -> RunSummary:
        """Poll every enabled feed once and drain the pipeline."""
        summary = RunSummary()
        self._poll_and_process([f for f in self.config.feeds if f.enabled], summary)
        return summary

    def run_forever(self, stop: threading.Event) -> RunSummary:
        """Poll feeds as they fall due until ``stop`` is set; finish the batch in flight."""
        summary = RunSummary()
        while not stop.is_set():
            due = self.scheduler.due()
            if due:
                self._poll_and_process(due, summary)
            stop.wait(timeout=max(0.05, self.scheduler.seconds_until_next()))
        return summary

    def _poll_and_process(self, feeds: Iterable[FeedConfig], summary: RunSummary) -> None:
        with ThreadPoolExecutor(POLL_THREADS, thread_name_prefix="poll") as pool:
            for feed, result in zip(feeds, pool.map(self.poller.poll, feeds), strict=False):
                self._handle_poll(feed, result, summary)

    def _handle_poll(self, feed: FeedConfig, result: PollResult, summary: RunSummary) -> None:
        summary.feeds_polled += 1
        if result.error is not None:
            summary.feeds_failed += 1
        if result.not_modified:
            summary.feeds_not_modified += 1
        summary.entries += len(result.entries)
        self.pipeline.process(result.entries, summary)
        self.poller.commit(feed, result)
        self.scheduler.record(feed, result)

    def close(self) -> None:
        self.pipeline.close()
