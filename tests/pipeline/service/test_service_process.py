"""``newsflow run`` as a real subprocess: its endpoints while it works (issue: run as a service).

One service runs for the whole module against the demo publishers served on
127.0.0.1; the tests read its ``/healthz``, ``/readyz``, ``/metrics`` and
``/api/status`` once every demo article is stored.
"""

from __future__ import annotations

import json
import socket
import struct
import time
import urllib.request
from collections.abc import Iterator

import pytest
from service_support import (
    DEMO_FEEDS,
    MANIFEST,
    FeedSite,
    ServiceProcess,
    dashboard_metrics,
    exposed_names,
    sample,
    wait_until,
    write_config,
)

WORKERS = ("fetch", "extract", "dedup", "store")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedSite]:
    served = FeedSite(tmp_path_factory.mktemp("site"))
    yield served
    served.close()


@pytest.fixture(scope="module")
def service(site: FeedSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("service")
    write_config(work / "newsflow.yaml", site, work / "news.db")
    running = ServiceProcess(work / "newsflow.yaml")
    try:
        wait_until(lambda: running.stored() == len(MANIFEST["pages"]), 90, "every demo article")
        yield running
    finally:
        running.close()


def copies_found(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    """Demo copies the dedup stage found, whichever of a story's copies arrived first.

    A copy arriving after its original is a duplicate at once; one arriving before it (its
    feed's poll handed on first, as when the original's poll is held up past
    ``polls.HOLD_SECONDS``) is stored as canonical, then re-pointed when the original
    comes, and that re-pointed event is one more message into the store."""
    return sample(metrics, "newsflow_dedup_duplicates_total") + sample(
        metrics, "newsflow_dedup_repointed_total", resolved="yes"
    )


def test_healthz_and_readyz_answer_200_while_the_loop_runs(service: ServiceProcess) -> None:
    status, body = service.get("/healthz")
    assert status == 200
    health = json.loads(body)
    assert health["ok"] is True
    assert health["loops"]["poll"]["seconds_since_beat"] < 5
    status, body = service.get("/readyz")
    assert status == 200
    assert json.loads(body) == {"ok": True, "store": "ok"}


def test_metrics_count_every_stage_and_keep_moving(service: ServiceProcess) -> None:
    before = service.metrics()
    inserted = sample(before, "newsflow_store_writes_total", result="inserted")
    assert inserted == len(MANIFEST["pages"])
    for worker in WORKERS:
        assert sample(before, "newsflow_stage_messages_total", worker=worker, direction="in") > 0
        assert sample(before, "newsflow_stage_seconds_count", worker=worker) > 0
    assert sample(before, "newsflow_fetch_requests_total", host="127.0.0.1", status="200") >= 18
    assert sample(before, "newsflow_extract_residue_lines_total") > 0
    assert copies_found(before) == 2
    assert sample(before, "newsflow_dead_letters_waiting") == 0
    assert sample(before, "newsflow_service_ready") in (0, 1)
    for feed in ("presstv-rss", "dailyledger-json", "metrotimes-sitemap"):
        assert sample(before, "newsflow_feed_last_success_timestamp_seconds", feed=feed) > 0
        assert sample(before, "newsflow_feed_entries_total", feed=feed) > 0

    polls = sample(before, "newsflow_feed_polls_total")
    wait_until(lambda: sample(service.metrics(), "newsflow_feed_polls_total") > polls + 7,
               30, "every feed polled again")  # fmt: skip
    after = service.metrics()
    assert sample(after, "newsflow_feed_not_modified_total") > sample(
        before, "newsflow_feed_not_modified_total"
    ), "re-polls of unchanged feeds are answered 304"
    assert sample(after, "newsflow_service_heartbeat_timestamp_seconds", loop="poll") > sample(
        before, "newsflow_service_heartbeat_timestamp_seconds", loop="poll"
    )


def test_the_status_document_lists_feeds_articles_and_clusters(service: ServiceProcess) -> None:
    status = service.json("/api/status")
    assert status["service"]["role"] == "run" and status["service"]["live"] is True
    feeds = {f["name"]: f for f in status["feeds"]["items"]}
    assert set(feeds) == set(DEMO_FEEDS)
    assert all(f["status"] == "ok" and f["last_success_at"] for f in feeds.values())
    recent = status["articles"]["recent"]
    assert len(recent) == len(MANIFEST["pages"])
    assert all(a["title"] and a["topics"] for a in recent)
    assert {len(c["members"]) for c in status["clusters"]} == {2}
    assert len(status["clusters"]) == 2
    assert status["dead_letters"] == {"total": 0, "recent": []}
    series = status["throughput"]["series"]
    assert sum(series["dedup"]) > 0
    repointed = sample(service.metrics(), "newsflow_dedup_repointed_total", resolved="yes")
    assert sum(series["store"]) == sum(series["dedup"]) + repointed


def test_the_status_page_and_its_assets_are_served_with_a_strict_policy(
    service: ServiceProcess,
) -> None:
    with urllib.request.urlopen(service.url + "/", timeout=10) as response:
        page = response.read()
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b'<script src="/static/status.js"' in page
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    for asset in ("/static/status.js", "/static/status.css"):
        assert service.get(asset)[0] == 200
    assert service.get("/nothing-here")[0] == 404


def test_a_scrape_changes_nothing(service: ServiceProcess) -> None:
    first = sample(service.metrics(), "newsflow_store_writes_total", result="inserted")
    second = sample(service.metrics(), "newsflow_store_writes_total", result="inserted")
    assert first == second == len(MANIFEST["pages"])


def test_every_metric_of_the_dashboard_is_exposed(service: ServiceProcess) -> None:
    """The dashboard's PromQL names metrics the process serves (its Kafka row: the Kafka test)."""
    _, body = service.get("/metrics")
    exposed = exposed_names(body.decode("utf-8"))
    for row, names in dashboard_metrics().items():
        if row == "Kafka":
            continue
        assert names <= exposed, (row, sorted(names - exposed))


def test_clients_hanging_up_early_leave_the_log_one_json_object_per_line(
    service: ServiceProcess,
) -> None:
    """A scrape reset before its answer, and a request cut after its first line, used to
    print socketserver's multi-line traceback among the JSON log lines."""
    port = int(service.url.rsplit(":", 1)[1])
    seen = len(service.stderr_lines)
    for request, reset in (
        (b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", True),
        (b"GET /metrics HTTP/1.1\r\n", False),
    ):
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(request)
            if reset:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
    time.sleep(1)
    assert service.get("/healthz")[0] == 200
    lines = service.stderr_lines[seen:]
    assert not [line for line in lines if not line.startswith("{")], "".join(lines)[-3000:]
