"""kill -9 of the embedded service part-way, then a restart: every entry stored exactly once.

Feeds and pages are served by a real HTTP server on 127.0.0.1; the service runs
as a subprocess, as in production, and is killed while it polls and stores.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest

from corpus import Page, generate_site_pages

ROOT = Path(__file__).resolve().parents[3]
SITES, PAGES_PER_SITE = 8, 15
PAGE_DELAY = 0.04


class CorpusServer:
    """Serves ``/feeds/<site>.xml`` (RSS) and ``/<site>/<path>`` article pages, slowly."""

    def __init__(
        self,
        pages: list[Page],
        gone_per_site: int = 0,
        release: threading.Event | None = None,
    ) -> None:
        """``gone_per_site``: links each feed lists that answer 404; ``release``: each
        site's last page is held back until it is set."""
        self.pages = pages
        self.gone_per_site = gone_per_site
        self.release = release
        last = {p.site: p for p in pages}
        self.held = {self.local_path(p.url) for p in last.values()} if release else set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.by_path = {self.local_path(p.url): p for p in pages}
        self.requests: Counter[str] = Counter()
        """Requests for article pages (and gone links), by path."""

    @staticmethod
    def local_path(url: str) -> str:
        parts = urlsplit(url)
        return f"/{parts.hostname}{parts.path}"

    def gone_links(self, site: str) -> list[str]:
        """Links the feed lists and the server answers 404 for: each one is a dead letter."""
        return [f"{self.base}/{site}/gone-{n}" for n in range(self.gone_per_site)]

    def feed(self, site: str) -> bytes:
        gone = "".join(
            f"<item><title>gone {link}</title><link>{link}</link></item>"
            for link in self.gone_links(site)
        )
        items = gone + "".join(
            f"<item><title>{escape(p.title)}</title><link>{self.base}{self.local_path(p.url)}</link>"
            f"<guid>{escape(p.url)}</guid><pubDate>{format_datetime(p.published_at)}</pubDate></item>"
            for p in self.pages
            if p.site == site
        )
        channel = f"<channel><title>{site}</title>{items}</channel>"
        return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/feeds/"):
                    body, kind = (
                        outer.feed(self.path[len("/feeds/") : -len(".xml")]),
                        "application/rss+xml",
                    )
                elif self.path in outer.by_path:
                    outer.requests[self.path] += 1
                    if self.path in outer.held and outer.release is not None:
                        outer.release.wait(timeout=120)
                    time.sleep(PAGE_DELAY)
                    body, kind = outer.by_path[self.path].html.encode(), "text/html; charset=utf-8"
                else:
                    outer.requests[self.path] += 1
                    time.sleep(PAGE_DELAY)
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # the client was killed
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> CorpusServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served() -> Iterator[CorpusServer]:
    pages = generate_site_pages(n_sites=SITES, pages_per_site=PAGES_PER_SITE, seed=11)
    with CorpusServer(pages) as server:
        yield server


def write_config(tmp_path: Path, server: CorpusServer) -> Path:
    sites = sorted({p.site for p in server.pages})
    feeds = "".join(f"  - {{name: {s}, url: '{server.base}/feeds/{s}.xml'}}\n" for s in sites)
    config = tmp_path / "newsflow.yaml"
    config.write_text(
        f"feeds:\n{feeds}"
        f"storage: {{url: 'sqlite:///{tmp_path / 'store.db'}'}}\n"
        "fetch: {allow_private_networks: true, min_host_interval: 0, respect_robots: false,"
        " per_host_concurrency: 4}\n"
        "extract: {workers: 1}\n"
        "service: {http_enabled: false}\n",
        encoding="utf-8",
    )
    return config


def stored_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def newsflow(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_9_during_a_run_then_restart_stores_every_entry_once(
    tmp_path: Path, served: CorpusServer
) -> None:
    config = write_config(tmp_path, served)
    db = tmp_path / "store.db"
    total = SITES * PAGES_PER_SITE

    first = newsflow(config, "run", "--once")
    deadline = time.monotonic() + 120
    while stored_rows(db) < total // 4 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert first.poll() is None, f"the first run ended early: {first.communicate()[1][-2000:]}"
    killed_at = stored_rows(db)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert 0 < killed_at < total

    second = newsflow(config, "run", "--once")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-2000:]
    assert "dead-lettered:     0" in out

    export = newsflow(config, "export")
    lines, _ = export.communicate(timeout=60)
    rows = [json.loads(line) for line in lines.splitlines()]
    expected = {f"{served.base}{served.local_path(p.url)}" for p in served.pages}
    assert sorted(r["url"] for r in rows) == sorted(expected)
    assert len({r["id"] for r in rows}) == total
    assert all(r["revision"] == 1 for r in rows)


def dead_letters(db: Path, *columns: str) -> list[tuple[object, ...]]:
    """The store's dead letters: (stage, url of the failed message, ``columns``...)."""
    if not db.exists():
        return []
    query = f"SELECT {', '.join(['stage', 'payload', *columns])} FROM dead_letters"
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            rows = conn.execute(query).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    return [(stage, json.loads(payload)["url"], *rest) for stage, payload, *rest in rows]


def stored_urls(db: Path) -> set[str]:
    with sqlite3.connect(db, timeout=5) as conn:
        return {str(url) for (url,) in conn.execute("SELECT url FROM articles")}


@pytest.mark.slow
def test_a_restart_fetches_only_what_the_killed_run_had_not_stored(tmp_path: Path) -> None:
    """Entries are marked seen in the transaction that stores them, not only when
    their whole poll commits: a service killed again and again still gets through
    a feed longer than its time between kills.

    Each feed's last page is held back until the kill, so no poll can commit
    before it (without the marks, every page stored before the kill was fetched
    and extracted again after the restart).
    """
    pages = generate_site_pages(n_sites=4, pages_per_site=10, seed=11)
    release = threading.Event()
    with CorpusServer(pages, release=release) as served:
        config = write_config(tmp_path, served)
        db = tmp_path / "store.db"
        first = newsflow(config, "run", "--once")
        deadline = time.monotonic() + 120
        while stored_rows(db) < 5 and time.monotonic() < deadline:
            assert first.poll() is None, f"the run ended early: {first.communicate()[1][-2000:]}"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        before = stored_urls(db)
        assert before, "nothing was stored before the kill"
        assert all(urlsplit(url).path in served.requests for url in before)
        served.requests.clear()
        release.set()

        second = newsflow(config, "run", "--once")
        _, err = second.communicate(timeout=300)
        assert second.returncode == 0, err[-2000:]
        fetched_again = {url for url in before if served.requests[urlsplit(url).path]}

    assert fetched_again == set(), f"{len(fetched_again)} of {len(before)} fetched again"
    assert stored_rows(db) == len(pages)
    assert sum(served.requests.values()) == len(pages) - len(before)


@pytest.mark.slow
def test_kill_9_after_dead_letters_then_restart_keeps_each_dead_letter_once(
    tmp_path: Path,
) -> None:
    """Entries dead-lettered before the kill: one dead letter each, whatever the kill cut.

    Each feed's last page is held back until the kill, so no poll can commit
    before it. A gone page whose entry was marked seen before the kill (in
    the transaction after its letter) is not asked for again; one whose
    entry was not comes again with its poll and fails again: its letter is
    updated, not repeated. Either way a letter's attempts are its requests.
    """
    pages = generate_site_pages(n_sites=4, pages_per_site=10, seed=11)
    release = threading.Event()
    with CorpusServer(pages, gone_per_site=2, release=release) as served:
        config = write_config(tmp_path, served)
        db = tmp_path / "store.db"
        gone = sorted(link for site in {p.site for p in pages} for link in served.gone_links(site))

        first = newsflow(config, "run", "--once")
        deadline = time.monotonic() + 120
        while len(dead_letters(db)) < len(gone) and time.monotonic() < deadline:
            assert first.poll() is None, f"the run ended early: {first.communicate()[1][-2000:]}"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert len(dead_letters(db)) == len(gone)
        release.set()

        second = newsflow(config, "run", "--once")
        _, err = second.communicate(timeout=300)

    assert second.returncode == 1, err[-2000:]  # 1: some entries were dead-lettered
    letters = dead_letters(db)
    assert sorted(str(url) for _, url in letters) == gone
    attempts = {str(url): attempts for stage, url, attempts in dead_letters(db, "attempts")}
    assert attempts == {link: served.requests[urlsplit(link).path] for link in gone}
    assert {stage for stage, _ in letters} == {"fetch"}
    assert stored_rows(db) == len(pages)
