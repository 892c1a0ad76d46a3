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
  broker is asked on a thread of the probe's own, and a request waits for it
  at most :data:`ANSWER_SECONDS` from when the look in hand began: a broker
  that has not answered by then is reported unreachable, so ``/readyz``
  answers within a probe's timeout even while a client spends 15 s failing
  to connect, and a scrape that asks two questions waits once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, NamedTuple

from kafka import TopicPartition

from connectors.kafka.clients import LookoutClients
from connectors.kafka.consumer import GroupConsumer
from connectors.kafka.dlq import DeadLetter, PendingView
from connectors.kafka.errors import kafka_errors
from connectors.kafka.topics import committed_offsets, end_offsets, partitions_of
from pipeline.config import Config
from pipeline.errors import TransportError
from pipeline.runtime.daemon_pool import DaemonPool
from pipeline.service.endpoints import ServiceEndpoints
from pipeline.service.health import Health
from pipeline.service.metrics import ASSIGNED_PARTITIONS, CONSUMER_LAG, DEAD_LETTERS_WAITING
from pipeline.service.reload import ConfigReloader
from pipeline.service.status import RECENT_ERRORS
from pipeline.topology import WORKERS, topic_name

log = logging.getLogger(__name__)

LAG_SECONDS = 5.0
CACHE_SECONDS = 5.0
ANSWER_SECONDS = 0.8
"""How long an HTTP request waits for the broker before answering without it. Probes give
up after 1 s (Kubernetes' default); a client connecting to an address where nothing
listens takes 15 s to fail (``bootstrap_timeout_ms``), and waiting for that made
``/readyz`` a failed probe of its own and queued every later request behind it."""
STALE_SECONDS = 10.0
"""While a look takes longer than :data:`ANSWER_SECONDS`, the last answer stands for this
long: a broker slow to answer (a busy group coordinator) must not fail one readiness
probe every time the cache runs out; one silent for longer is reported unreachable."""
UNREACHABLE_REASONS = frozenset({"kafka_unavailable", "kafka_timeout"})


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
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, Any]] = {}
        self._looking: dict[str, _Look] = {}
        """Looks asked for and not yet answered."""
        self._looking_since: float | None = None
        """When the look in hand began (None while none runs)."""
        self._looking_began: float | None = None
        """The same, by ``time.monotonic()``: requests wait for the broker from then on."""
        self._looker: DaemonPool | None = None
        self._closed = False
        self._letters_view = PendingView(config.kafka)

    @property
    def address(self) -> str:
        return ", ".join(self.config.kafka.bootstrap_servers)

    def check(self) -> str | None:
        """Readiness: the broker answers and every worker group has its partitions assigned."""
        problem, silent_for = self._ask("check", self._check, self._unreachable)
        if silent_for is not None:
            return f"broker unreachable at {self.address}: no answer for {silent_for:.1f} s"
        return str(problem) if problem is not None else None

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
            described = admin.describe_groups(self.groups)
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
            committed = committed_offsets(admin, group)
            for tp in partitions:
                lag = max(0, ends[tp] - committed.get(tp, 0))
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)
        DEAD_LETTERS_WAITING.set(self._letters_view.count(admin, consumer))

    def _ask(
        self, key: str, compute: Callable[[], Any], failed: Callable[[TransportError], Any]
    ) -> tuple[Any, float | None]:
        """``(answer, None)``: ``compute``'s value (``failed(error)`` when the broker refused),
        at most :data:`CACHE_SECONDS` old, or the last one while a newer look is slow (for up
        to :data:`STALE_SECONDS`). ``(None, seconds)`` when the broker has not answered within
        :data:`ANSWER_SECONDS` and there is no such answer: for how long it has been asked."""
        with self._lock:
            now = self.clock()
            hit = self._cached.get(key)
            if hit is not None and now - hit[0] < CACHE_SECONDS:
                return hit[1], None
            look = self._looking.get(key)
            if look is None and not self._closed:
                if self._looker is None:
                    self._looker = DaemonPool(1, name="broker-probe")
                future = self._looker.submit(self._look, key, compute, failed)
                look = _Look(now, self._give_up(), future)
                self._looking[key] = look
        if look is not None:
            try:  # a look asked for earlier is waited for only what is left of its wait
                return look.answer.result(timeout=max(0.0, look.give_up - time.monotonic())), None
            except (FutureTimeout, CancelledError):
                pass
        with self._lock:
            since = self._looking_since
            hit = self._cached.get(key)
        if since is None:  # the look is queued (or the probe closed)
            since = look.asked if look is not None else self.clock()
        silent_for = self.clock() - since
        if hit is not None and silent_for < STALE_SECONDS:
            return hit[1], None  # a slow look: the last answer stands meanwhile
        return None, silent_for

    def _give_up(self) -> float:
        """When a request stops waiting for a new look: :data:`ANSWER_SECONDS` after the look
        in hand began, if one runs. A new look waits behind it; while the broker is silent,
        each waited in full (a scrape refreshes the gauges, then readiness: 1.6 s)."""
        began = self._looking_began
        return (time.monotonic() if began is None else began) + ANSWER_SECONDS

    def _look(
        self, key: str, compute: Callable[[], Any], failed: Callable[[TransportError], Any]
    ) -> Any:
        """On the probe's thread: one look, its answer cached from when it came (a failed
        connection takes 15 s; stamped with when it was asked, it was stale on arrival)."""
        with self._lock:
            self._looking_since = self.clock()
            self._looking_began = time.monotonic()
        try:
            try:
                value = compute()
            except TransportError as exc:
                self._clients.close()
                value = failed(exc)
            with self._lock:
                self._cached[key] = (self.clock(), value)
            return value
        finally:
            with self._lock:
                self._looking_since = self._looking_began = None
                self._looking.pop(key, None)

    def close(self) -> None:
        """Close the clients on the probe's thread, after the look in hand: waited for at
        most :data:`ANSWER_SECONDS`, since a look stuck connecting would hold the exit of a
        process that is stopping (its daemon thread ends with it)."""
        with self._lock:
            self._closed = True
            looker = self._looker
            for look in self._looking.values():
                look.answer.cancel()  # a look not yet begun
        if looker is None:
            self._clients.close()
            return
        closing = looker.submit(self._finish, looker)
        try:
            closing.result(timeout=ANSWER_SECONDS)
        except FutureTimeout:
            log.debug("health probe closed while a look at the broker is in hand")

    def _finish(self, looker: DaemonPool) -> None:
        """The probe thread's last job: close the clients, then end the thread."""
        self._clients.close()
        looker.shutdown()


class _Look(NamedTuple):
    """A look at the broker asked for and not yet answered."""

    asked: float
    """When, by the probe's clock."""
    give_up: float
    """``time.monotonic()`` after which requests stop waiting for it (a real wait)."""
    answer: Future[Any]


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
    endpoints.add_check("kafka", probe.check)
    endpoints.letters_from(probe.dead_letters)
    endpoints.on_close(probe.close)
    if name == "poll":
        endpoints.on_scrape(probe.refresh_gauges)
        endpoints.control.expect()
        return endpoints, None
    ticker = MemberTicker(f"{config.kafka.group_prefix}.{name}", endpoints.health)
    endpoints.add_check("partitions", ticker.check)
    return endpoints, ticker
