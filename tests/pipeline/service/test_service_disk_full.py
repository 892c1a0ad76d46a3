"""The disk under a running ``newsflow run`` on SQLite fills up, then has room again.

A full disk is not the messages' fault, so it is handled as a store outage
(``test_service_store_outage``): the service neither exits nor dead-letters
what it had in hand; it waits (``store_unavailable``), says so on ``/readyz``,
the status page and the metric, and once a write commits again
(``store_back``) stores the article in flight, once.

"Full" is ``RLIMIT_FSIZE`` set on the running service: every write to a file
fails with EFBIG, which SQLite reports as an SQLITE_IOERR, as it does for
a disk that refuses writes; reads still answer, as on a full disk. (CPython
ignores SIGXFSZ, so the process is not killed. Its log goes to a pipe, which
the limit does not touch.) Which SQLITE_IOERR depends on the file the first
refused write goes to: SQLITE_IOERR_WRITE for the database's WAL, plain
SQLITE_IOERR when a savepoint's journal outgrows memory and spills to a
temporary file first (with ``temp_store=MEMORY`` the same run fails at COMMIT
with SQLITE_IOERR_WRITE). How many pages a store transaction journals, and so
which comes first, changes with the schema (articles migration 8 moved it).
"""

from __future__ import annotations

import json
import resource
import signal
import time
from pathlib import Path

import yaml
from service_support import (
    MANIFEST,
    FeedSite,
    ServiceProcess,
    query_store,
    sample,
    wait_until,
    write_config,
)

NO_WRITES = 0
"""A soft RLIMIT_FSIZE of 0 bytes: no write to any file at any offset succeeds. The hard
limit stays where it was: lowering it too could not be undone without CAP_SYS_RESOURCE
(a container often lacks it), and the soft limit is the one a write meets."""


def test_the_service_waits_out_a_full_disk_and_stores_what_was_in_flight_once(
    site: FeedSite, tmp_path: Path
) -> None:
    db = tmp_path / "store.db"
    config = tmp_path / "newsflow.yaml"
    settings = write_config(config, site, db)
    service = ServiceProcess(config)
    unlimited = resource.prlimit(service.process.pid, resource.RLIMIT_FSIZE)
    try:
        pages = len(MANIFEST["pages"])
        wait_until(lambda: len(query_store(db, "SELECT url FROM articles")) == pages, 90, "demo")

        resource.prlimit(service.process.pid, resource.RLIMIT_FSIZE, (NO_WRITES, unlimited[1]))
        feed_url, page_url = site.add_hostile_feed()
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["feeds"] = [*settings["feeds"], {"name": "late-wire", "url": feed_url}]
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)  # the added feed is polled at once
        unavailable = service.wait_for_event("store_unavailable", timeout=30)
        assert "disk I/O error (SQLITE_IOERR" in unavailable["msg"]
        assert "over a file size limit" in unavailable["msg"]
        time.sleep(3.0)  # probes fail meanwhile: the write is still refused
        assert service.process.poll() is None, service.log()
        assert page_url not in query_store(db, "SELECT url FROM articles")
        assert not any(e.get("event") == "store_back" for e in service.events)
        _assert_reported_unavailable(service)

        resource.prlimit(service.process.pid, resource.RLIMIT_FSIZE, unlimited)
        service.wait_for_event("store_back", timeout=60)
        wait_until(
            lambda: page_url in query_store(db, "SELECT url FROM articles"), 60, "the article"
        )
        status, _ = service.get("/readyz")
        assert status == 200
    finally:
        if service.process.poll() is None:
            resource.prlimit(service.process.pid, resource.RLIMIT_FSIZE, unlimited)
        code, _, _ = service.stop()
    assert code == 0, service.log()
    stored = query_store(db, "SELECT url FROM articles")
    assert len(stored) == len(set(stored)) == pages + 1
    assert query_store(db, "SELECT count(*) FROM dead_letters") == [0]
    assert not [e for e in service.events if e.get("event") == "dead_letter"]


def _assert_reported_unavailable(service: ServiceProcess) -> None:
    """As for an outage: /readyz fails, the status page says so, the metric counted it."""
    status, body = service.get("/readyz")
    assert status == 503, body
    assert "over a file size limit" in json.loads(body)["store"]
    document = service.json("/api/status")
    assert "disk I/O error (SQLITE_IOERR" in document["store_error"]
    metrics = service.metrics()
    assert sample(metrics, "newsflow_store_unavailable_total", worker="embedded") >= 1
