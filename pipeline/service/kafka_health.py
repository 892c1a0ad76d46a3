"""Readiness, consumer lag and DLQ size on Kafka.

Two vantage points:

- :class:`MemberTicker`, for one consumer-group member (``newsflow stage
  NAME``): the worker's loop calls it after every batch; it beats the
  heartbeat and, every :data:`LAG_SECONDS`, sets the lag of each assigned
  partition (end offset minus position) and how many partitions the member
  holds. The member is ready once it holds at least one partition.
- :class:`BrokerProbe`, asked from the HTTP thread (``newsflow run`` on
  Kafka, whose workers are child processes, and ``stage poll``): is the
  broker reachable, does every worker group have its partitions assigned,
  how far behind is each group (end offset minus committed offset), and how
  many letters wait on ``news.dlq`` and ``news.retry`` (and which, for the
  status page of every Kafka process). Answers are cached for
  :data:`CACHE_SECONDS`, so probes and scrapes cost the broker little. The
  broker is asked on a thread of the probe's own (a
  :class:`~pipeline.service.lookout.Lookout`), and a request waits for it at
  most :data:`~pipeline.service.lookout.ANSWER_SECONDS`: a broker that has
  not answered by then is reported unreachable, so ``/readyz`` answers within
  a probe's timeout even while a client spends 15 s failing to connect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from kafka import TopicPartition

from connectors.kafka.clients import LookoutClients
from connectors.kafka.consumer import GroupConsumer
from connectors.kafka.dlq import DeadLetter, PendingView
from connectors.kafka.errors import GROUP_FORMING, UNREACHABLE_REASONS, kafka_errors
from connectors.kafka.topics import committed_offsets, end_offsets, partitions_of
from pipeline.config import Config
from pipeline.errors import TransportError
from pipeline.service.endpoints import ServiceEndpoints
from pipeline.service.health import Answer, Health
from pipeline.service.lookout import Lookout
from pipeline.service.metrics import ASSIGNED_PARTITIONS, CONSUMER_LAG, DEAD_LETTERS_WAITING
from pipeline.service.reload import ConfigReloader
from pipeline.service.status import RECENT_ERRORS
from pipeline.topology import WORKERS, topic_name

log = logging.getLogger(__name__)

LAG_SECONDS = 5.0
CACHE_SECONDS = 5.0


class MemberTicker:
    """Called by a worker's loop after each batch: heartbeat, lag and assignment of the member.

    Made before the loop starts: liveness fails until its first call, so a
    member still connecting to its broker (or unable to) does not read as alive.
    """

    LOOP = "worker"

    def __init__(
        self, group: str, health: Health, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.group = group
        self.health = health
        self.clock = clock
        health.expect(self.LOOP)
        self.assigned: int | None = None
        """Partitions held at the last look; None before the first."""
        self._next_lag = 0.0
        self._reported: set[tuple[str, int]] = set()

    def __call__(self, consumer: GroupConsumer | None) -> None:
        self.health.beat(self.LOOP)
        if consumer is None or self.clock() < self._next_lag:
            return
        self._next_lag = self.clock() + LAG_SECONDS
        try:
            self.update_lag(consumer)
        except TransportError as exc:
            log.debug("%s: lag not updated: %s", self.group, exc)

    def progress(self) -> None:
        """Called after each record the worker handles: a long batch is not a hang."""
        self.health.beat(self.LOOP)

    def update_lag(self, consumer: GroupConsumer) -> None:
        positions = consumer.positions()
        ends = end_offsets(consumer.consumer, [TopicPartition(t, p) for t, p in positions])
        for (topic, partition), position in positions.items():
            end = ends.get(TopicPartition(topic, partition), position)
            CONSUMER_LAG.labels(self.group, topic, str(partition)).set(max(0, end - position))
        for topic, partition in self._reported - set(positions):
            CONSUMER_LAG.labels(self.group, topic, str(partition)).set(0)  # moved to another member
        self._reported = set(positions)
        self.assigned = len(positions)
        ASSIGNED_PARTITIONS.labels(self.group).set(len(positions))

    def check(self) -> str | None:
        """Readiness: the member holds partitions (a member beyond the partition count does not)."""
        if self.assigned is None:
            return "not yet joined the consumer group"
        if self.assigned == 0:
            return f"no partitions of group {self.group} assigned to this member (idle standby)"
        return None


class BrokerOutage:
    """Says once that the broker stopped answering and once that it answers again.

    While a broker is down kafka-python logs each retry (one line a minute shown, see
    :mod:`connectors.kafka.library_logs`); this is newsflow's own account of it, from
    the looks of a loop that asks the broker again and again: the probe's (``/readyz``,
    scrapes, the status page), the dead-letter retry's. ``waiting`` says what waits for
    the broker meanwhile, when it is not the one who looks.
    """

    def __init__(self, address: str, clock: Callable[[], float], *, waiting: str = "") -> None:
        self.address = address
        self.clock = clock
        self.waiting = waiting
        self.since: float | None = None
        """When the first look went unanswered; None while the broker answers."""
        self.failures = 0
        """Looks that went unanswered since then."""

    def failed(self, error: TransportError) -> bool:
        """Count a failed look; say so if it is the first. False if ``error`` is not the
        broker being unreachable (the caller reports it itself)."""
        if error.reason not in UNREACHABLE_REASONS:
            return False
        self.failures += 1
        if self.since is not None:
            return True
        self.since = self.clock()
        log.warning(
            "Kafka broker unreachable at %s, %s for it: %s",
            self.address, f"{self.waiting} wait" if self.waiting else "waiting", error,
            extra={"event": "kafka_unavailable", "reason": error.reason},
        )  # fmt: skip
        return True

    def answered(self) -> None:
        if self.since is None:
            return
        down_for, self.since = self.clock() - self.since, None
        failures, self.failures = self.failures, 0
        log.info(
            "Kafka broker at %s answers again (unreachable for %.0f s, %d failed look%s)%s",
            self.address, down_for, failures, "" if failures == 1 else "s",
            f"; {self.waiting} go on" if self.waiting else "",
            extra={"event": "kafka_back"},
        )  # fmt: skip


class BrokerProbe:
    """Broker reachability, group assignment, group lag and DLQ size, from outside the workers.

    Every look at the broker runs on one daemon thread of its own (the
    clients are not shared between threads; a look stuck connecting does not
    hold up the exit), at most one look per question at a time.
    """

    def __init__(
        self,
        config: Config,
        groups: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.groups = list(groups)
        self.clock = clock
        self._clients = LookoutClients(config.kafka, "newsflow-health")
        self._lookout = Lookout("broker-probe", cache_seconds=CACHE_SECONDS, clock=clock)
        self._letters_view = PendingView(config.kafka)
        self._outage = BrokerOutage(self.address, clock)

    @property
    def address(self) -> str:
        return ", ".join(self.config.kafka.bootstrap_servers)

    def check(self, until: float | None = None) -> str | None:
        """Readiness: the broker answers and every worker group has its partitions assigned."""
        return self.ask()(until)

    def ask(self) -> Answer:
        """:meth:`check` as a :data:`~pipeline.service.health.SlowCheck`: the look begun,
        and what waits for it."""
        asked = self._lookout.begin("check", partial(self._look, self._check, self._unreachable))

        def answer(until: float | None) -> str | None:
            problem, silent_for = asked.answer(until)
            if silent_for is not None:
                return f"broker unreachable at {self.address}: no answer for {silent_for:.1f} s"
            return str(problem) if problem is not None else None

        return answer

    def refresh_gauges(self) -> None:
        """Before a scrape: lag per group and partition, and records on the DLQ topic."""
        self._ask("gauges", self._gauges, _nothing)

    def dead_letters(self) -> dict[str, Any] | None:
        """The status page's letters: how many wait in ``news.dlq`` and ``news.retry``, and
        the newest of them; None while the broker does not answer."""
        result: dict[str, Any] | None = self._ask("letters", self._letters, _nothing)[0]
        return result

    def _unreachable(self, error: TransportError) -> str:
        """A failed look, as readiness reports it: naming the address when nothing answered
        there (a wrong ``kafka.bootstrap_servers`` reads as such)."""
        if error.reason in UNREACHABLE_REASONS:
            return f"broker unreachable at {self.address}: {error}"
        return str(error)

    def _letters(self) -> dict[str, Any]:
        admin, consumer = self._clients.get()
        total, newest = self._letters_view.count_and_newest(admin, consumer, RECENT_ERRORS)
        return {"total": total, "recent": [letter_row(letter) for letter in newest]}

    def _check(self) -> str | None:
        admin = self._clients.get()[0]
        if not self.groups:
            with kafka_errors("describe the cluster"):
                admin.describe_cluster()
            return None
        with kafka_errors("describe the consumer groups"):
            try:
                described = admin.describe_groups(self.groups)
            except GROUP_FORMING as exc:
                return forming(self.groups, exc)
        problems = [
            f"group {group}: no partitions assigned (state {info.get('group_state')})"
            for group, info in described.items()
            if not _assigned(info)
        ]
        return "; ".join(problems) or None

    def _gauges(self) -> None:
        admin, consumer = self._clients.get()
        prefix = self.config.kafka.topic_prefix
        group_of = {f"{self.config.kafka.group_prefix}.{w.name}": w for w in WORKERS}
        for group in self.groups:
            worker = group_of.get(group)
            if worker is None:
                continue
            partitions = partitions_of(admin, [topic_name(prefix, t) for t in worker.consumes])
            ends = end_offsets(consumer, partitions)
            committed = committed_offsets(admin, group, forming_wait_s=0.0)  # probes answer at once
            for tp in partitions:
                lag = max(0, ends[tp] - committed.get(tp, 0))
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)
        DEAD_LETTERS_WAITING.labels("kafka").set(self._letters_view.count(admin, consumer))

    def _ask(
        self, key: str, compute: Callable[[], Any], failed: Callable[[TransportError], Any]
    ) -> tuple[Any, float | None]:
        """``compute``'s answer (``failed(error)`` when the broker refused), asked on the
        probe's thread (see :meth:`Lookout.ask <pipeline.service.lookout.Lookout.ask>`)."""
        return self._lookout.ask(key, partial(self._look, compute, failed))

    def _look(self, compute: Callable[[], Any], failed: Callable[[TransportError], Any]) -> Any:
        """On the probe's thread: a refused look closes the clients (the next connects anew)."""
        try:
            answer = compute()
        except TransportError as exc:
            self._clients.close()
            self._outage.failed(exc)
            return failed(exc)
        self._outage.answered()
        return answer

    def close(self) -> None:
        """Close the clients on the probe's thread, after the look in hand (see
        :meth:`Lookout.close <pipeline.service.lookout.Lookout.close>`)."""
        self._lookout.close(self._clients.close)


def _nothing(error: TransportError) -> None:
    """A failed look whose answer is simply missing (a gauge not refreshed, letters unknown)."""
    return None


def letter_row(letter: DeadLetter) -> dict[str, Any]:
    """A Kafka letter as the status page shows a letter (the fields of a stored one)."""
    info = letter.info
    where = letter.place
    if info is None:
        return {"where": where, "stage": "-", "reason": "invalid", "attempts": 1,
                "last_failed_at": "", "retry_at": None,
                "error": "not a dead letter: headers missing"}  # fmt: skip
    return {
        "where": where,
        "stage": info.stage,
        "reason": info.reason,
        "attempts": info.attempts,
        "last_failed_at": info.failed_at,
        "retry_at": info.retry_at,
        "error_class": info.error_class,
        "error": info.error_message,
        "source": info.source,
    }


def forming(groups: Sequence[str], error: Exception) -> str:
    """Readiness while the coordinator of ``groups`` is not there yet: not ready, but said
    as such (it read "broker unreachable at ...: CoordinatorNotAvailableError", and sent
    people to a broker that was fine)."""
    return (
        f"group {', '.join(groups)}: coordinator not available yet (group forming:"
        f" {type(error).__name__})"
    )


def _assigned(info: dict[str, Any]) -> bool:
    return any(
        assigned["partitions"]
        for member in info.get("members", [])
        for assigned in (member.get("member_assignment") or {}).get("assigned_partitions", [])
    )


def stage_endpoints(
    config: Config, name: str, reloader: ConfigReloader | None = None
) -> tuple[ServiceEndpoints, MemberTicker | None]:
    """The endpoints of ``newsflow stage NAME``, and the ticker its worker loop calls.

    ``poll`` (the feed source) is ready when the store and the broker
    answer, and reports the DLQ size; a worker is ready when the broker
    answers and it holds partitions, and reports the lag of its partitions.
    The fetch worker does not use the store, so its readiness ignores it.
    Either is live only once its loop has started (connecting to the broker
    comes first).
    """
    endpoints = ServiceEndpoints(
        config, role=f"stage {name}", reloader=reloader, store=name != "fetch"
    )
    probe = BrokerProbe(config, [])
    endpoints.add_slow_check("kafka", probe.ask)
    endpoints.letters_from(probe.dead_letters)
    endpoints.on_close(probe.close)
    if name == "poll":
        endpoints.on_scrape(probe.refresh_gauges)
        endpoints.control.expect()
        return endpoints, None
    ticker = MemberTicker(f"{config.kafka.group_prefix}.{name}", endpoints.health)
    endpoints.add_check("partitions", ticker.check)
    return endpoints, ticker
