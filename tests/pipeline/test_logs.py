"""The shared once-a-minute limiter of repeated log lines (HTTP rejections, kafka-python's
outage lines): the two kept a copy each."""

from __future__ import annotations

import threading

from pipeline.logs import OncePer


def test_one_occurrence_per_key_and_interval_carrying_how_many_were_held_back() -> None:
    now = [1000.0]
    once = OncePer(60.0, clock=lambda: now[0])
    assert once.admit("timeout") == 0, "the first is let through"
    assert [once.admit("timeout") for _ in range(3)] == [None] * 3
    assert once.admit("bad_host") == 0, "each key on its own"
    now[0] += 59.9
    assert once.admit("timeout") is None
    now[0] += 0.1
    assert once.admit("timeout") == 4, "the held back ones are told with the next"
    assert once.admit("timeout") is None
    now[0] += 60
    assert once.admit("timeout") == 1
    now[0] += 60
    assert once.admit("timeout") == 0, "nothing held back since"


def test_occurrences_from_many_threads_are_all_counted() -> None:
    now = [1000.0]
    once = OncePer(60.0, clock=lambda: now[0])
    admitted: list[int | None] = []

    def occur() -> None:
        for _ in range(1000):
            admitted.append(once.admit(("kafka.conn", "Connection failed: %s")))

    threads = [threading.Thread(target=occur) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(0) == 1
    now[0] += 60
    assert once.admit(("kafka.conn", "Connection failed: %s")) == 8 * 1000 - 1
