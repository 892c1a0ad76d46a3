"""A real HTTP server on 127.0.0.1, in a thread, with fault injection for fetcher tests.

Routes map a path to a handler that writes the response itself, so a test can
drip bytes, stream 100 MB, send a gzip bomb or redirect forever. Every request
is recorded (:class:`Hit`) with its start time and the ``Host`` it named, and
the server tracks how many requests were in flight at once per host.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Handler = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-response is what several tests provoke: no tracebacks."""


@dataclass(frozen=True)
class Hit:
    path: str
    host: str
    headers: dict[str, str]
    started: float
    client_port: int = 0
    """The client's port: requests with one port came over one connection."""


@dataclass
class _Stats:
    hits: list[Hit] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)


class FaultServer:
    """``with FaultServer({"/feed": ok(b"<rss/>")}) as server: server.url("/feed")``."""

    def __init__(
        self, routes: dict[str, Handler] | None = None, *, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.stopping = threading.Event()
        self.sni_names: list[str | None] = []
        self._lock = threading.Lock()
        self._stats = _Stats()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        if tls is not None:
            self._server.socket = self._tls_context(*tls).wrap_socket(
                self._server.socket, server_side=True
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _tls_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.sni_names.append(name)
        return context

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._stats.hits)

    def hits_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path.split("?", 1)[0] == path]

    def max_in_flight(self, host_name: str) -> int:
        with self._lock:
            return self._stats.max_in_flight.get(host_name, 0)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between writes

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read hits, not logs."""

            def setup(self) -> None:
                # Nothing in flight until do_GET counts it: a malformed request line is
                # answered (send_error -> send_response) before do_GET ever runs.
                self._answered: Callable[[], None] = lambda: None
                super().setup()

            def do_GET(self) -> None:
                host = self.headers.get("Host", "").rsplit(":", 1)[0]
                self._answered = server._track(host)
                server._record(self, host)
                route = server.routes.get(self.path.split("?", 1)[0], not_found)
                try:
                    # A client hanging up is what several tests provoke on purpose.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        route(self)
                finally:
                    self._answered()

            def send_response(self, code: int, message: str | None = None) -> None:
                # A request is in flight until its answer starts: once the client has the
                # answer it may send its next request before this thread gets to run again.
                self._answered()
                super().send_response(code, message)

        return _Handler

    def _record(self, request: BaseHTTPRequestHandler, host: str) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        hit = Hit(request.path, host, headers, time.monotonic(), request.client_address[1])
        with self._lock:
            self._stats.hits.append(hit)

    def _track(self, host: str) -> Callable[[], None]:
        """Count a request to ``host`` in flight; the returned call ends it (once)."""
        with self._lock:
            now = self._stats.in_flight.get(host, 0) + 1
            self._stats.in_flight[host] = now
            self._stats.max_in_flight[host] = max(now, self._stats.max_in_flight.get(host, 0))
        ended = False

        def end() -> None:
            nonlocal ended
            with self._lock:
                if not ended:
                    ended = True
                    self._stats.in_flight[host] -= 1

        return end


def respond(
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    delay: float = 0.0,
) -> Handler:
    """A complete response with Content-Length, after ``delay`` seconds."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        if delay:
            time.sleep(delay)
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


def ok(
    body: bytes, content_type: str = "text/html; charset=utf-8", *, delay: float = 0.0
) -> Handler:
    return respond(200, body, {"Content-Type": content_type}, delay=delay)


def raw(data: bytes) -> Handler:
    """``data`` as it is, then the connection closes: broken or unusual HTTP on the wire."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.wfile.write(data)
        request.close_connection = True

    return handler


def not_found(request: BaseHTTPRequestHandler) -> None:
    respond(404, b"not here")(request)


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status, b"", {"Location": location})


def stream_zeros(total: int, *, announce: bool = True) -> Handler:
    """``total`` bytes of zeros in 1 MiB blocks; without ``announce``, no Content-Length
    (the body ends when the connection closes, so only the cap can stop it)."""
    block = b"\0" * (1 << 20)

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        if announce:
            request.send_header("Content-Length", str(total))
        else:
            request.send_header("Connection", "close")
            request.close_connection = True
        request.end_headers()
        left = total
        while left > 0:
            request.wfile.write(block[: min(left, len(block))])
            left -= len(block)

    return handler


def gzip_bomb(decoded_size: int, fill: bytes = b"\0") -> bytes:
    """One gzip stream that inflates to ``decoded_size`` bytes of ``fill`` (about 1000:1).

    Built 1 MiB at a time, so making it never holds the inflated size in memory.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)  # RLE: fast on runs
    block = fill * (1 << 20)
    whole, rest = divmod(decoded_size, len(block))
    parts = [packer.compress(block) for _ in range(whole)]
    parts.append(packer.compress(block[:rest]))
    parts.append(packer.flush())
    return b"".join(parts)


def drip(server: FaultServer, *, every: float, headers_first: bool = True) -> Handler:
    """Send one byte every ``every`` seconds until the server stops.

    With ``headers_first`` the status line and headers go out at once and the
    body drips; without it even the status line drips.
    """
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n"

    def handler(request: BaseHTTPRequestHandler) -> None:
        if headers_first:
            request.wfile.write(head)
            request.wfile.flush()
            payload = b"x" * 1_000_000
        else:
            payload = head
        for byte in payload:
            if server.stopping.wait(every):
                return
            request.wfile.write(bytes([byte]))
            request.wfile.flush()

    return handler
