"""Serve the benchmark corpus over HTTP on loopback, in a process of its own.

One ``ThreadingHTTPServer`` per site, each on the site's own loopback address
(``127.0.0.<10+i>``, same port), so every publisher is its own host for the
fetcher's politeness and robots.txt. Each site serves ``/robots.txt``, its
feeds (with ``ETag`` and ``Last-Modified``; a matching ``If-None-Match`` or
``If-Modified-Since`` gets a bodyless 304) and its article pages, read from
disk. ``127.0.0.1`` serves the polling benchmark's feeds (``/poll/<n>.xml``,
see :func:`bench.e2e.feeds.poll_feed`) and the control endpoints:

- ``/_bench/stats``: requests by status, body bytes sent and the time
  (Unix seconds) of the first request, as JSON;
- ``/_bench/reset``: those counters back to zero (before a measured run);
- ``/_bench/epoch/<e>``: the polling feeds' clock (feed ``n`` publishes one
  item in epoch ``e`` with probability ``--publish-per-mille`` / 1000).

Run it with :class:`CorpusServer` (a context manager that starts the
process and reads the port it chose)::

    with CorpusServer(root, poll_feeds=10_000) as server:
        server.port, server.stats(), server.set_epoch(3)

    python -m bench.e2e.server --root .run/bench-corpus   # prints {"port": N}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from bench.e2e.corpus import Manifest, load_manifest
from bench.e2e.feeds import CONTENT_TYPES, poll_feed, render_feed

ROBOTS = b"User-agent: *\nDisallow: /private/\nAllow: /\n"
LAST_MODIFIED = formatdate(1_714_000_000, usegmt=True)


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str
    etag: str
    last_modified: str = LAST_MODIFIED


class Stats:
    """Counters shared by every handler thread.

    The first request's time is when a measured pipeline began its work (its
    first feed poll): a run's start-up ends there.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_status: dict[int, int] = {}
            self.body_bytes = 0
            self.first_request_at: float | None = None

    def count(self, status: int, body_bytes: int) -> None:
        with self._lock:
            if self.first_request_at is None:
                self.first_request_at = time.time()
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self.body_bytes += body_bytes

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "by_status": dict(self.by_status),
                "body_bytes": self.body_bytes,
                "first_request_at": self.first_request_at,
            }


class PollHub:
    """The polling benchmark's feeds: feed ``n`` gains an item in some epochs."""

    def __init__(self, feeds: int, publish_per_mille: int, base: str) -> None:
        self.feeds = feeds
        self.publish_per_mille = publish_per_mille
        self.base = base
        self.epoch = 0
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, Document]] = {}

    def generation(self, number: int) -> int:
        return sum(
            1
            for e in range(1, self.epoch + 1)
            if zlib.crc32(f"{number}:{e}".encode()) % 1000 < self.publish_per_mille
        )

    def document(self, number: int) -> Document:
        generation = self.generation(number)
        with self._lock:
            cached = self._cache.get(number)
            if cached and cached[0] == generation:
                return cached[1]
        body = poll_feed(number, generation, self.base)
        doc = Document(
            body,
            CONTENT_TYPES["rss"],
            f'"{number}-{generation}"',
            formatdate(1_714_000_000 + 60 * generation, usegmt=True),
        )
        with self._lock:
            self._cache[number] = (generation, doc)
        return doc


class Site:
    """What one site serves: robots.txt, feed documents, page files by path."""

    def __init__(self, manifest: Manifest, index: int, port: int) -> None:
        self.pages = {p.path: manifest.root / p.file for p in manifest.pages if p.site == index}
        self.feeds: dict[str, Document] = {}
        for feed in manifest.feeds:
            if feed.site == index:
                body = render_feed(manifest, feed, port)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                self.feeds[feed.path] = Document(body, CONTENT_TYPES[feed.kind], etag)


class CorpusHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], site: Site | None, hub: PollHub | None, stats: Stats
    ) -> None:
        super().__init__(address, Handler)
        self.site = site
        self.hub = hub
        self.stats = stats


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CorpusHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: thousands of requests per second would flood stderr."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        site, hub = self.server.site, self.server.hub
        if path == "/robots.txt":
            self._send(HTTPStatus.OK, ROBOTS, "text/plain")
        elif site is not None and path in site.feeds:
            self._send_document(site.feeds[path])
        elif site is not None and path in site.pages:
            self._send(HTTPStatus.OK, site.pages[path].read_bytes(), "text/html; charset=utf-8")
        elif hub is not None and path.startswith("/poll/") and path.endswith(".xml"):
            self._poll(hub, path)
        elif hub is not None and path.startswith("/_bench/"):
            self._control(hub, path)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def _poll(self, hub: PollHub, path: str) -> None:
        number = path.removeprefix("/poll/").removesuffix(".xml")
        if not number.isdigit() or int(number) >= hub.feeds:
            self._send(HTTPStatus.NOT_FOUND, b"no such feed", "text/plain")
            return
        self._send_document(hub.document(int(number)))

    def _control(self, hub: PollHub, path: str) -> None:
        if path.startswith("/_bench/epoch/"):
            hub.epoch = int(path.rsplit("/", 1)[1])
            self._send(HTTPStatus.OK, b"ok", "text/plain", count=False)
        elif path == "/_bench/stats":
            body = json.dumps(self.server.stats.snapshot()).encode()
            self._send(HTTPStatus.OK, body, "application/json", count=False)
        elif path == "/_bench/reset":
            self.server.stats.reset()
            self._send(HTTPStatus.OK, b"ok", "text/plain", count=False)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"no such control", "text/plain", count=False)

    def _send_document(self, doc: Document) -> None:
        etags = self.headers.get("If-None-Match")
        since = self.headers.get("If-Modified-Since")
        if (etags and doc.etag in etags) or (not etags and since == doc.last_modified):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", doc.etag)
            self.send_header("Last-Modified", doc.last_modified)
            self.end_headers()
            self.server.stats.count(304, 0)
            return
        self._send(
            HTTPStatus.OK,
            doc.body,
            doc.content_type,
            headers={"ETag": doc.etag, "Last-Modified": doc.last_modified},
        )

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        count: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        if count:
            self.server.stats.count(int(status), len(body))


def start_servers(
    manifest: Manifest, *, poll_feeds: int, publish_per_mille: int, attempts: int = 5
) -> tuple[int, list[CorpusHTTPServer]]:
    """Bind 127.0.0.1 on a free port, then every site's address on the same port."""
    stats = Stats()
    for _ in range(attempts):
        hub_server = CorpusHTTPServer(("127.0.0.1", 0), None, None, stats)
        port = hub_server.server_address[1]
        hub_server.hub = PollHub(poll_feeds, publish_per_mille, f"http://127.0.0.1:{port}")
        servers = [hub_server]
        try:
            for index in range(manifest.spec.sites):
                site = Site(manifest, index, port)
                servers.append(
                    CorpusHTTPServer((manifest.site_host(index), port), site, None, stats)
                )
        except OSError:
            for server in servers:
                server.server_close()
            continue
        return port, servers
    raise OSError("could not bind every site address on one port")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--poll-feeds", type=int, default=0)
    parser.add_argument("--publish-per-mille", type=int, default=33)
    args = parser.parse_args(argv)
    manifest = load_manifest(args.root)
    port, servers = start_servers(
        manifest, poll_feeds=args.poll_feeds, publish_per_mille=args.publish_per_mille
    )
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": port}), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or kills us)
    for server in servers:
        server.shutdown()
    return 0


class CorpusServer:
    """The server process, started on enter and stopped on exit."""

    def __init__(self, root: Path, *, poll_feeds: int = 0, publish_per_mille: int = 33) -> None:
        self.root = root
        self.args = ["--poll-feeds", str(poll_feeds), "--publish-per-mille", str(publish_per_mille)]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> CorpusServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.e2e.server", "--root", str(self.root), *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the corpus server exited before it was ready")
        self.port = int(json.loads(line)["port"])
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.base}/_bench/stats", timeout=10) as response:
            data: dict[str, object] = json.loads(response.read())
            return data

    def set_epoch(self, epoch: int) -> None:
        self._control(f"epoch/{epoch}")

    def reset_stats(self) -> None:
        self._control("reset")

    def _control(self, command: str) -> None:
        with urllib.request.urlopen(f"{self.base}/_bench/{command}", timeout=10) as response:
            response.read()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(main())
