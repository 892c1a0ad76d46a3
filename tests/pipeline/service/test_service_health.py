"""Liveness, readiness and the HTTP server that reports them (no service process needed)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.runtime.processes import worker_context
from pipeline.service.health import Health
from pipeline.service.server import HttpServer, Response
from pipeline.service.store_health import ArticleWrites, WorkerArticleWrites


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_loop_that_stops_beating_makes_the_process_not_live() -> None:
    clock = Clock()
    health = Health(liveness_timeout=60, clock=clock)
    assert health.liveness().ok, "alive while starting, before any beat"
    health.beat("poll")
    clock.now += 59
    assert health.liveness().ok
    clock.now += 2
    report = health.liveness()
    assert not report.ok
    assert report.details["problem"] == "loop poll has not moved for 61 s"
    health.beat("poll")
    assert health.liveness().ok


def test_a_loop_that_ended_on_purpose_is_not_judged() -> None:
    clock = Clock()
    health = Health(liveness_timeout=10, clock=clock)
    health.beat("poll")
    health.forget("poll")
    clock.now += 100
    assert health.liveness().ok


def test_an_expected_loop_is_not_live_until_its_first_beat() -> None:
    """A Kafka member whose worker loop never started (its broker unreachable) answered
    /healthz ok with no loop at all for the 15-34 s until it exited."""
    clock = Clock()
    health = Health(liveness_timeout=60, clock=clock)
    health.expect("worker")
    clock.now += 3
    report = health.liveness()
    assert not report.ok
    assert report.details["problem"] == "loop worker has not started after 3 s"
    assert report.details["loops"] == {"worker": {"started": False, "seconds_waiting": 3.0}}
    health.beat("worker")
    assert health.liveness().ok
    assert health.liveness().details["loops"] == {"worker": {"seconds_since_beat": 0.0}}
    health.expect("worker")
    assert health.liveness().ok, "a loop that already beat is judged by its beats"


def test_an_expected_loop_ended_on_purpose_is_not_judged() -> None:
    health = Health(liveness_timeout=60)
    health.expect("poll")
    health.forget("poll")
    assert health.liveness().ok


def test_readiness_names_each_failing_check_and_survives_one_that_raises() -> None:
    health = Health(liveness_timeout=60)
    health.add_check("store", lambda: None)
    assert health.readiness().ok
    health.add_check("kafka", lambda: "broker unreachable")

    def broken() -> str | None:
        raise RuntimeError("boom")

    health.add_check("partitions", broken)
    health.add_slow_check("group", broken)  # raising as it begins its look
    report = health.readiness()
    assert not report.ok
    assert report.details == {
        "store": "ok",
        "kafka": "broker unreachable",
        "partitions": "RuntimeError: boom",
        "group": "RuntimeError: boom",
    }


def test_article_writes_a_worker_process_records_are_this_process_s_readiness() -> None:
    """``newsflow run`` on Kafka: the store worker is a child process. An error longer than
    the shared memory is cut (at a byte inside a character here), not the worker's end."""
    article_writes = ArticleWrites()
    context = worker_context()
    in_workers = article_writes.in_workers(context)
    error = "x" + "\u00e9" * WorkerArticleWrites.ERROR_BYTES  # two bytes each

    def record_in_a_worker(told: str | None) -> None:
        worker = context.Process(target=in_workers.record, args=(told,))
        worker.start()
        worker.join(30)
        assert worker.exitcode == 0

    record_in_a_worker(error)
    cut = error[: WorkerArticleWrites.ERROR_BYTES // 2]
    assert article_writes.check() == f"article writes fail: {cut}"
    record_in_a_worker(None)
    assert article_writes.check() is None


def _die_holding_the_lock(shared: object) -> None:
    """A worker killed in the middle of telling its write: whatever lock it held stays held."""
    lock = getattr(shared, "get_lock", None)
    if lock is not None:
        lock().acquire()
    os._exit(1)


def test_article_writes_answer_after_a_worker_died_while_telling_one() -> None:
    """Readiness reads the store worker's last write on the request thread, and a restarted
    store worker tells its own: neither may wait on a lock a killed worker held."""
    article_writes = ArticleWrites()
    context = worker_context()
    in_workers = article_writes.in_workers(context)
    worker = context.Process(target=_die_holding_the_lock, args=(in_workers._error,))
    worker.start()
    worker.join(30)
    answered = threading.Thread(
        target=lambda: (in_workers.record("e"), article_writes.check()), daemon=True
    )
    answered.start()
    answered.join(5)
    assert not answered.is_alive(), "waited on the dead worker's lock"
    assert article_writes.check() == "article writes fail: e"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    def fails() -> Response:
        raise ValueError("bad state")

    def slow() -> Response:
        time.sleep(0.2)
        return Response.text("late")

    routes = {
        "/hello": lambda: Response.text("hi"),
        "/data": lambda: Response.json({"ok": False, "title": "<b>x</b>"}, status=503),
        "/fails": fails,
        "/big": lambda: Response.text("x" * 500_000),
        "/bad-header": lambda: Response(200, "text/plain", b"ok", {"X-Name": "\u20ac"}),
        "/slow": slow,
    }
    running = HttpServer("127.0.0.1", 0, routes)
    running.start()
    yield running
    running.close()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_server_answers_routes_with_safe_headers(server: HttpServer) -> None:
    assert server.port != 0, "port 0 binds a free port and reports it"
    status, headers, body = _get(server.url + "/hello?x=1")
    assert (status, body) == (200, b"hi")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    status, headers, body = _get(server.url + "/data")
    assert status == 503 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["title"] == "<b>x</b>"
    assert _get(server.url + "/missing")[0] == 404


def test_the_server_header_is_the_name_alone(server: HttpServer) -> None:
    """It was 'newsflow ' with a trailing space (server_version + ' ' + an empty sys_version);
    read raw, since a client may strip the space."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(b"HEAD /hello HTTP/1.0\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
            head += chunk
    assert b"\r\nServer: newsflow\r\n" in head, head


def test_a_failing_route_is_a_500_and_the_server_keeps_serving(server: HttpServer) -> None:
    status, _, body = _get(server.url + "/fails")
    assert status == 500 and body == b"internal error: ValueError\n"
    assert _get(server.url + "/hello")[0] == 200


def test_other_methods_are_refused(server: HttpServer) -> None:
    request = urllib.request.Request(server.url + "/hello", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405
    assert refused.value.headers["Allow"] == "GET, HEAD"


def test_a_port_in_use_is_one_config_error_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as error:
            HttpServer("127.0.0.1", port, {}).start()
    (problem,) = error.value.problems
    assert problem.startswith(f"service.http_host/http_port: cannot listen on 127.0.0.1:{port}")


def hang_up_early(url_port: int, request: bytes, *, reset: bool) -> None:
    """Send ``request`` and go away: with a TCP reset (SO_LINGER 0) or a plain close."""
    client = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    client.sendall(request)
    if reset:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def record_handler_threads(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> list[threading.Thread]:
    """The threads serving ``server``'s connections from now on, each added as it starts."""
    assert server._server is not None
    started: list[threading.Thread] = []
    serve = server._server.process_request_thread

    def recorded(request: Any, client_address: Any) -> None:
        started.append(threading.current_thread())
        serve(request, client_address)

    monkeypatch.setattr(server._server, "process_request_thread", recorded)
    return started


def wait_until_served(started: list[threading.Thread], count: int, timeout: float = 10) -> None:
    """Until ``count`` connections were taken and each one's thread has ended: all it prints,
    a traceback included, is printed then (a traceback of a thread that raises is printed
    by threading's excepthook before the thread ends). A fixed sleep instead ends
    whether or not a late traceback came yet, or a connection was even taken."""
    deadline = time.monotonic() + timeout
    while len(started) < count:
        assert time.monotonic() < deadline, f"{len(started)} of {count} connections taken"
        time.sleep(0.01)
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), "a connection is still being served"


def test_a_client_going_away_is_a_debug_line_not_a_traceback(
    server: HttpServer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """socketserver printed a multi-line traceback on stderr for every client that hung up
    before its answer was written, breaking the one-JSON-object-per-line log."""
    caplog.set_level(logging.DEBUG, logger="pipeline.service.server")
    served = record_handler_threads(server, monkeypatch)
    for _ in range(3):
        hang_up_early(server.port, b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n", reset=True)
        hang_up_early(server.port, b"GET /big HTTP/1.1\r\n", reset=False)
    wait_until_served(served, 6)  # they write (and fail) after the client left
    assert _get(server.url + "/hello")[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert gone and all(r.levelno == logging.DEBUG for r in gone)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_any_other_request_error_is_one_warning_line(
    server: HttpServer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = record_handler_threads(server, monkeypatch)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(server.url + "/bad-header")  # the header cannot be encoded: no answer at all
    wait_until_served(served, 1)
    assert "Traceback" not in capfd.readouterr().err
    (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert getattr(line, "event", None) == "http_error" and line.exc_info is None
    assert "UnicodeEncodeError" in line.getMessage()
    assert "\n" not in line.getMessage()
    assert _get(server.url + "/hello")[0] == 200


def test_the_server_listens_with_a_backlog_for_many_clients(server: HttpServer) -> None:
    """A backlog of 5 dropped SYNs under 100 concurrent clients: 5 % timed out after 31 s."""
    assert server._server is not None
    assert server._server.request_queue_size >= 128
    if shutil.which("ss"):  # what the kernel was told: Send-Q of a listening socket
        listing = subprocess.run(
            ["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert int(listing[2]) >= 128, listing


def test_concurrent_clients_are_answered_at_once_not_one_after_another(
    server: HttpServer,
) -> None:
    """50 clients of a route taking 0.2 s: 10 s one after another, well under 5 s in threads."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: _get(server.url + "/slow"), range(50)))
    assert [status for status, _, _ in answers] == [200] * 50
    assert time.monotonic() - started < 5
