"""``newsflow run`` on the real Kafka broker: the endpoint of a process whose workers are children.

The poller runs in the parent, every worker in a child process. The parent's
``/metrics`` must still show the workers' counters (they write them to a
shared directory), consumer lag per partition and the DLQ size; ``/readyz``
reports the broker and every worker group's assignment; SIGTERM stops the
parent and its children within 10 s with exit 0.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from service_support import (
    MANIFEST,
    FeedSite,
    ServiceProcess,
    dashboard_metrics,
    exposed_names,
    sample,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.kafka


def test_run_on_kafka_serves_the_workers_metrics_lag_and_readiness(
    kafka_env: Any, tmp_path: Path
) -> None:
    site = FeedSite(tmp_path / "site")
    kafka = kafka_env.raw["kafka"]
    write_config(
        tmp_path / "newsflow.yaml", site, tmp_path / "news.db",
        transport="kafka", kafka={**kafka, "partitions": 2},
        extract={"workers": 1}, service={"liveness_timeout_seconds": 60},
    )  # fmt: skip
    service = ServiceProcess(tmp_path / "newsflow.yaml")
    try:
        total = len(MANIFEST["pages"])
        wait_until(lambda: service.stored() == total, 120, "every demo article through Kafka")
        wait_until(lambda: service.get("/readyz")[0] == 200, 30, "readiness")
        ready = json.loads(service.get("/readyz")[1])
        assert ready["kafka"] == "ok" and ready["store"] == "ok"

        metrics = service.metrics()
        for worker in ("fetch", "extract", "dedup", "store"):
            assert sample(metrics, "newsflow_stage_messages_total", worker=worker,
                          direction="in") > 0, worker  # fmt: skip
            assert sample(metrics, "newsflow_stage_seconds_count", worker=worker) > 0
        inserted = sample(metrics, "newsflow_store_writes_total", result="inserted")
        assert inserted == total
        group = f"{kafka['group_prefix']}.extract"
        lags = [k for k in metrics if k[0] == "newsflow_kafka_consumer_lag"
                and ("group", group) in k[1]]  # fmt: skip
        assert len(lags) == 2, "one lag series per partition of news.pages"
        assert sample(metrics, "newsflow_kafka_consumer_lag") == 0
        assert ("newsflow_dead_letters_waiting", (("source", "kafka"),)) in metrics

        _, body = service.get("/metrics")
        exposed = exposed_names(body.decode("utf-8"))
        kafka_row = dashboard_metrics()["Kafka"]
        assert kafka_row <= exposed, sorted(kafka_row - exposed)
    finally:
        code, took, _ = service.stop(signal.SIGTERM)
        site.close()
    assert code == 0, service.log()
    assert took < 10
