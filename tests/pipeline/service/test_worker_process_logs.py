"""Log events of the worker processes: in the service's format on its stream, and on the
status page the service serves.

A warning raised where a page is extracted (here: metadata trafilatura cannot
read, an impossible time-zone offset) comes from an extraction process, not
from the service's own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from service_support import NEWSFLOW, REPO, FeedSite, ServiceProcess, wait_until, write_config

PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Budget approved | The Courier</title>'
    '<meta property="article:published_time" content="2026-11-21T10:00:00+99:00"></head>'
    "<body><main><article><h1>Budget approved</h1>"
    "<p>The regional council approved the budget on Monday after a debate that lasted"
    " all night.</p><p>Opposition members said the plan would cut services in the northern"
    " districts by a fifth.</p><p>The council will meet again next month to discuss the"
    " transport plan and the new bus lanes.</p></article></main></body></html>"
)


def _site_with_unreadable_metadata(root: Path) -> tuple[FeedSite, str, dict[str, str]]:
    """The demo site plus one feed listing one page whose date has no valid offset."""
    site = FeedSite(root)
    page = site.root / "sites" / "late.example" / "offset.html"
    page.parent.mkdir(parents=True)
    page.write_text(PAGE, encoding="utf-8")
    page_url = f"{site.base}/sites/late.example/offset.html"
    (site.root / "feeds" / "offset.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Offset</title>'
        f"<item><title>Budget</title><link>{page_url}</link>"
        "<pubDate>Sat, 21 Nov 2026 10:00:00 +0000</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    return site, page_url, {"name": "offset", "url": site.feed_url("offset.xml")}


def _metadata_lost(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "metadata_lost"]


def _warning_on_the_status_page(
    root: Path, timeout: float, **config: Any
) -> tuple[dict[str, Any], str]:
    """Run the service with ``config`` over the unreadable page: the metadata_lost event
    of its status page's log, once the service logged it, and the page's URL."""
    site, page_url, feed = _site_with_unreadable_metadata(root / "site")
    path = root / "newsflow.yaml"
    write_config(path, site, root / "news.db", feeds=[feed],
                 service={"http_enabled": True, "http_port": 0}, **config)  # fmt: skip
    try:
        service = ServiceProcess(path)
        try:
            service.wait_for_event("metadata_lost", timeout=timeout)
            wait_until(
                lambda: bool(_metadata_lost(service.json("/api/status")["log"])),
                10,
                "the warning on the status page",
            )
            (shown,) = _metadata_lost(service.json("/api/status")["log"])
            return shown, page_url
        finally:
            service.close()
    finally:
        site.close()


def test_warnings_of_extraction_processes_are_json_events_on_the_stream(tmp_path: Path) -> None:
    site, page_url, feed = _site_with_unreadable_metadata(tmp_path / "site")
    config = tmp_path / "newsflow.yaml"
    write_config(config, site, tmp_path / "news.db", feeds=[feed], extract={"workers": 2},
                 service={"http_enabled": False, "log_format": "json"})  # fmt: skip
    try:
        run = subprocess.run([*NEWSFLOW, "--config", str(config), "run", "--once"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        site.close()
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("{")] == []
    (lost,) = _metadata_lost([json.loads(line) for line in lines])
    assert lost["level"] == "warning" and page_url in lost["msg"]


def test_warnings_of_extraction_processes_are_on_the_status_page(tmp_path: Path) -> None:
    shown, page_url = _warning_on_the_status_page(tmp_path, 60, extract={"workers": 2})
    assert shown["level"] == "warning" and page_url in shown["msg"]


@pytest.mark.kafka
def test_warnings_of_kafka_worker_processes_are_on_the_status_page(
    kafka_env: Any, tmp_path: Path
) -> None:
    """``newsflow run`` on Kafka: extraction runs in a child process of the service."""
    shown, page_url = _warning_on_the_status_page(
        tmp_path, 90, transport="kafka", kafka=kafka_env.raw["kafka"], extract={"workers": 1}
    )
    assert shown["level"] == "warning" and page_url in shown["msg"]
