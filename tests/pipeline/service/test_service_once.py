"""``newsflow run --once`` as a subprocess: its log events, exit status and stop."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from service_support import (
    MANIFEST,
    NEWSFLOW,
    REPO,
    FeedSite,
    query_store,
    wait_until,
    write_config,
)


def _stored(db: Path) -> int:
    return len(query_store(db, "SELECT id FROM articles"))


def _events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_a_failed_article_is_one_json_event_naming_its_url_stage_and_reason(
    tmp_path: Path,
) -> None:
    site = FeedSite(tmp_path / "site")
    missing = f"{site.base}/sites/late.example/gone.html"
    (site.root / "feeds" / "broken.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>'
        f"<item><title>Gone</title><link>{missing}</link></item></channel></rss>",
        encoding="utf-8",
    )
    config = tmp_path / "newsflow.yaml"
    write_config(config, site, tmp_path / "news.db",
                 feeds=[{"name": "broken", "url": site.feed_url("broken.xml")}])  # fmt: skip
    try:
        run = subprocess.run([*NEWSFLOW, "--config", str(config), "run", "--once"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        site.close()
    assert run.returncode == 1, "--once exits 1 when a message was dead-lettered"
    assert "1 dead letter (newsflow dlq list)" in run.stderr
    events = _events("\n".join(line for line in run.stderr.splitlines() if line.startswith("{")))
    (letter,) = [e for e in events if e.get("event") == "dead_letter"]
    assert letter["url"] == missing and letter["stage"] == "fetch"
    assert letter["reason"] == "http_404" and letter["level"] == "warning"
    assert "\r" not in run.stderr, "no progress line when stderr is not a terminal"


def test_sigterm_stops_a_once_run_within_10_s_leaving_the_rest_for_next_time(
    tmp_path: Path,
) -> None:
    site = FeedSite(tmp_path / "site")
    site.slow_down_pages(1.0)
    config, db = tmp_path / "newsflow.yaml", tmp_path / "news.db"
    write_config(config, site, db, fetch={"per_host_concurrency": 1, "concurrency": 2},
                 service={"http_enabled": False})  # fmt: skip
    try:
        process = subprocess.Popen([*NEWSFLOW, "--config", str(config), "run", "--once"],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        wait_until(lambda: _stored(db) >= 1, 60, "the first article")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        site.close()
    assert took < 10, f"stopped after {took:.1f} s"
    assert process.returncode in (0, 1), err[-2000:]
    assert "newsflow run summary" in out
    assert _stored(db) < len(MANIFEST["pages"]), "the stop came while pages were pending"
    abandoned = [e for e in _events("\n".join(
        line for line in err.splitlines() if line.startswith("{")))
        if e.get("event") == "poll_abandoned"]  # fmt: skip
    assert abandoned, "the feeds cut short are named in the log"
