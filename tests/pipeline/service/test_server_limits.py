"""The HTTP endpoint against hostile or broken clients, over real sockets: bounded
connections and threads, a deadline per connection, idle connections giving way to
new clients, a counter and a few log lines."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from pipeline.service.server import LEADING_BLANK_LINES, HttpServer, Response

CAP = 8
TIMEOUT = 1.0


@pytest.fixture
def stuck() -> Iterator[threading.Event]:
    """Set to let the requests to ``/stuck`` answer (a route that hangs, as a check can)."""
    release = threading.Event()
    yield release
    release.set()


@pytest.fixture
def server(stuck: threading.Event) -> Iterator[HttpServer]:
    def hang() -> Response:
        stuck.wait(TIMEOUT * 10)
        return Response.text("late")

    running = HttpServer(
        "127.0.0.1", 0, {"/hello": lambda: Response.text("hi"), "/stuck": hang},
        max_connections=CAP, request_timeout=TIMEOUT,
    )  # fmt: skip
    running.start()
    yield running
    running.close()


def rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value("newsflow_http_requests_rejected_total", {"reason": reason})
    return value or 0.0


def connect(server: HttpServer, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_all(conn: socket.socket) -> bytes:
    """Everything until the server closes (a timeout raises: the server kept it open)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def get(server: HttpServer, path: str = "/hello") -> bytes:
    with connect(server) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        return read_all(conn)


def http_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("Thread-"))


def busy(server: HttpServer, count: int) -> list[socket.socket]:
    """``count`` connections whose requests are being served (``/stuck`` hangs)."""
    conns = [connect(server) for _ in range(count)]
    for conn in conns:
        conn.sendall(b"GET /stuck HTTP/1.0\r\n\r\n")
    time.sleep(0.3)  # their heads read
    return conns


def test_clients_beyond_busy_slots_get_a_503_without_a_thread(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """1,100 idle connections took a thread and a descriptor each, until the process hit
    its limit of 1,024 and fetching and the store failed with 'Too many open files'."""
    before_threads, before_count = http_threads(), rejected("connection_limit")
    served = busy(server, CAP)
    extra = [connect(server) for _ in range(3 * CAP)]
    try:
        for conn in extra:
            answer = read_all(conn)
            assert answer.startswith(b"HTTP/1.0 503 "), answer
            assert answer.endswith(b"\r\n\r\ntoo many clients"), answer
        assert http_threads() - before_threads <= CAP
        assert rejected("connection_limit") - before_count == 3 * CAP
    finally:
        for conn in served + extra:
            conn.close()
    lines = [r for r in caplog.records if getattr(r, "event", None) == "http_rejected"]
    assert len(lines) == 1, "one line per reason and minute, not one per client"
    assert getattr(lines[0], "reason", None) == "connection_limit"
    assert "service.http_max_connections" in lines[0].getMessage()


def test_idle_clients_holding_every_slot_give_way_to_a_probe(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever held every slot with connections that send nothing (reopening each one cut)
    made every /healthz a 503 until they stopped: Kubernetes restarts such a pod. A new
    client takes the slot of the oldest connection without a request; the threads stay
    bounded, and a connection whose request is in is not cut for it."""
    before_threads, before_count = http_threads(), rejected("evicted")
    served = busy(server, 2)
    idle = [connect(server) for _ in range(CAP - 2)]
    newer = [connect(server) for _ in range(3 * CAP)]
    try:
        for conn in idle + newer[: -(CAP - 2)]:
            assert read_all(conn) == b"", "cut without an answer, oldest first"
        started = time.monotonic()
        assert get(server).endswith(b"\r\n\r\nhi")
        assert time.monotonic() - started < 0.5
        deadline = time.monotonic() + 2  # the threads of the cut connections end
        while http_threads() - before_threads > CAP and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http_threads() - before_threads <= CAP
        assert rejected("evicted") - before_count == 3 * CAP + 1
        for conn in served:
            conn.settimeout(0.1)
            with pytest.raises(TimeoutError):
                conn.recv(1)  # still being served
    finally:
        for conn in served + idle + newer:
            conn.close()
    lines = [r for r in caplog.records if getattr(r, "event", None) == "http_rejected"]
    assert [getattr(line, "reason", None) for line in lines] == ["evicted"]


def test_a_silent_client_and_a_dripping_client_are_cut_at_the_deadline(
    server: HttpServer,
) -> None:
    """Without a deadline either held its thread forever; a per-read timeout alone would
    not cut the client that sends a byte before each read times out."""
    before = rejected("timeout")
    silent = connect(server)
    dripping = connect(server)
    started = time.monotonic()
    dripping.sendall(b"GET /hello HTTP/1.1\r\n")
    try:
        for _ in range(20):  # a header byte every 0.2 s: 4 s if nothing cuts it
            time.sleep(0.2)
            dripping.sendall(b"X")
    except OSError:
        pass  # cut: the server closed its end
    assert time.monotonic() - started < TIMEOUT + 2
    assert read_all(silent) == b""  # closed without an answer
    assert time.monotonic() - started < TIMEOUT + 2
    silent.close()
    dripping.close()
    assert rejected("timeout") - before == 2
    assert get(server).endswith(b"\r\n\r\nhi"), "the slots are free again"


def test_the_endpoint_serves_again_once_busy_clients_are_cut(server: HttpServer) -> None:
    served = busy(server, CAP)
    try:
        assert get(server).startswith(b"HTTP/1.0 503 ")
        time.sleep(TIMEOUT + 1)
        assert get(server).endswith(b"\r\n\r\nhi")
    finally:
        for conn in served:
            conn.close()


def test_malformed_requests_are_one_clean_4xx_each_and_counted(
    server: HttpServer, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.service.server")
    before = rejected("bad_request")
    cases = {
        b"GET /" + b"a" * 1_000_000 + b" HTTP/1.1\r\n\r\n": b"414",
        b"GET /hello HTTP/1.1\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n": b"431",
        b"GET /hello HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n": b"431",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n": b"400",  # TLS hello
        b"GET /hello HTTP/9.9\r\n\r\n": b"505",
        b"PUT /hello HTTP/1.1\r\n\r\n": b"405",
        b"OPTIONS * HTTP/1.1\r\n\r\n": b"405",
        b"FROB /hello HTTP/1.1\r\n\r\n": b"501",
        b"\r\n" * (LEADING_BLANK_LINES + 1): b"400",  # blank lines only: closed, no answer
        b" \t\r\n": b"400",
    }
    for request, status in cases.items():
        with connect(server) as conn:
            with contextlib.suppress(OSError):  # answered and closed before reading it all
                conn.sendall(request)
            answer = read_all(conn)
        assert answer.split(b" ", 2)[1] == status, (status, answer[:200])
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"\r\nContent-Type: text/plain; charset=utf-8\r\n" in head, head
        assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head, head
        assert body.startswith(status + b" "), body
    assert rejected("bad_request") - before == len(cases)
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(
    "blank",
    [b"\r\n", b"\n", b"\r\n\n" * (LEADING_BLANK_LINES // 2)],
    ids=["crlf", "lf", "at-the-bound"],
)
def test_empty_lines_before_the_request_line_are_ignored(server: HttpServer, blank: bytes) -> None:
    """RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before the
    request line (a client may send a CRLF after a request's body); it got a 400."""
    with connect(server) as conn:
        conn.sendall(blank + b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.0 200 ") and answer.endswith(b"\r\n\r\nhi"), answer


def test_blank_lines_alone_are_a_400_at_once_past_the_bound_and_idle_below_it(
    server: HttpServer,
) -> None:
    """Blank lines are ignored a few at a time: one more is a 400 at once, not a connection
    held until its deadline; and one that sent fewer and nothing else has sent no request,
    so a new client takes its slot when every one is taken."""
    with connect(server) as conn:
        started = time.monotonic()
        conn.sendall(b"\r\n" * (LEADING_BLANK_LINES + 1))
        assert read_all(conn).startswith(b"HTTP/1.0 400 ")
        assert time.monotonic() - started < TIMEOUT / 2
    before = rejected("evicted")
    blank = [connect(server) for _ in range(CAP)]
    try:
        for conn in blank:
            conn.sendall(b"\r\n" * LEADING_BLANK_LINES)
        time.sleep(0.2)  # read and ignored
        assert get(server).endswith(b"\r\n\r\nhi")
        assert rejected("evicted") - before == 1
        assert read_all(blank[0]) == b"", "the oldest cut for it, without an answer"
    finally:
        for conn in blank:
            conn.close()


def unread_body() -> bytes:
    """An answer larger than the most a socket's send buffer grows to (``tcp_wmem``'s
    maximum): its client's not reading it leaves the server's write blocked."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as limits:
        most = int(limits.read().split()[2])
    return b"x" * (2 * most + 1)


def slow_reader(server: HttpServer, path: str) -> socket.socket:
    """A connection that asks for ``path`` and reads nothing: a tiny receive window and
    Ethernet's segment size (loopback's 64 KB ones give the server a send buffer of 4 MB)."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
    conn.settimeout(5)
    conn.connect(("127.0.0.1", server.port))
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return conn


@pytest.mark.skipif(not os.path.exists("/proc/sys/net/ipv4/tcp_wmem"), reason="Linux")
def test_clients_not_reading_their_answers_give_way_to_a_probe(
    stuck: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    """Clients asking for a large answer (/metrics, the status page) and never reading it
    held every slot until their deadline (10 s, and again on reopening), and every probe
    got a 503. A new client takes the slot of the one whose answer has waited longest,
    before that of a connection without a request; a slot waiting for its route is kept."""
    big = Response.text(unread_body().decode())

    def hang() -> Response:
        stuck.wait(10)
        return Response.text("late")

    routes = {"/big": lambda: big, "/hello": lambda: Response.text("hi"), "/stuck": hang}
    running = HttpServer("127.0.0.1", 0, routes, max_connections=CAP, request_timeout=10)
    running.start()
    before_threads = http_threads()
    before = {reason: rejected(reason) for reason in ("slow_reader", "evicted")}
    served = busy(running, 1)
    readers = [slow_reader(running, "/big") for _ in range(CAP - 1)]
    idle: list[socket.socket] = []
    try:
        time.sleep(0.5)  # their answers written as far as the buffers take them
        for _ in range(2):
            started = time.monotonic()
            assert get(running).endswith(b"\r\n\r\nhi")
            assert time.monotonic() - started < 0.5
            idle.append(connect(running))  # the slot taken again, without a request
        assert rejected("slow_reader") - before["slow_reader"] == 2
        assert rejected("evicted") == before["evicted"], "the idle one is cut after them"
        assert http_threads() - before_threads <= CAP
        served[0].settimeout(0.1)
        with pytest.raises(TimeoutError):
            served[0].recv(1)  # still waiting for its route
    finally:
        stuck.set()
        for conn in [*served, *readers, *idle]:
            conn.close()
        running.close()
    lines = [r for r in caplog.records if getattr(r, "event", None) == "http_rejected"]
    assert [getattr(line, "reason", None) for line in lines] == ["slow_reader"]
    assert "read" in lines[0].getMessage()
    assert not [r for r in caplog.records if getattr(r, "event", None) == "http_error"]


class Descriptors:
    """Fills what is left of this process's descriptors (as a pipeline leaking files, or many
    fetches at once, would), under a lowered limit, and gives them back."""

    def __init__(self) -> None:
        self.held: list[int] = []

    def fill(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(os.open(os.devnull, os.O_RDONLY))

    def release(self) -> None:
        while self.held:
            os.close(self.held.pop())


@pytest.fixture
def descriptors() -> Iterator[Descriptors]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 64, hard))
    held = Descriptors()
    try:
        yield held
    finally:
        held.release()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


CLIENT = """
import socket, sys
port = int(sys.stdin.readline())
with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
    conn.sendall(b"GET /hello HTTP/1.0\\r\\n\\r\\n")
    print("connected", flush=True)
    answer = b""
    while chunk := conn.recv(4096):
        answer += chunk
sys.stdout.write(answer.decode())
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_out_of_descriptors_the_accept_loop_pauses_instead_of_spinning(
    server: HttpServer, descriptors: Descriptors
) -> None:
    """With no descriptor left, accept fails but the listening socket stays readable: the
    loop retried at once, a full core while the pipeline needed it most."""
    before = rejected("fd_limit")
    client = subprocess.Popen(  # started first: it needs pipes, i.e. descriptors
        [sys.executable, "-c", CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdin is not None
    descriptors.fill()
    client.stdin.write(f"{server.port}\n")
    client.stdin.flush()
    assert client.stdout is not None
    assert client.stdout.readline() == "connected\n"  # and the server cannot accept it
    time.sleep(0.1)
    cpu_before = time.process_time()
    time.sleep(1.0)
    spent = time.process_time() - cpu_before
    descriptors.release()
    answer, _ = client.communicate(timeout=10)
    assert spent < 0.3, f"{spent:.2f} s of CPU in 1 s while out of descriptors"
    assert rejected("fd_limit") - before >= 1
    assert answer.startswith("HTTP/1.0 200 ") and answer.endswith("hi"), answer
