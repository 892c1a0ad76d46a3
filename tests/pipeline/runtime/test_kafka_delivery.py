"""The worker runner against the real broker: delivery modes, retries, dead-letter writes, stop.

Each test runs one worker in this process on its own topics, with the real
fetch stage (entries carry their page, so nothing is fetched) or small test
stages, and checks what the topics and the group's committed offsets hold.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from ctypes import c_double
from typing import Any, ClassVar

import pytest
from kafka.coordinator.base import MemberState
from kafka.producer.transaction_manager import (
    EndTxnHandler,
    TransactionalRequestResult,
    TransactionManager,
    TransactionState,
)
from kafka_support import KafkaEnv, wait_for
from prometheus_client import REGISTRY

from connectors.kafka.headers import DeadLetterInfo
from pipeline.errors import ExtractionError, FetchTimeout, StoreUnavailable, TransportError
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.runtime import kafka_service
from pipeline.runtime.kafka_runner import KafkaWorkerRunner
from pipeline.runtime.wiring import Resources
from pipeline.stages.base import Stage
from pipeline.topology import WORKER_BY_NAME

pytestmark = pytest.mark.kafka

MODES = ["transactional", "at_least_once"]


def entries(count: int, *, start: int = 0) -> list[FeedEntry]:
    return [
        FeedEntry(
            feed="f",
            feed_kind="warc",
            url=f"https://news.example/{i}",
            body=f"<html><body><p>story {i}</p></body></html>",
        )
        for i in range(start, start + count)
    ]


def runner(env: KafkaEnv, stages: list[Stage] | None = None) -> KafkaWorkerRunner:
    config = env.config
    worker = KafkaWorkerRunner(
        config,
        WORKER_BY_NAME["fetch"],
        Resources(config),
        stages=stages,
        lock_dir=env.workdir / "slots",
    )
    worker.start()
    return worker


def drain(worker: KafkaWorkerRunner, expected: int) -> int:
    """Run batches until ``expected`` records were handled (or 40 batches passed)."""
    stop = threading.Event()
    handled = 0
    for _ in range(40):
        if handled >= expected:
            break
        handled += worker.run_batch(stop)
    return handled


class FlakyFetch(Stage):
    """Times out ``failures`` times per entry, then turns the entry into a page."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        self.calls[message.url] = self.calls.get(message.url, 0) + 1
        if self.calls[message.url] <= self.failures:
            raise FetchTimeout("read timed out", url=message.url)
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


class StoreGoesAway(Stage):
    """Passes entries on as pages, but raises StoreUnavailable while ``down``; goes down
    itself after ``up_for`` messages."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self, up_for: int) -> None:
        self.up_for = up_for
        self.down = False

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        if self.up_for == 0:
            self.down = True
        self.up_for -= 1
        if self.down:
            raise StoreUnavailable("PostgreSQL connection lost: the server restarted")
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


@pytest.mark.parametrize("mode", MODES)
def test_a_store_outage_holds_the_batch_back_instead_of_dead_lettering_it(
    kafka_env: KafkaEnv, mode: str
) -> None:
    """Not the messages' fault: what was done before the outage is delivered, the rest is
    polled again and handled once the store is back. Nothing goes to the DLQ."""
    kafka_env.configure(
        kafka={"delivery": mode, "retry_attempts": 1, "retry_backoff_seconds": 0.05}
    )
    kafka_env.create_topics()
    kafka_env.produce("items", entries(20))
    stage = StoreGoesAway(up_for=5)
    worker = runner(kafka_env, [stage])
    try:
        with pytest.raises(StoreUnavailable, match="the rest of the batch is polled again"):
            drain(worker, 20)
        assert len(kafka_env.read("pages")) == 5
        with pytest.raises(StoreUnavailable):
            worker.run_batch(threading.Event())  # still down: nothing more is handled
        stage.down = False
        assert drain(worker, 15) == 15
        worker.run_batch(threading.Event())  # an idle poll commits positions past markers
    finally:
        worker.close()
    pages = kafka_env.read("pages")
    assert sorted(r.key.decode() for r in pages) == sorted(e.url for e in entries(20))
    assert kafka_env.read("dlq", timeout=2) == []
    assert kafka_env.lag(["fetch"]) == 0


@pytest.mark.parametrize("mode", MODES)
def test_every_message_is_produced_once_and_the_group_catches_up(
    kafka_env: KafkaEnv, mode: str
) -> None:
    kafka_env.configure(kafka={"delivery": mode})
    kafka_env.create_topics()
    sent = entries(300)
    kafka_env.produce("items", sent)
    worker = runner(kafka_env)
    try:
        assert drain(worker, 300) == 300
        worker.run_batch(threading.Event())  # an idle poll commits positions past markers
    finally:
        worker.close()
    pages = kafka_env.read("pages")
    assert sorted(r.key.decode() for r in pages) == sorted(e.url for e in sent)
    assert {FetchedPage.model_validate_json(r.value).entry.url for r in pages} == {
        e.url for e in sent
    }
    assert kafka_env.lag(["fetch"]) == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_dead_letter_write_leaves_the_offset_uncommitted(
    kafka_env: KafkaEnv, mode: str
) -> None:
    kafka_env.configure(kafka={"delivery": mode})
    kafka_env.create_topics()
    kafka_env.set_topic_config("dlq", "max.message.bytes", "1024")  # too small for the letter
    poison = b"\xff" + os.urandom(5000)  # random: still too large after compression
    kafka_env.produce_raw("items", [(b"k", poison)])
    worker = runner(kafka_env)
    try:
        with pytest.raises(TransportError):
            drain(worker, 1)
        assert kafka_env.lag(["fetch"]) == 1
        kafka_env.set_topic_config("dlq", "max.message.bytes", str(8 * 1024 * 1024))
        assert drain(worker, 1) == 1
    finally:
        worker.close()
    [letter] = kafka_env.read("dlq")
    assert letter.value == poison
    assert DeadLetterInfo.from_headers(letter.headers).reason == "undecodable"
    assert kafka_env.lag(["fetch"]) == 0


@pytest.mark.parametrize(
    ("failures", "pages", "letters"),
    [(2, 3, []), (99, 0, [("fetch", "FetchTimeout", "timeout", True)] * 3)],
    ids=["recovers-on-retry", "outlasts-the-retries"],
)
def test_transient_failures_are_retried_before_their_letters_wait_for_a_later_fetch(
    kafka_env: KafkaEnv, failures: int, pages: int, letters: list[tuple[str, str, str, bool]]
) -> None:
    kafka_env.configure(kafka={"retry_attempts": 2})
    kafka_env.create_topics()
    kafka_env.produce("items", entries(3))
    flaky = FlakyFetch(failures)
    worker = runner(kafka_env, [flaky])
    try:
        assert drain(worker, 3) == 3
    finally:
        worker.close()
    assert list(flaky.calls.values()) == [3, 3, 3]  # the first try and two retries
    assert len(kafka_env.read("pages")) == pages
    waiting = [DeadLetterInfo.from_headers(r.headers) for r in kafka_env.read("retry")]
    assert [(i.stage, i.error_class, i.reason, i.retryable) for i in waiting] == letters
    assert all(i.retry_at is not None for i in waiting)  # fetched again later, by the service
    assert kafka_env.read("dlq", timeout=2) == []
    assert kafka_env.lag(["fetch"]) == 0


class StopsAfter(Stage):
    """Passes entries through as pages and sets ``stop`` after the ``after``-th one."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self, stop: threading.Event, after: int) -> None:
        self.stop = stop
        self.after = after
        self.seen = 0

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        self.seen += 1
        if self.seen == self.after:
            self.stop.set()
        if self.seen > 10_000:
            raise ExtractionError("unreachable", url=message.url)
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


def test_stop_mid_batch_delivers_and_commits_the_completed_prefix_only(
    kafka_env: KafkaEnv,
) -> None:
    kafka_env.configure(kafka={"partitions": 1, "batch_size": 40}, fetch={"concurrency": 1})
    kafka_env.create_topics()
    kafka_env.produce("items", entries(40))
    stop = threading.Event()
    worker = runner(kafka_env, [StopsAfter(stop, after=15)])
    handled = 0
    try:
        for _ in range(40):
            handled += worker.run_batch(stop)
            if stop.is_set():
                break
    finally:
        worker.close()
    assert handled == 15
    assert len(kafka_env.read("pages")) == 15
    assert kafka_env.lag(["fetch"]) == 25
    rest = runner(kafka_env)
    try:
        assert drain(rest, 25) == 25
    finally:
        rest.close()
    pages = kafka_env.read("pages")
    assert sorted(r.key.decode() for r in pages) == sorted(e.url for e in entries(40))


class SlowFetch(Stage):
    """Turns entries into pages, ``seconds`` each, and remembers which it handled."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.handled: list[str] = []

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        time.sleep(self.seconds)
        self.handled.append(message.url)
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


def test_a_member_deep_in_a_batch_lets_a_joining_member_in_at_once(
    kafka_env: KafkaEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """200 records at 50 ms make a 10 s batch. A second member joining meanwhile gets its
    partitions within seconds: the busy member delivers what it has done and rejoins,
    instead of holding the whole group until its batch ends (as it did)."""
    caplog.set_level(logging.INFO, logger="pipeline.runtime.kafka_runner")
    kafka_env.configure(kafka={"batch_size": 200}, fetch={"concurrency": 1})
    kafka_env.create_topics()
    sent = entries(200)
    kafka_env.produce("items", sent)
    stages = [SlowFetch(0.05), SlowFetch(0.05)]
    stop = threading.Event()
    errors: list[BaseException] = []
    members: list[KafkaWorkerRunner] = []
    threads: list[threading.Thread] = []

    def join(stage: SlowFetch) -> None:
        members.append(runner(kafka_env, [stage]))
        threads.append(threading.Thread(target=_run_until, args=(members[-1], stop, errors)))
        threads[-1].start()

    try:
        join(stages[0])
        wait_for(lambda: len(stages[0].handled) >= 5, timeout=30, what="the first batch")
        joined = time.monotonic()
        join(stages[1])
        wait_for(lambda: _both_assigned(kafka_env), timeout=30, what="both members assigned")
        waited = time.monotonic() - joined
        handled = lambda: {url for stage in stages for url in stage.handled}  # noqa: E731
        wait_for(lambda: len(handled()) == 200, timeout=60, what="every record handled")
        wait_for(lambda: kafka_env.lag(["fetch"]) == 0, timeout=30, what="offsets committed")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for member in members:
            member.close()
    assert errors == []
    assert waited < 5.0, f"the joining member waited {waited:.1f} s for its partitions"
    assert any("the group is rebalancing" in r.getMessage() for r in caplog.records)
    assert handled() == {e.url for e in sent}
    assert all(stage.handled for stage in stages)  # both members took a share
    pages = kafka_env.read("pages")
    assert sorted(r.key.decode() for r in pages) == sorted(e.url for e in sent)


@pytest.mark.parametrize(
    ("mode", "flag_cleared"),
    [("transactional", False), ("at_least_once", False), ("transactional", True)],
)
def test_a_member_whose_rejoin_never_completes_joins_afresh_and_goes_on(
    kafka_env: KafkaEnv, mode: str, flag_cleared: bool
) -> None:
    """kafka-python waits for a JoinGroup answer up to max_poll_interval_ms + 5 s (5 min
    by default); CI once saw a member whose answer never came, its partitions unread all
    that time. Here the answer is lost on purpose (the member's join coroutine never
    returns). After rejoin_timeout_ms the member leaves, joins as a new member and
    handles what came meanwhile, committed under its new generation. With
    ``flag_cleared`` the lost join also clears kafka-python's rejoin flag: the member is
    unsynced but not asking to rejoin, as the stalled store member of a later run was."""
    kafka_env.configure(kafka={"delivery": mode, "rejoin_timeout_ms": 3000})
    kafka_env.create_topics()
    kafka_env.produce("items", entries(20))
    worker = runner(kafka_env)
    stop = threading.Event()
    try:
        assert drain(worker, 20) == 20
        replaced = _replacements(kafka_env.group("fetch"))
        _lose_the_next_join_answer(worker, flag_cleared=flag_cleared)
        kafka_env.produce("items", entries(20, start=20))
        out_until, handled_while_out = time.monotonic() + 2.0, 0
        while time.monotonic() < out_until:
            handled_while_out += worker.run_batch(stop)
        assert drain(worker, 20) == 20
        worker.run_batch(stop)  # an idle poll commits positions past markers
    finally:
        worker.close()
    assert handled_while_out == 0  # the lost answer really held the member out
    assert _replacements(kafka_env.group("fetch")) == replaced + 1
    assigned, revoked, lost = (
        _rebalanced(kafka_env.group("fetch"), event) for event in ("assigned", "revoked", "lost")
    )
    assert assigned >= 2 and revoked + lost == assigned  # each partition let go once
    pages = kafka_env.read("pages")
    assert sorted(r.key.decode() for r in pages) == sorted(e.url for e in entries(40))
    assert kafka_env.lag(["fetch"]) == 0


def _lose_the_next_join_answer(worker: KafkaWorkerRunner, *, flag_cleared: bool) -> None:
    """Ask the member to rejoin, and make its JoinGroup round trip never finish."""
    consumer = worker._consumer
    assert consumer is not None
    coordinator = consumer.consumer._coordinator

    async def never_answered() -> bytes:
        coordinator.state = MemberState.REBALANCING
        if flag_cleared:
            coordinator.rejoin_needed = False
        await coordinator._manager._net.sleep(3600)
        raise AssertionError("unreachable: the test ends long before")

    coordinator._do_join_and_sync_async = never_answered
    coordinator.request_rejoin()


def _replacements(group: str) -> float:
    value = REGISTRY.get_sample_value("newsflow_kafka_member_replacements_total", {"group": group})
    return value or 0.0


def _rebalanced(group: str, event: str) -> float:
    value = REGISTRY.get_sample_value(
        "newsflow_kafka_rebalance_partitions_total", {"group": group, "event": event}
    )
    return value or 0.0


def _run_until(
    worker: KafkaWorkerRunner, stop: threading.Event, errors: list[BaseException]
) -> None:
    try:
        while not stop.is_set():
            worker.run_batch(stop)
    except BaseException as exc:  # the test asserts on it
        errors.append(exc)


def _both_assigned(env: KafkaEnv) -> bool:
    members = env.group_members("fetch")
    return members is not None and len(members) == 2 and all(members.values())


# -- a commit whose answer is lost -------------------------------------------
#
# ``commit_transaction`` is bounded by ``kafka.transaction_timeout_ms``; past it the
# delivery fails and the worker goes on. Whether the broker committed is then unknown to
# the worker: the answer may only have been lost. These tests lose it on purpose, inside
# kafka-python, after the broker has handled the request (the broker's transaction state
# is real: committed in the first test, left open and then aborted by the next producer
# in the second), and check what read_committed readers of the output topic see and how
# often the stage ran.

RECORDS = 12
TRANSACTION_TIMEOUT_MS = 2000
"""How long the worker waits for the lost answer: short, so the tests take seconds."""


class CountingFetch(Stage):
    """Passes entries on as pages and counts how often it saw each URL."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        self.calls[message.url] += 1
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


def lose_the_first_commit_answer(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The broker commits the first transaction asked to; kafka-python never hears so."""
    lost: list[bool] = []
    handle = EndTxnHandler.handle_response

    def handle_response(self: EndTxnHandler, response: Any) -> None:
        if self.request.committed and not lost:
            lost.append(True)  # the result is never completed: the wait times out
            return
        handle(self, response)

    monkeypatch.setattr(EndTxnHandler, "handle_response", handle_response)
    return lost


def never_send_the_first_commit(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The first commit never reaches the broker: its transaction stays open there."""
    lost: list[bool] = []
    begin = TransactionManager.begin_commit

    def begin_commit(self: TransactionManager) -> TransactionalRequestResult:
        if lost:
            return begin(self)
        lost.append(True)
        self._transition_to(TransactionState.COMMITTING_TRANSACTION)
        return TransactionalRequestResult()  # nothing enqueued: never done

    monkeypatch.setattr(TransactionManager, "begin_commit", begin_commit)
    return lost


def first_batch_fails_then_drain(worker: KafkaWorkerRunner) -> int:
    """Run the batch whose commit goes unanswered, then batches until nothing is left."""
    stop = threading.Event()
    with pytest.raises(TransportError, match="transaction timeout"):
        worker.run_batch(stop)
    handled, empty = 0, 0
    for _ in range(60):
        done = worker.run_batch(stop)
        handled += done
        empty = 0 if done else empty + 1
        if empty >= 3:
            break
    return handled


def fetch_counts() -> dict[str, float]:
    """The fetch worker's pages out and its failed and committed batches, so far."""

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, {"worker": "fetch", **labels}) or 0.0

    return {
        "out": sample("newsflow_stage_messages_total", {"direction": "out"}),
        "failed": sample("newsflow_kafka_batches_total", {"result": "failed"}),
        "committed": sample("newsflow_kafka_batches_total", {"result": "committed"}),
    }


@pytest.fixture
def one_batch_env(kafka_env: KafkaEnv) -> KafkaEnv:
    kafka_env.configure(
        kafka={
            "delivery": "transactional",
            "transaction_timeout_ms": TRANSACTION_TIMEOUT_MS,
            "partitions": 1,
            "batch_size": RECORDS,
        }
    )
    kafka_env.create_topics()
    kafka_env.produce("items", entries(RECORDS))
    return kafka_env


@pytest.mark.parametrize(
    ("lose", "handled"),
    [(lose_the_first_commit_answer, 1), (never_send_the_first_commit, 2)],
    ids=["committed", "aborted"],
)
def test_a_batch_whose_commit_went_unanswered_is_handled_again_only_if_it_aborted(
    one_batch_env: KafkaEnv,
    monkeypatch: pytest.MonkeyPatch,
    lose: Callable[[pytest.MonkeyPatch], list[bool]],
    handled: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """committed: the broker committed, its answer was lost. Before, the worker sought
    back to the batch's first record and handled it again: readers of news.pages saw
    every page twice. Now it resumes from the group's committed offsets, past the batch.
    aborted: the commit never reached the broker; the next producer's init_transactions
    aborts the open transaction, and the batch is handled again, its pages read once.
    Neither warns that the unanswered transaction "cannot" be aborted (kafka-python
    refuses to abort one whose end is in flight; it was not a failure to act on).
    Either way the batch's pages are counted once and one batch as committed (besides
    the failed one); before, a committed batch's were never counted."""
    caplog.set_level(logging.INFO, logger="connectors.kafka.delivery")
    lost = lose(monkeypatch)
    stage = CountingFetch()
    env = one_batch_env
    worker = runner(env, [stage])
    before = fetch_counts()
    try:
        handled_after = first_batch_fails_then_drain(worker)
    finally:
        worker.close()
    counted = {name: value - before[name] for name, value in fetch_counts().items()}
    assert counted == {"out": RECORDS, "failed": 1, "committed": 1}
    assert lost, "the commit was never lost"
    urls = [record.key.decode() for record in env.read("pages")]
    assert len(urls) == RECORDS and len(set(urls)) == RECORDS, Counter(urls).most_common(3)
    assert set(stage.calls.values()) == {handled}, stage.calls.most_common(3)
    assert handled_after == (handled - 1) * RECORDS
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in warned if "cannot abort" in m], warned
    assert env.lag(["fetch"]) == 0
    assert env.unsettled_transactions() == []


def test_a_long_batch_keeps_the_liveness_stamp_moving(kafka_env: KafkaEnv) -> None:
    """``newsflow run`` kills a worker whose stamp stood still for the liveness timeout.
    The stamp moved once per loop turn only, so a batch longer than the timeout (a slow
    stage on a big batch) got a working worker killed; it now moves with every record.
    Here a 3.6 s batch, stamped as ``newsflow run``'s worker processes are, must never
    stand still for more than about one record's time."""
    kafka_env.configure(kafka={"partitions": 1, "batch_size": 12}, fetch={"concurrency": 1})
    kafka_env.create_topics()
    worker = runner(kafka_env, [SlowFetch(0.3)])
    stop = threading.Event()
    beat = c_double(time.monotonic())
    stamp = kafka_service._stamp(beat)
    worker.on_progress = stamp
    stalls: list[float] = []
    batch_over = threading.Event()

    def watch() -> None:
        while not batch_over.wait(0.05):
            stalls.append(time.monotonic() - beat.value)

    try:
        consumer = worker._consumer
        assert consumer is not None
        wait_for(lambda: worker.run_batch(stop) == 0 and bool(consumer.positions()),
                 timeout=30, what="the member to join")  # fmt: skip
        kafka_env.produce("items", entries(12))
        started = time.monotonic()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        handled = 0
        while handled == 0 and time.monotonic() - started < 10:
            # what the loop's on_tick does before each batch: polls that came back empty
            # while the records were not readable yet (a slow broker) are turns of their own
            stamp()
            handled = worker.run_batch(stop)
        took = time.monotonic() - started
    finally:
        batch_over.set()
        worker.close()
    assert handled == 12 and took >= 3.6, (handled, took)
    assert max(stalls) < 1.5, f"the stamp stood still for {max(stalls):.1f} s of {took:.1f} s"
