"""Graceful shutdown on the real broker: SIGTERM or SIGINT mid-stream.

A ``newsflow stage extract`` process works through a backlog of pages. On
the signal it finishes or abandons the batch in flight, commits what was
completed, flushes its producer, leaves the group (at once: no member left
behind until a session timeout) and exits 0 within 10 s. What it committed
is exactly what it produced, and a new process finishes the rest: one
article per page in all.
"""

from __future__ import annotations

import signal
import time

import pytest
from kafka_support import KafkaEnv, corpus_entries, wait_for

from pipeline.models import FetchedPage

pytestmark = pytest.mark.kafka

PAGES = 300


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_commits_the_completed_work_and_exits_0_within_10_s(
    kafka_env: KafkaEnv, signum: signal.Signals
) -> None:
    kafka_env.create_topics()
    pages = [FetchedPage(entry=e, url=e.url, html=e.body or "") for e in corpus_entries(PAGES, 0)]
    kafka_env.produce("pages", pages)
    stage = kafka_env.start_stage("extract")
    wait_for(lambda: len(kafka_env.read("articles")) >= 60, timeout=60, what="60 articles")

    signalled = time.monotonic()
    stage.process.send_signal(signum)
    assert stage.process.wait(timeout=10) == 0, stage.output()[-2000:]
    assert time.monotonic() - signalled < 10
    assert kafka_env.group_members("extract") == {}

    produced = len(kafka_env.read("articles"))
    assert produced < PAGES
    assert kafka_env.lag(["extract"]) == PAGES - produced

    again = kafka_env.start_stage("extract")
    wait_for(lambda: kafka_env.lag(["extract"]) == 0, timeout=90, what="the rest to be extracted")
    assert again.terminate() == 0
    articles = kafka_env.read("articles")
    assert len(articles) == PAGES
    assert {r.key.decode() for r in articles} == {p.entry.url for p in pages}
