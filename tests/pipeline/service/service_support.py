"""Helpers for the service tests: the demo site on a local HTTP server, ``newsflow run``.

:class:`FeedSite` copies the offline demo (``demo/``) into a temporary
directory, rewrites every ``http://<publisher>.example/`` link of its feeds to
``http://127.0.0.1:PORT/sites/<publisher>.example/`` and serves the directory
from a thread (conditional GETs answered 304, article pages optionally slowed
down). :class:`ServiceProcess` starts ``newsflow run`` as a subprocess with a
config for that site, reads the bound address from its JSON log, and stops it
with a signal, timing the stop.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "demo"
MANIFEST = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
NEWSFLOW = [sys.executable, "-m", "pipeline.cli"]
DEMO_FEEDS = {
    "iranintl-atom": "iranintl-atom.xml",
    "presstv-rss": "presstv-rss.xml",
    "worldwire-rss": "worldwire-rss.xml",
    "dailyledger-json": "dailyledger-feed.json",
    "metrotimes-sitemap": "metrotimes-news-sitemap.xml",
    "tagesblick-rss": "tagesblick-rss.xml",
    "elfaro-atom": "elfaro-atom.xml",
}
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Council & "budget" <b>row</b>'


class _Handler(SimpleHTTPRequestHandler):
    delay_pages = 0.0

    def do_GET(self) -> None:
        if self.path.startswith("/sites/") and self.delay_pages:
            time.sleep(self.delay_pages)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is the service's."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (a stopped service) is expected."""


class FeedSite:
    """The demo publishers and feeds on ``http://127.0.0.1:PORT``, plus feeds tests add."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(DEMO / "sites", root / "sites")
        (root / "feeds").mkdir(parents=True)
        handler = type("Handler", (_Handler,), {})
        self._handler = handler
        self._server = _Server(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        for file in DEMO_FEEDS.values():
            text = (DEMO / "feeds" / file).read_text(encoding="utf-8")
            (root / "feeds" / file).write_text(self.localise(text), encoding="utf-8")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def localise(self, text: str) -> str:
        return re.sub(r"http://([a-z]+\.example)/", rf"{self.base}/sites/\1/", text)

    def feed_url(self, file: str) -> str:
        return f"{self.base}/feeds/{file}"

    def demo_feeds(self) -> list[dict[str, str]]:
        return [{"name": n, "url": self.feed_url(f)} for n, f in DEMO_FEEDS.items()]

    def links_by_feed(self) -> dict[str, set[str]]:
        """Per demo feed, the article URLs it lists (tracking parameters dropped)."""
        by_file = {f["file"].removeprefix("feeds/"): f["links"] for f in MANIFEST["feeds"]}
        return {
            name: {self.localise(link).split("?")[0] for link in by_file[file]}
            for name, file in DEMO_FEEDS.items()
        }

    def page_urls(self) -> set[str]:
        """Every article the demo feeds list, as the service fetches it."""
        return {self.localise(page["url"]) for page in MANIFEST["pages"]}

    def add_hostile_feed(
        self, file: str = "late-wire.xml", *, page_name: str = "story.html", source_page: int = 7
    ) -> tuple[str, str]:
        """A feed listing one page whose title is markup; returns (feed URL, page URL).

        The page is a demo page (by default a tennis report: plain English prose) whose
        title is replaced, at ``late.example/<page_name>``."""
        original = MANIFEST["pages"][source_page]
        html = (DEMO / original["file"]).read_text(encoding="utf-8")
        escaped = (HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;")
                   .replace(">", "&gt;").replace('"', "&quot;"))  # fmt: skip
        html = re.sub(r'<script type="application/ld\+json">.*?</script>', "", html, flags=re.S)
        html = re.sub(r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", html)
        html = html.replace(original["title"], escaped)
        page = self.root / "sites" / "late.example" / page_name
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(html, encoding="utf-8")
        page_url = f"{self.base}/sites/late.example/{page_name}"
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Late Wire</title><link>http://late.example/</link><description>x</description>"
            f"<item><title>{escaped}</title><link>{page_url}</link><guid>{page_url}</guid>"
            "<pubDate>Sat, 21 Nov 2026 10:00:00 +0000</pubDate></item></channel></rss>"
        )
        (self.root / "feeds" / file).write_text(feed, encoding="utf-8")
        return self.feed_url(file), page_url

    def slow_down_pages(self, seconds: float) -> None:
        self._handler.delay_pages = seconds

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_config(path: Path, site: FeedSite, db: Path, **overrides: Any) -> dict[str, Any]:
    """A config for ``newsflow run`` against ``site``, with an ephemeral HTTP port."""
    config: dict[str, Any] = {
        "feeds": site.demo_feeds(),
        "transport": "embedded",
        "storage": {"url": f"sqlite:///{db}"},
        "fetch": {
            "allow_private_networks": True,
            "respect_robots": False,
            "min_host_interval": 0,
            "per_host_concurrency": 4,
        },
        "schedule": {"jitter": 0, "default_interval_seconds": 3, "min_interval_seconds": 1},
        "extract": {"workers": 1},
        "service": {"http_port": 0, "log_format": "json", "log_level": "INFO"},
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config


class ServiceProcess:
    """``newsflow --config FILE run`` (or another command) in a subprocess; its JSON log
    collected as it comes."""

    def __init__(
        self,
        config: Path,
        *args: str,
        command: tuple[str, ...] = ("run",),
        env: dict[str, str] | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [*NEWSFLOW, "--config", str(config), *command, *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self.stdout_parts: list[str] = []
        """Its standard output, once it is closed (the run summary)."""
        # Each pipe has one reader: communicate() beside a reader thread took a share of
        # the lines (unseen by the checks on the log made after a stop).
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()
        self.url = self.wait_for_event("http_listening", timeout=60)["url"].rstrip("/")

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr as pipe:
            for line in pipe:
                self.stderr_lines.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    continue

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as pipe:
            self.stdout_parts.append(pipe.read())  # until every holder closed it

    def _read_to_the_end(self, timeout: float) -> None:
        """Until both pipes are closed by every process holding them (the service's, and
        any child still running), as ``communicate`` waited."""
        deadline = time.monotonic() + timeout
        for reader in (self._reader, self._out_reader):
            reader.join(max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.process.args, timeout)

    def wait_for_event(
        self, event: str, timeout: float, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.events):
                if item.get("event") == event and (where is None or where(item)):
                    return item
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                raise AssertionError(f"newsflow exited {self.process.returncode}: {self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} event within {timeout} s: {self.log()}")

    def log(self) -> str:
        return "".join(self.stderr_lines)[-4000:]

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def stored(self) -> int:
        """Articles and duplicates in the store, as the status document counts them."""
        articles = self.json("/api/status")["articles"]
        return int(articles["total"] or 0) + int(articles["duplicates"] or 0)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics``: (name, sorted labels) -> value."""
        status, body = self.get("/metrics")
        assert status == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode("utf-8"))
            for s in family.samples
        }

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, float, str]:
        """Send ``signum``; the exit status, seconds until exit, and stdout."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=timeout)
        self._read_to_the_end(max(0.0, sent + timeout - time.monotonic()))
        took = time.monotonic() - sent
        return self.process.returncode, took, "".join(self.stdout_parts)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own; its exit status, its log read to the end."""
        code = self.process.wait(timeout=timeout)
        self._read_to_the_end(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
            with suppress(subprocess.TimeoutExpired):  # cleaning up: no check
                self._read_to_the_end(10)

    def close(self) -> None:
        """Stop it the way an operator would (SIGTERM), killing it only if that fails."""
        if self.process.poll() is not None:
            return
        try:
            self.stop(signal.SIGTERM, timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def timed_get(url: str) -> tuple[int | None, bytes, float]:
    """Status, body and seconds taken; status None when no answer came within 5 s."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError):
        status, body = None, b""
    return status, body, time.monotonic() - started


@contextmanager
def sqlite_file_locked(db: Path) -> Iterator[None]:
    """Another connection holds the SQLite store ``db`` with ``BEGIN EXCLUSIVE`` meanwhile:
    a write waits for the busy timeout (30 s)."""
    with closing(sqlite3.connect(db, isolation_level=None)) as locker:
        locker.execute("BEGIN EXCLUSIVE")
        yield
        locker.execute("ROLLBACK")


@contextmanager
def postgres_probe_row_locked(url: str) -> Iterator[None]:
    """Another connection holds the store probe's row ``FOR UPDATE`` meanwhile: the probe's
    write waits for as long as it is held."""
    import psycopg

    with psycopg.connect(url) as locker:  # a transaction begins with the SELECT
        locker.execute("SELECT probed_at FROM store_probe WHERE id = 1 FOR UPDATE")
        yield
        locker.rollback()


def query_store(db: Path, sql: str) -> list[Any]:
    """First column of ``sql`` on a SQLite store; empty while its tables do not exist yet."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return [row[0] for row in conn.execute(sql)]
    except sqlite3.OperationalError:
        return []


def sample(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:  # fmt: skip
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample_name, sample_labels), value in metrics.items()
        if sample_name == name and all((k, v) in sample_labels for k, v in labels.items())
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "newsflow-dashboard.json"
_METRIC_NAME = re.compile(r"newsflow_[a-z_]+")


def dashboard_metrics() -> dict[str, set[str]]:
    """Metric names the Grafana dashboard's PromQL uses, per dashboard row."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}
    row = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            continue
        for target in panel.get("targets", []):
            names.setdefault(row, set()).update(_METRIC_NAME.findall(target["expr"]))
    return names


def exposed_names(exposition: str) -> set[str]:
    """Every series name a scrape of ``exposition`` can yield, samples or not yet."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("_count", "_sum", "_created"),
        "gauge": ("",),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(s.name for s in family.samples)
    return names
