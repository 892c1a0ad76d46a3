"""The HTTP endpoint against DNS rebinding, over real sockets: bound to a loopback address
it answers only to loopback names (and ``service.http_allowed_hosts``), so a web page in
the operator's browser that rebinds its own name to 127.0.0.1 cannot read the status."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from pipeline.config import Config
from pipeline.service.endpoints import ServiceEndpoints
from pipeline.service.server import SECURITY_HEADERS, HttpServer, Response

Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def server(calls: list[str]) -> Iterator[HttpServer]:
    def secret() -> Response:
        calls.append("x")
        return Response.text("s")

    running = HttpServer("127.0.0.1", 0, {"/secret": secret})
    running.start()
    yield running
    running.close()


def ask(port: int, *headers: str, method: str = "GET", path: str = "/secret") -> Answer:
    """``method path`` with exactly these header lines (no Host unless given); HTTP/1.0
    without any, as an old client sends it."""
    version = "HTTP/1.1" if headers else "HTTP/1.0"
    lines = [f"{method} {path} {version}", *headers, "Connection: close", "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed = dict(field.split(": ", 1) for field in fields)
    return int(status_line.split()[1]), parsed, body


def rejected() -> float:
    labels = {"reason": "bad_host"}
    return REGISTRY.get_sample_value("newsflow_http_requests_rejected_total", labels) or 0.0


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:{port}", "LocalHost:{port}", "localhost.", "127.0.0.1",
     "127.0.0.1:{port}", "127.8.9.10:{port}", "[::1]", "[::1]:{port}",
     "newsflow.localhost", "newsflow.localhost:{port}", "A.b.LOCALHOST.:{port}",
     "[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]:{port}", "[::FFFF:7f00:1]:{port}"],
)  # fmt: skip
def test_loopback_names_are_answered(server: HttpServer, calls: list[str], host: str) -> None:
    """``*.localhost`` is loopback (RFC 6761; browsers resolve it so themselves, so a page
    cannot rebind it) and ``::ffff:127.0.0.1`` is 127.0.0.1: both got a 421 before."""
    status, _, body = ask(server.port, f"Host: {host.format(port=server.port)}")
    assert (status, body, calls) == (200, b"s", ["x"])


def test_a_request_without_host_is_answered(server: HttpServer) -> None:
    """HTTP/1.0 has no Host (and HTTP/1.1 may send it empty); a browser always sends one,
    so this is no way in."""
    assert ask(server.port)[0] == 200
    assert ask(server.port, "Host:")[0] == 200


@pytest.mark.parametrize(
    "host",
    ["attacker.example:{port}", "attacker.example", "localhost.attacker.example:{port}",
     "127.0.0.1.attacker.example", "10.0.0.1:{port}", "[::2]:{port}", "local host",
     "localhost:{port}/x", "newsflow.localhost.attacker.example", "attackerlocalhost",
     ".localhost:{port}", "a..localhost", "[::ffff:10.0.0.1]:{port}", "[::ffff:7f00]"],
)  # fmt: skip
def test_any_other_host_gets_a_421_without_the_route_running(
    server: HttpServer, calls: list[str], host: str
) -> None:
    """Before, a page on attacker.example rebound to 127.0.0.1 got the route's answer."""
    before = rejected()

    status, headers, body = ask(server.port, f"Host: {host.format(port=server.port)}")

    assert status == 421, body
    assert body == b"this endpoint answers only to localhost or service.http_allowed_hosts\n"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert {name: headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert calls == []
    assert rejected() - before == 1


def test_rejections_are_counted_each_and_logged_once(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.service.server")
    before = rejected()
    for method in ("GET", "HEAD", "GET"):
        status, _, body = ask(server.port, "Host: attacker.example", method=method)
        assert status == 421
        assert (body == b"") == (method == "HEAD")
    assert rejected() - before == 3
    # one line: each server limits its own lines (a fresh one here), so the first is logged
    (line,) = [r for r in caplog.records if getattr(r, "reason", None) == "bad_host"]
    assert "'attacker.example'" in line.getMessage()


def test_two_host_headers_get_a_421(server: HttpServer, calls: list[str]) -> None:
    assert ask(server.port, "Host: localhost", "Host: attacker.example")[0] == 421
    assert calls == []


def test_allowed_hosts_are_answered_besides_localhost(calls: list[str]) -> None:
    """A reverse proxy that passes its public name on (nginx ``proxy_set_header Host``)."""
    routes = {"/secret": lambda: Response.text("s")}
    running = HttpServer("127.0.0.1", 0, routes, allowed_hosts=["newsflow.example"])
    running.start()
    try:
        assert ask(running.port, "Host: newsflow.example:443")[0] == 200
        assert ask(running.port, "Host: NewsFlow.Example")[0] == 200
        assert ask(running.port, "Host: localhost")[0] == 200
        assert ask(running.port, "Host: attacker.example")[0] == 421
    finally:
        running.close()


@pytest.mark.parametrize(("allowed", "answered"), [([], 200), (["newsflow.example"], 421)])
def test_bound_to_every_address_the_host_is_checked_only_with_a_list(
    allowed: list[str], answered: int
) -> None:
    """In a container (0.0.0.0) Kubernetes probes send the pod's IP as Host."""
    running = HttpServer(
        "0.0.0.0", 0, {"/secret": lambda: Response.text("s")}, allowed_hosts=allowed
    )
    running.start()
    try:
        assert ask(running.port, "Host: 10.1.2.3:8088")[0] == answered
        assert ask(running.port, "Host: localhost")[0] == 200
    finally:
        running.close()


def test_the_service_status_is_not_served_to_a_rebound_page() -> None:
    """The service's own endpoint, set up from its config: the default binds 127.0.0.1."""
    config = Config.model_validate({"service": {"http_port": 0}})
    with ServiceEndpoints(config, role="test", store=False) as endpoints:
        assert endpoints.server is not None
        port = endpoints.server.port
        for path in ("/api/status", "/metrics", "/", "/healthz"):
            assert ask(port, "Host: attacker.example", path=path)[0] == 421, path
            assert ask(port, f"Host: 127.0.0.1:{port}", path=path)[0] in (200, 503), path


def test_the_config_takes_host_names_only() -> None:
    config = Config.model_validate({"service": {"http_allowed_hosts": ["A.Example.", "[::1]"]}})
    assert config.service.http_allowed_hosts == ["a.example", "::1"]
    for entry in ("https://a.example", "a.example:8088", "a example", "ab:80"):
        with pytest.raises(ValueError, match="is not a host name or IP address"):
            Config.model_validate({"service": {"http_allowed_hosts": [entry]}})


def test_the_config_reads_hosts_as_urls_do() -> None:
    """Before, ``Bücher.example`` was kept as ``bücher.example`` (never what a browser
    sends), ``127.1`` and ``[0:0::1]`` as written, and ``*.a.example`` refused as a name."""
    entries = ["Bücher.Example.", "127.1", "[0:0::1]", "0:0::1", "0x7f.1", " a_b.example "]
    config = Config.model_validate({"service": {"http_allowed_hosts": entries}})
    assert config.service.http_allowed_hosts == [
        "xn--bcher-kva.example", "127.0.0.1", "::1", "::1", "127.0.0.1", "a_b.example"
    ]  # fmt: skip


def test_each_bad_entry_is_one_error_naming_it() -> None:
    entries = ["ok.example", "*.a.example", "-a.example", "a..example", "256.1.1.1.1", "[::1"]
    with pytest.raises(ValidationError) as caught:
        Config.model_validate({"service": {"http_allowed_hosts": entries}})
    errors = caught.value.errors()
    assert [e["loc"][-1] for e in errors] == [1, 2, 3, 4, 5]
    for error, entry in zip(errors, entries[1:], strict=True):
        assert repr(entry) in error["msg"]
        assert "is not a host name or IP address" in error["msg"]


@pytest.mark.parametrize(
    "host",
    ["xn--bcher-kva.example", "XN--BCHER-KVA.example.:{port}", "127.0.0.1:{port}",
     "[::1]:{port}", "[0:0::1]"],
)  # fmt: skip
def test_allowed_hosts_match_what_clients_send(host: str) -> None:
    """Bound to every address (so loopback alone is not answered without the list)."""
    config = Config.model_validate(
        {"service": {"http_allowed_hosts": ["Bücher.example", "127.1", "0:0::1"]}}
    )
    routes = {"/secret": lambda: Response.text("s")}
    allowed = config.service.http_allowed_hosts
    running = HttpServer("0.0.0.0", 0, routes, allowed_hosts=allowed)
    running.start()
    try:
        assert ask(running.port, f"Host: {host.format(port=running.port)}")[0] == 200
        assert ask(running.port, "Host: b.example")[0] == 421
    finally:
        running.close()


@pytest.mark.parametrize(
    "host", ["127.1:{port}", "0x7f.1", "[0:0::1]:{port}", "2130706433", "localhost.:{port}"]
)
def test_loopback_in_any_spelling_is_answered(server: HttpServer, host: str) -> None:
    """Read as a URL's host is: ``127.1`` is 127.0.0.1 (a 421 before)."""
    assert ask(server.port, f"Host: {host.format(port=server.port)}")[0] == 200


@pytest.mark.parametrize(
    "host", ["user@localhost", "localhost:80:80", "localhost:x", "[::1]x", "[::1", "a b"]
)
def test_a_host_that_is_not_one_gets_a_421(server: HttpServer, host: str) -> None:
    assert ask(server.port, f"Host: {host}")[0] == 421
