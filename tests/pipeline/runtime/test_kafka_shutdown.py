"""Graceful shutdown on the real broker: SIGTERM or SIGINT mid-stream.

A ``newsflow stage extract`` process works through a backlog of pages. On
the signal it finishes or abandons the batch in flight, commits what was
completed, flushes its producer, leaves the group (at once: no member left
behind until a session timeout) and exits 0 within 10 s. What it committed
is exactly what it produced, and a new process finishes the rest: one
article per page in all. A fetch still waiting on a slow server does not hold
the exit up: it is abandoned, uncommitted, for the next owner.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from kafka_support import KafkaEnv, corpus_entries, wait_for

from connectors.kafka.clients import make_producer
from pipeline.models import FeedEntry, FetchedPage

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


class SlowHandler(BaseHTTPRequestHandler):
    """Answers after 45 s: a fetch still in flight when the worker is told to stop."""

    def do_GET(self) -> None:
        time.sleep(45)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_fetch_in_flight_does_not_hold_up_the_exit(kafka_env: KafkaEnv) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kafka_env.configure(
            fetch={
                "allow_private_networks": True,
                "respect_robots": False,
                "timeout": 60,
                "deadline": 60,
            }
        )
        kafka_env.create_topics()
        url = f"http://127.0.0.1:{server.server_address[1]}/slow-story"
        kafka_env.produce("items", [FeedEntry(feed="f", feed_kind="rss", url=url)])
        stage = kafka_env.start_stage("fetch")
        wait_for(lambda: kafka_env.group_members("fetch"), timeout=30, what="the fetch worker")
        time.sleep(2)  # the fetch has started and hangs

        signalled = time.monotonic()
        stage.process.send_signal(signal.SIGTERM)
        assert stage.process.wait(timeout=10) == 0, stage.output()[-2000:]
        assert time.monotonic() - signalled < 10
        assert kafka_env.lag(["fetch"]) == 1  # not fetched, not committed: the next owner will
    finally:
        server.shutdown()


class CountingHandler(BaseHTTPRequestHandler):
    """Answers at once, except ``/hang`` (until ``release`` is set); counts requests."""

    requests: ClassVar[Counter[str]] = Counter()
    release: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        self.requests[self.path] += 1
        if self.path == "/hang":
            self.release.wait(60)
        body = b"<html><body><p>story</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_pages_fetched_before_a_stop_are_delivered_not_fetched_again(
    kafka_env: KafkaEnv,
) -> None:
    """One page hangs in partition 0; the others, in partitions 1-3, are fetched at once in
    parallel. A stop delivers them (a stop used to deliver only what came before the first
    page not done, in batch order), and the next owner fetches only the rest."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    CountingHandler.requests.clear()
    CountingHandler.release.clear()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    fast = [f"{base}/story-{i}" for i in range(15)]
    try:
        kafka_env.configure(fetch={
            "allow_private_networks": True, "respect_robots": False, "timeout": 60,
            "deadline": 60, "min_host_interval": 0, "per_host_concurrency": 16,
        })  # fmt: skip
        kafka_env.create_topics()
        producer = make_producer(kafka_env.config.kafka, client_id="test")
        try:
            for partition, url in [
                (0, f"{base}/hang"),
                *((1 + i % 3, u) for i, u in enumerate(fast)),
            ]:
                entry = FeedEntry(feed="f", feed_kind="rss", url=url)
                producer.send(kafka_env.topic("items"), key=url.encode(), value=entry.to_json(),
                              partition=partition)  # fmt: skip
            producer.flush(timeout=30)
        finally:
            producer.close()
        stage = kafka_env.start_stage("fetch")
        wait_for(lambda: all(CountingHandler.requests[u.removeprefix(base)] for u in fast),
                 timeout=60, what="every fast page fetched")  # fmt: skip
        time.sleep(1)
        stage.process.send_signal(signal.SIGTERM)
        assert stage.process.wait(timeout=10) == 0, stage.output()[-2000:]
        delivered = {FetchedPage.model_validate_json(r.value).url for r in kafka_env.read("pages")}
        assert delivered == set(fast)

        CountingHandler.release.set()
        again = kafka_env.start_stage("fetch")
        try:
            wait_for(lambda: kafka_env.lag(["fetch"]) == 0, timeout=60, what="the rest fetched")
        finally:
            assert again.terminate() == 0
        pages = [FetchedPage.model_validate_json(r.value).url for r in kafka_env.read("pages")]
        assert sorted(pages) == sorted([*fast, f"{base}/hang"])
        assert all(CountingHandler.requests[u.removeprefix(base)] == 1 for u in fast)
    finally:
        CountingHandler.release.set()
        server.shutdown()
