"""The PostgreSQL store goes away under a running ``newsflow run`` and comes back.

A server restart or a failover drops every connection, and for a while new
ones are refused. The service must neither exit nor dead-letter what it had
in hand: it waits (``store_unavailable``), its polls stay uncommitted, and
once the store answers (``store_back``) the article in flight during the
outage is stored, once, with nothing else stored twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from service_support import MANIFEST, FeedSite, ServiceProcess, wait_until, write_config

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return list(conn.execute(sql))
    except psycopg.Error:
        return []  # not created yet, or the outage the test made


def _stored_urls(url: str) -> list[str]:
    return [str(row[0]) for row in _rows(url, "SELECT url FROM articles")]


def _set_outage(admin_url: str, database: str, *, down: bool) -> None:
    """Refuse new connections to ``database`` and drop the open ones, or allow them again."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(not down).lower()}')
        if down:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


@pytest.mark.parametrize("interval", [3, 3600])
def test_the_service_waits_out_a_store_outage_and_stores_what_was_in_flight_once(
    site: FeedSite, tmp_path: Path, postgres_url: str, postgres_server_url: str, interval: int
) -> None:
    """With a 3600 s interval: the feed whose poll the outage cut short is polled again as
    soon as the store is back, not when its lease ends (it waited the whole interval)."""
    database = urlsplit(postgres_url).path.lstrip("/")
    config = tmp_path / "newsflow.yaml"
    settings = write_config(
        config, site, tmp_path / "unused.db", storage={"url": postgres_url},
        schedule={"default_interval_seconds": interval},
    )  # fmt: skip
    service = ServiceProcess(config)
    try:
        pages = len(MANIFEST["pages"])
        wait_until(lambda: len(_stored_urls(postgres_url)) == pages, 90, "the demo")

        site.slow_down_pages(3.0)  # the new article is still being fetched when the store goes
        feed_url, page_url = site.add_hostile_feed()
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["feeds"] = [*settings["feeds"], {"name": "late-wire", "url": feed_url}]
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        service.process.send_signal(1)  # SIGHUP: the added feed is polled at once
        service.wait_for_event("config_reload", timeout=10)
        time.sleep(1.0)
        _set_outage(postgres_server_url, database, down=True)
        service.wait_for_event("store_unavailable", timeout=30)
        site.slow_down_pages(0)
        time.sleep(3.0)
        assert service.process.poll() is None, service.log()

        _set_outage(postgres_server_url, database, down=False)
        service.wait_for_event("store_back", timeout=60)
        wait_until(lambda: page_url in _stored_urls(postgres_url), 60, "the article in flight")
    finally:
        _set_outage(postgres_server_url, database, down=False)
        code, _, _ = service.stop()
    assert code == 0, service.log()
    stored = _stored_urls(postgres_url)
    assert len(stored) == len(set(stored)) == pages + 1
    assert _rows(postgres_url, "SELECT count(*) FROM dead_letters") == [(0,)]
