"""How a Kafka worker ends a batch early: what is done is delivered, partition by partition.

On the fetch worker a thread pool fetches a batch's pages in parallel. A stop or
a rebalance used to deliver only the records before the first one not done, in
batch order: every page fetched after it was thrown away, and fetched again
from its publisher by the partition's next owner.
"""

from __future__ import annotations

from concurrent.futures import Future

from pipeline.runtime.kafka_runner import _done_in_order
from pipeline.runtime.outcome import Outcome

A, B = ("news.items", 0), ("news.items", 1)


def futures(done: list[bool]) -> list[Future[Outcome | None]]:
    made: list[Future[Outcome | None]] = []
    for finished in done:
        future: Future[Outcome | None] = Future()
        if finished:
            future.set_result(Outcome([]))
        made.append(future)
    return made


def test_without_a_reason_to_end_every_result_comes_in_batch_order() -> None:
    batch = futures([True, True, True])
    taken = [i for i, _ in _done_in_order(batch, [A, B, A], lambda: None, lambda _: None)]
    assert taken == [0, 1, 2]


def test_ending_early_delivers_what_is_done_up_to_each_partitions_first_gap() -> None:
    batch = futures([True, False, True, True, True, True])
    wheres = [A, A, B, A, B, B]
    reasons: list[str] = []
    taken = [
        i for i, _ in _done_in_order(batch, wheres, lambda: "the group is rebalancing",
                                     reasons.append)
    ]  # fmt: skip
    # A: 0 done, 1 not: A stops at 1 (3 is done but would skip 1); B: 2, 4, 5 all done.
    assert taken == [0, 2, 4, 5]
    assert reasons == ["the group is rebalancing"]


def test_a_reason_that_comes_while_waiting_ends_the_wait() -> None:
    """A rebalance is noticed while a slow page is fetched, not only after it."""
    batch = futures([False, True])
    calls = iter([None, None, "stopping"])
    taken = [i for i, _ in _done_in_order(batch, [A, B], lambda: next(calls), lambda _: None)]
    assert taken == [1]
