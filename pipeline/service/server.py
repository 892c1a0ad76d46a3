"""The process's HTTP endpoint: a small threaded server from the standard library.

It serves a fixed table of GET routes (path -> handler returning a
:class:`Response`) from a daemon thread, so it never keeps the process alive
and never blocks the pipeline. Every response carries headers that keep a
browser from interpreting data as code (``nosniff``, a strict
Content-Security-Policy: the status page loads its script and style from
this server only, and nothing inline)::

    server = HttpServer("127.0.0.1", 0, {"/healthz": lambda: Response.text("ok")})
    server.start()
    server.url            # http://127.0.0.1:PORT  (port 0 = a free one)
    server.close()
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        " img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
        return cls(status, "application/json; charset=utf-8", body, {"Cache-Control": "no-store"})

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, "text/plain; charset=utf-8", text.encode("utf-8"))


Route = Callable[[], Response]


class HttpServer:
    """A ThreadingHTTPServer on ``host:port`` serving ``routes`` from a daemon thread."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; a port in use is a :class:`ConfigError` naming the setting."""
        try:
            server = _Server((self.host, self.port), _handler_for(self.routes))
        except OSError as exc:
            raise ConfigError(
                [
                    f"service.http_host/http_port: cannot listen on {self.host}:{self.port}: "
                    f"{exc.strerror or exc}"
                ]
            ) from None
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="http-endpoint", daemon=True,
        )  # fmt: skip
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)


LISTEN_BACKLOG = 128
"""Connections the kernel queues before the server accepts them. socketserver's default
of 5 overflowed under 100 concurrent scrapers: dropped SYNs are retried after 1, 3, 7 ...
seconds, so /healthz took seconds and some requests timed out after 31 s."""


class _Server(ThreadingHTTPServer):
    """One thread per request (``ThreadingHTTPServer``), a listen backlog of
    :data:`LISTEN_BACKLOG`; reports a failed request as one log line instead of
    socketserver's traceback on stderr, which would break the one-JSON-object-per-line log."""

    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Called from the except block around a request, so the error is the current one.
        A client that went away (a scraper timing out, a browser tab closed) is routine."""
        error = sys.exc_info()[1]
        client = _client(client_address)
        if isinstance(error, ConnectionError):
            log.debug("http: client %s went away: %s", client, error)
            return
        log.warning(
            "http: request from %s failed: %s: %s", client, type(error).__name__, error,
            extra={"event": "http_error"},
        )  # fmt: skip


def _client(address: Any) -> str:
    """``host:port`` of a client address tuple (IPv4 or IPv6)."""
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _handler_for(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "newsflow"

        def version_string(self) -> str:
            """``Server: newsflow``: the default appends ``" " + sys_version`` (the Python
            version), which left a trailing space even with ``sys_version`` empty."""
            return self.server_version

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            route = routes.get(urlsplit(self.path).path)
            if route is None:
                response = Response.text("not found\n", HTTPStatus.NOT_FOUND)
            else:
                response = _call(route, self.path)
            self.send_response(response.status)
            headers = {**SECURITY_HEADERS, **response.headers}
            headers["Content-Type"] = response.content_type
            headers["Content-Length"] = str(len(response.body))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler


def _call(route: Route, path: str) -> Response:
    try:
        return route()
    except Exception as exc:  # one bad request must not take the endpoint down
        log.warning("http %s failed: %s", path, exc, extra={"event": "http_error"}, exc_info=True)
        return Response.text(f"internal error: {type(exc).__name__}\n", 500)
