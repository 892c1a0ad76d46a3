"""Feed polling for the long-running service: poller, scheduler, their metrics.

::

    from pipeline.polling import FeedPoller, Scheduler

    poller = FeedPoller(fetcher, FeedStateRepository(db), config)
    scheduler = Scheduler(config.feeds, config.schedule, poller.state)
    for feed in scheduler.due():
        result = poller.poll(feed)        # new entries only; writes nothing
        ...                               # hand result.entries on durably
        poller.commit(feed, result)       # then mark them seen
        scheduler.record(feed, result)    # and schedule the next poll
"""

from pipeline.polling.poller import FeedPoller, PollResult, entry_keys
from pipeline.polling.scheduler import IntervalPolicy, Scheduler

__all__ = ["FeedPoller", "IntervalPolicy", "PollResult", "Scheduler", "entry_keys"]
