"""Round trip: the demo feeds through Kafka store the same articles as the embedded transport.

``newsflow run --once`` runs ``config/demo.yaml`` twice, each time into a
fresh store: once embedded, once with ``transport: kafka`` (the poller in this
process, every worker in a process of its own, on the real broker). The two
exports must be the same article for article, apart from ``fetched_at`` (the
moment each run read the page, and the ids of clusters), and the run summaries must count the
same feeds, entries, duplicates, dead letters and stored rows.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from export_rows import ARRIVAL_ORDER, clusters, without
from kafka_support import REPO, KafkaEnv

from pipeline.cli import main
from pipeline.config import load_config

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DEMO = REPO / "config" / "demo.yaml"
VOLATILE = {"fetched_at", *ARRIVAL_ORDER}


def newsflow(config: Path, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), *args]) == 0
    return out.getvalue()


def demo_config(path: Path, db: Path, **overrides: Any) -> Path:
    """The demo config with its paths resolved, its own store, and ``overrides`` applied."""
    config = load_config(DEMO, environ={})
    raw = config.model_dump(mode="json") | overrides
    raw["storage"] = {"url": f"sqlite:///{db}"}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def run_and_export(config: Path) -> tuple[str, dict[str, Any], set[frozenset[str]]]:
    """The run's summary, its export by article id, and its clusters as sets of article ids."""
    summary = newsflow(config, "run", "--once")
    rows = [json.loads(line) for line in newsflow(config, "export").splitlines()]
    exported = {row["id"]: row for row in without(rows, VOLATILE)}
    return summary, exported, clusters(rows)


ORDER_DEPENDENT = ("articles stored", "top topics")
"""Summary lines that depend on arrival order: an article that arrives before an earlier
published copy of itself is handed to the store twice (as canonical, then re-pointed), and
topics tied in count are listed in the order first seen. What the store holds does not."""


def counts(summary: str) -> list[str]:
    return [line for line in summary.splitlines() if not line.strip().startswith(ORDER_DEPENDENT)]


def test_the_demo_through_kafka_stores_what_the_embedded_run_stores(
    kafka_env: KafkaEnv, tmp_path: Path
) -> None:
    embedded_config = demo_config(tmp_path / "embedded.yaml", tmp_path / "embedded.db")
    kafka_config = demo_config(
        tmp_path / "kafka.yaml",
        tmp_path / "kafka.db",
        transport="kafka",
        kafka=kafka_env.config.kafka.model_dump(mode="json"),
    )
    embedded_summary, embedded, embedded_clusters = run_and_export(embedded_config)
    summary, on_kafka, clusters_on_kafka = run_and_export(kafka_config)

    assert "feeds polled:      7 (0 failed" in summary
    assert counts(summary) == counts(embedded_summary)
    pages = json.loads((REPO / "demo" / "manifest.json").read_text(encoding="utf-8"))["pages"]
    assert len(on_kafka) == len(embedded) == len(pages)
    assert set(on_kafka) == set(embedded)
    for article_id, row in embedded.items():
        assert on_kafka[article_id] == row, row["url"]
    assert clusters_on_kafka == embedded_clusters
    assert any(len(members) > 1 for members in embedded_clusters)
    assert kafka_env.lag() == 0
