"""The process's HTTP endpoint: a small threaded server from the standard library.

It serves a fixed table of GET routes (path -> handler returning a
:class:`Response`) from a daemon thread, so it never keeps the process alive
and never blocks the pipeline. Every response carries headers that keep a
browser from interpreting data as code (``nosniff``, a strict
Content-Security-Policy: the status page loads its script and style from
this server only, and nothing inline).

Clients cannot take what the pipeline in the same process needs: at most
``max_connections`` are served at once (one thread each), and a connection is
cut ``request_timeout`` seconds after it was accepted, whether it sends
nothing, drips its request or does not read the answer. A client that comes
while every slot is taken takes the slot of the connection whose answer has
waited longest for its client to read it, else of the oldest connection that has
not yet sent a complete request head (cut for it); only when every slot is waiting
for its route does it get a 503 at once, without a thread. Without that, anyone
holding ``max_connections`` idle connections, or asking for ``/metrics`` and not
reading it (reopening each one cut), made every liveness and readiness probe a
503, and Kubernetes restarts a pod whose liveness probe fails. Without these,
1,100 idle connections took a thread and a file descriptor each until the process
hit its limit of 1,024: feeds failed with "Too many open files", SQLite could not
open the store and the accept loop spun at a full core. Each refusal counts in
``newsflow_http_requests_rejected_total`` by ``reason`` and is logged once per
:data:`REJECTION_LOG_SECONDS` per reason, not once per client.

Bound to a loopback address (the default ``127.0.0.1``), it answers only requests
whose ``Host`` is a loopback name (``localhost``, ``*.localhost``, ``127.x.x.x``,
``[::1]``, ``[::ffff:127.x.x.x]``, any port) or one of ``allowed_hosts``; any other gets
a 421. Otherwise a web page the
operator visits could rebind its own name to 127.0.0.1 (DNS rebinding) and read
``/api/status`` (feed URLs, errors, article titles) as same-origin. Bound to any other
address (``0.0.0.0`` in a container, where probes send the pod's IP) the ``Host``
is checked only when ``allowed_hosts`` is given. A request without ``Host``
(HTTP/1.0) is answered: a browser always sends one::

    server = HttpServer("127.0.0.1", 0, {"/healthz": lambda: Response.text("ok")})
    server.start()
    server.url            # http://127.0.0.1:PORT  (port 0 = a free one)
    server.close()
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter

from pipeline.errors import ConfigError
from pipeline.hosts import header_host
from pipeline.logs import OncePer

log = logging.getLogger(__name__)

REJECTED = Counter(
    "newsflow_http_requests_rejected_total",
    "Connections to the HTTP endpoint refused or cut, by reason: connection_limit (over"
    " service.http_max_connections, every slot waiting for its route), slow_reader (its"
    " client did not read its answer when every slot was taken: the one waiting longest"
    " is cut for a new client), evicted (had sent no complete request when every slot was"
    " taken and no answer was waiting: the oldest such is cut for a new client), timeout"
    " (past service.http_request_timeout_seconds),"
    " fd_limit (the process is out of file descriptors), bad_request (not HTTP, too long,"
    " an unsupported method), bad_host (a Host header this endpoint does not answer to:"
    " DNS rebinding; see service.http_allowed_hosts).",
    ["reason"],
)
REJECTION_LOG_SECONDS = 60.0
"""At most one warning per reason this often; the counter has every one."""
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_REQUEST_TIMEOUT = 10.0
EVICTED = {
    "slow_reader": "the one whose answer has waited longest for its client to read it",
    "evicted": "the oldest without a complete request",
}
"""Which connection is cut for a new client when every slot is taken, by reason, in the
order they are looked for."""
FD_LIMIT_PAUSE = 0.1
"""Seconds the accept loop waits after the process ran out of file descriptors: the
listening socket stays readable, so without a pause the loop retried at a full core."""
LEADING_BLANK_LINES = 4
"""Empty lines ignored before a request line (RFC 9112 section 2.2: at least one); one
more is a 400."""
REFUSED_METHODS = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT")
"""Methods of HTTP that no route takes: answered 405, not 501 (which says the server does
not know the method at all)."""
OVERLOADED = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 16\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many clients"
)

LOOPBACK_NAMES = frozenset({"localhost"})
MISDIRECTED = "this endpoint answers only to localhost or service.http_allowed_hosts\n"

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


def reused(route: Route, seconds: float, clock: Callable[[], float] = time.monotonic) -> Route:
    """``route`` computed at most once per ``seconds``; requests meanwhile get its last answer,
    and requests arriving while it computes wait for that computation instead of starting
    their own. 50 clients scraping ``/metrics`` in a loop rendered it 70 times a second
    (6 ms of CPU each, under the GIL the pipeline's threads need) and made a ``run --once``
    three times slower; now a storm costs one render per ``seconds``. A failure is not kept."""
    lock = threading.Lock()
    last: list[tuple[float, Response]] = []

    def answer() -> Response:
        with lock:
            if last and clock() - last[0][0] < seconds:
                return last[0][1]
            started = clock()
            response = route()
            last[:] = [(started, response)]
            return response

    return answer


class HttpServer:
    """A ThreadingHTTPServer on ``host:port`` serving ``routes`` from a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: Mapping[str, Route],
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self.max_connections = max_connections
        self.request_timeout = request_timeout
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; a port in use is a :class:`ConfigError` naming the setting."""
        try:
            server = _Server(
                (self.host, self.port), _handler_for(self.routes),
                max_connections=self.max_connections, request_timeout=self.request_timeout,
            )  # fmt: skip
        except OSError as exc:
            raise ConfigError(
                [
                    f"service.http_host/http_port: cannot listen on {self.host}:{self.port}: "
                    f"{exc.strerror or exc}"
                ]
            ) from None
        server.daemon_threads = True
        if _is_loopback(str(server.server_address[0])) or self.allowed_hosts:
            server.answered_hosts = LOOPBACK_NAMES | self.allowed_hosts
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
    """One thread per connection (``ThreadingHTTPServer``) up to ``max_connections`` (at the
    cap, a newcomer takes the slot of the longest unread answer, else of the oldest
    without a request head), each cut ``request_timeout`` seconds after its accept, a
    listen backlog of :data:`LISTEN_BACKLOG`; reports a failed request as one log line
    instead of socketserver's traceback on stderr, which would break the
    one-JSON-object-per-line log."""

    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        max_connections: int,
        request_timeout: float,
    ) -> None:
        self.max_connections = max_connections
        self.request_timeout = request_timeout
        self.rejections = _Rejections()
        self.answered_hosts: frozenset[str] | None = None
        """The ``Host`` names (beside loopback addresses) answered; None: any."""
        self._open: dict[socket.socket, float] = {}
        """Connections being served, and when each is to be cut (monotonic seconds)."""
        self._headless: dict[socket.socket, None] = {}
        """The connections of :attr:`_open` whose request head has not arrived, oldest first."""
        self._unread: dict[socket.socket, None] = {}
        """The connections of :attr:`_open` whose answer waits for its client to read it
        (more than the socket's buffer takes), oldest first."""
        self._open_lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept; out of file descriptors, count it and pause before the loop tries again."""
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                self.rejections.note("fd_limit", "the process is out of file descriptors")
                time.sleep(FD_LIMIT_PAUSE)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection while fewer than ``max_connections`` are served, or
        in the slot of one not reading its answer or without a complete request head (cut
        for it, see :meth:`_evict`: such connections holding every slot made every probe a
        503); else a 503 written at once (a fresh socket's buffer takes it without
        blocking)."""
        with self._open_lock:
            evicted = self._evict() if len(self._open) >= self.max_connections else None
            admitted = len(self._open) < self.max_connections
            if admitted:
                self._open[request] = time.monotonic() + self.request_timeout
                self._headless[request] = None
        if evicted:
            self.rejections.note(
                evicted,
                f"{self.max_connections} connections open (service.http_max_connections):"
                f" {EVICTED[evicted]} cut for a new client",
            )
        if admitted:
            super().process_request(request, client_address)
            return
        self.rejections.note(
            "connection_limit",
            f"{self.max_connections} connections open (service.http_max_connections)",
        )
        try:
            request.setblocking(False)
            request.send(OVERLOADED)
        except OSError:
            pass  # the client is gone or not reading: closing is all that is left
        self.shutdown_request(request)

    def _evict(self) -> str | None:
        """Under the lock: cut the connection whose answer has waited longest for its client
        to read it, else the oldest without a complete request head (its thread returns
        from its write or read and closes it); the reason, None when every connection is
        waiting for its route. No grace before an unread answer may be cut: with one (1 s,
        0.25 s), an attacker opening connections faster than the grace freed slots took
        every freed slot first, and the probes were 503 or cut before their request
        arrived. A client that reads is not in :attr:`_unread` at all (see :meth:`unread`)."""
        conn, reason = next(iter(self._unread), None), "slow_reader"
        if conn is None:
            conn, reason = next(iter(self._headless), None), "evicted"
        if conn is None:
            return None
        self._forget(conn)
        with contextlib.suppress(OSError):  # already reset by the client
            conn.shutdown(socket.SHUT_RDWR)
        return reason

    def _forget(self, conn: socket.socket) -> None:
        """Under the lock: ``conn`` is no longer served (closed, or cut once)."""
        self._open.pop(conn, None)
        self._headless.pop(conn, None)
        self._unread.pop(conn, None)

    @contextlib.contextmanager
    def unread(self, request: socket.socket) -> Iterator[None]:
        """Meanwhile the rest of the answer to ``request`` waits for its client to read
        what the socket's buffer holds: the connection is cut when a newcomer needs its
        slot (see :meth:`_evict`). Clients asking for a large answer (``/metrics``, the
        status page) and never reading it held every slot for ``request_timeout``, and
        every probe got a 503."""
        with self._open_lock:
            if request in self._open:  # not cut meanwhile
                self._unread[request] = None
        try:
            yield
        finally:
            with self._open_lock:
                self._unread.pop(request, None)

    def head_read(self, request: socket.socket) -> None:
        """The connection's request head arrived (or was refused): it is served, not cut
        for a newcomer."""
        with self._open_lock:
            self._headless.pop(request, None)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection before it is closed, under the lock the sweep cuts with,
        so the sweep never shuts down a descriptor number that was closed and reused."""
        with self._open_lock:
            self._forget(request)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Cut the connections past their deadline (from the accept loop, every poll)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(1.0, self.request_timeout / 4)
        with self._open_lock:
            late = [conn for conn, deadline in self._open.items() if deadline <= now]
            for conn in late:
                self._forget(conn)  # cut once; its thread closes it
                with contextlib.suppress(OSError):  # already reset by the client
                    conn.shutdown(socket.SHUT_RDWR)  # a blocked read or write returns at once
        for _ in late:
            self.rejections.note(
                "timeout",
                f"no complete request and answer within {self.request_timeout:g} s"
                " (service.http_request_timeout_seconds)",
            )

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


class _Rejections(OncePer):
    """Counts refused clients by reason, and logs each reason at most once per
    :data:`REJECTION_LOG_SECONDS` with how many there were since its last line: a
    slowloris of thousands of connections is a few lines, not thousands."""

    def __init__(self, interval: float = REJECTION_LOG_SECONDS) -> None:
        super().__init__(interval)

    def note(self, reason: str, why: str) -> None:
        REJECTED.labels(reason).inc()
        held = self.admit(reason)
        if held is None:
            return
        count = held + 1
        log.warning(
            "http: %d client(s) refused or cut (%s): %s; next line for this in %g s at least",
            count, reason, why, self.interval,
            extra={"event": "http_rejected", "reason": reason, "count": count},
        )  # fmt: skip


def host_answered(header: str | None, answered: frozenset[str]) -> bool:
    """Whether a request with this ``Host`` header is answered: always without one (HTTP/1.0);
    else when its name (read by :func:`~pipeline.hosts.header_host`, as the config's entries
    are, without the port) is a loopback address, ends in ``.localhost`` or is in
    ``answered``. A value that is not a host at all is not answered."""
    if not header:
        return True
    name = header_host(header)
    if name is None:
        return False
    return name in answered or _is_loopback(name) or _is_localhost_subdomain(name)


def _is_loopback(address: str) -> bool:
    """``address`` is a loopback IP address (``127.x.x.x``, ``::1``, and ``::ffff:127.x.x.x``:
    IPv4-mapped, which Python before 3.13 does not call loopback)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def _is_localhost_subdomain(name: str) -> bool:
    """``name`` is ``LABEL.localhost`` (any depth, no empty label): loopback by RFC 6761,
    and browsers resolve such names to loopback themselves, without asking DNS, so a web
    page cannot rebind one to its own server (``localhost.attacker.example`` stays refused)."""
    labels = name.split(".")
    return len(labels) > 1 and labels[-1] == "localhost" and all(labels)


def _client(address: Any) -> str:
    """``host:port`` of a client address tuple (IPv4 or IPv6)."""
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _handler_for(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "newsflow"
        default_request_version = "HTTP/1.0"
        """What an unparsable request line is answered in. The default, HTTP/0.9, answered
        it with a bare HTML body: no status line, no headers."""
        error_content_type = "text/plain; charset=utf-8"
        error_message_format = "%(code)d %(message)s\n"
        _sending_error = False
        _blank_lines = 0
        raw_requestline: bytes  # set by handle_one_request()

        def version_string(self) -> str:
            """``Server: newsflow``: the default appends ``" " + sys_version`` (the Python
            version), which left a trailing space even with ``sys_version`` empty."""
            return self.server_version

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def parse_request(self) -> bool:
            """The parser's, after up to :data:`LEADING_BLANK_LINES` empty lines (RFC 9112
            section 2.2: a server SHOULD ignore at least one before the request line; it
            got a 400), and a 400 for a blank request line past those: the parser returned
            without any answer, so a request of blank lines alone had its connection closed
            on it. Either way the request head is in: the connection is no longer cut for a
            newcomer (see :meth:`_Server.process_request`); an ignored blank line is not
            a head, so a connection sending only those still is."""
            if self._skip_blank_line():
                return False
            parsed = super().parse_request()
            if isinstance(self.server, _Server):
                self.server.head_read(self.connection)
            if parsed:
                return True
            if not self.requestline.split():
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad request: no request line")
            return False

        def _skip_blank_line(self) -> bool:
            """The line read is an empty one (CRLF or LF) within the bound: ``handle()``
            reads the next as the request line. Counted per request, so the bound holds
            for a connection sending nothing else."""
            if self.raw_requestline not in (b"\r\n", b"\n"):
                self._blank_lines = 0
                return False
            if self._blank_lines >= LEADING_BLANK_LINES:
                return False
            self._blank_lines += 1
            self.close_connection = False
            return True

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """Only the request parser calls this (a route's answer is a :class:`Response`):
            the request was not HTTP, too long, or of a method not served."""
            rejections = getattr(self.server, "rejections", None)
            if isinstance(rejections, _Rejections):
                rejections.note("bad_request", f"{code} {message or HTTPStatus(code).phrase}")
            self._sending_error = True
            super().send_error(code, message, explain)

        def end_headers(self) -> None:
            """An error the parser answers carries the security headers too."""
            if self._sending_error:
                for name, value in SECURITY_HEADERS.items():
                    self.send_header(name, value)
                if self.command in REFUSED_METHODS:
                    self.send_header("Allow", "GET, HEAD")
            super().end_headers()

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _refuse_method(self) -> None:
            """405 with ``Allow``: the method exists, no route takes it. An unknown method
            stays the parser's 501."""
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method
        do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

        def _answer(self, *, send_body: bool) -> None:
            route = routes.get(urlsplit(self.path).path)
            if not self._host_answered():
                response = Response.text(MISDIRECTED, HTTPStatus.MISDIRECTED_REQUEST)
            elif route is None:
                response = Response.text("not found\n", HTTPStatus.NOT_FOUND)
            else:
                response = _call(route, self.path)
            self.send_response(response.status)
            headers = {**SECURITY_HEADERS, **response.headers}
            headers["Content-Type"] = response.content_type
            headers["Content-Length"] = str(len(response.body))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()  # a fresh connection's buffer takes the head
            if send_body:
                self._write(response.body)

        def _write(self, body: bytes) -> None:
            """``body``: what the socket's buffer takes at once (all of it, to a client that
            reads), then the rest as the client reads it, while the connection may be cut
            for a newcomer (see :meth:`_Server.unread`)."""
            try:
                sent = self.connection.send(body, socket.MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            if sent == len(body):
                return
            unread: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if isinstance(self.server, _Server):
                unread = self.server.unread(self.connection)
            with unread:
                self.wfile.write(memoryview(body)[sent:])

        def _host_answered(self) -> bool:
            """The request's ``Host`` is one this server answers to; else counted as
            ``bad_host`` (its value in the log line, quoted: the client chose it)."""
            answered = getattr(self.server, "answered_hosts", None)
            if answered is None:
                return True
            hosts = self.headers.get_all("Host") or []
            if len(hosts) <= 1 and host_answered(hosts[0] if hosts else None, answered):
                return True
            rejections = getattr(self.server, "rejections", None)
            if isinstance(rejections, _Rejections):
                shown = ", ".join(repr(h[:100]) for h in hosts)
                rejections.note(
                    "bad_host",
                    f"Host {shown} is not localhost nor in service.http_allowed_hosts"
                    " (a web page using DNS rebinding, or a name to add to that list)",
                )
            return False

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler


def _call(route: Route, path: str) -> Response:
    try:
        return route()
    except Exception as exc:  # one bad request must not take the endpoint down
        log.warning("http %s failed: %s", path, exc, extra={"event": "http_error"}, exc_info=True)
        return Response.text(f"internal error: {type(exc).__name__}\n", 500)
