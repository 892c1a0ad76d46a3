"""What runtime tests that fetch from a real HTTP server on 127.0.0.1 share."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from pipeline.config import parse_config
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve in a thread until the block ends."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def local_resources(store_url: str, **fetch: object) -> Iterator[Resources]:
    """Resources whose fetcher may reach 127.0.0.1 at once (no robots.txt, no host
    interval), extraction in this process, plus the ``fetch`` settings given."""
    config = parse_config(
        {
            "storage": {"url": store_url},
            "extract": {"workers": 1},
            "fetch": {
                "allow_private_networks": True,
                "respect_robots": False,
                "min_host_interval": 0,
                **fetch,
            },
        },
        base=ROOT,
    )
    opened = Resources(config)
    try:
        yield opened
    finally:
        opened.close()


def send_body(request: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
    """Answer 200 with ``body``."""
    request.send_response(200)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


Answer = int | tuple[int, Mapping[str, str]] | Literal["empty", "cut"]
"""A scripted answer: an error status (with headers, bodyless, when given as a pair), a
200 closed after its headers, or a body cut short."""


class ScriptedSite:
    """A site on 127.0.0.1 whose paths answer what is scripted for them in turn, then
    their page (200); ``feeds`` maps a feed's path to the page paths its RSS lists.

    ``pages`` gives each path's HTML; ``page`` answers every other path (404 without
    it). ``hits`` counts requests per path, feeds included.
    """

    def __init__(
        self,
        *,
        pages: Mapping[str, str] | None = None,
        page: str | None = None,
        feeds: Mapping[str, Sequence[str]] | None = None,
        scripts: Mapping[str, Sequence[Answer]] | None = None,
    ) -> None:
        self.pages = dict(pages or {})
        self.page = page
        self.feeds = dict(feeds or {})
        self.scripts: dict[str, list[Answer]] = {k: list(v) for k, v in (scripts or {}).items()}
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def rss(self, paths: Sequence[str]) -> bytes:
        items = "".join(
            f"<item><title>{path.strip('/')}</title><link>{self.base}{path}</link></item>"
            for path in paths
        )
        return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()

    def _next(self, path: str) -> Answer | None:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            script = self.scripts.get(path)
            return script.pop(0) if script else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = site._next(self.path)
                if self.path in site.feeds:
                    send_body(self, site.rss(site.feeds[self.path]), "application/rss+xml")
                elif isinstance(answer, int):
                    self.send_error(answer)
                elif isinstance(answer, tuple):
                    status, headers = answer
                    self.send_response(status)
                    for name, value in {**headers, "Content-Length": "0"}.items():
                        self.send_header(name, value)
                    self.end_headers()
                elif answer is not None:
                    self.close_connection = True
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                    cut = b"Content-Length: 5000\r\n\r\n<html>" if answer == "cut" else b"\r\n"
                    self.wfile.write(head + cut)
                elif (html := site.pages.get(self.path, site.page)) is not None:
                    send_body(self, html.encode(), "text/html; charset=utf-8")
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
