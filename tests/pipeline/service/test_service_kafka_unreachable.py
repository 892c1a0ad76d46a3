"""``newsflow stage NAME`` and ``newsflow run`` with a wrong ``kafka.bootstrap_servers``.

What the probes of its pod see while the process spends 15 s failing to
connect (nothing listens at the address): ``/readyz`` says 503 naming the
address at once (probes time out after 1 s), ``/healthz`` does not call a
process whose loop never started alive, and a member still exits with the
connection error however many probes came meanwhile, after the whole 15 s.
SIGTERM or SIGINT during those 15 s (a rolling restart, an operator's Ctrl-C in
a broker outage) ends the process at once, exit 0, with one line saying so. No
broker needed.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml
from kafka_support import closed_port, unreachable_broker
from service_support import ServiceProcess, timed_get

BOUND_S = 3.0
"""A bound on blocking, not a speed benchmark (the client gives up connecting after 15 s)."""
EXIT_S = 30.0
"""The member exits once its own connection attempt fails: 15 s, plus start and stop."""
BOOTSTRAP_S = 15.0
"""``bootstrap_timeout_ms``: without a signal, the process waits that long for the broker."""
STOP_S = 3.0
"""A bound on the exit after a stop, not a speed benchmark (0.2-0.3 s measured; before,
the process waited out the 15 s and exited 1)."""


def probe_until_exit(member: ServiceProcess) -> None:
    """/readyz five times a second, as impatient probes and scrapes would, until it exits."""
    while member.process.poll() is None:
        timed_get(member.url + "/readyz")
        time.sleep(0.2)


def write_config(path: Path, address: str) -> Path:
    path.write_text(yaml.safe_dump({
        "transport": "kafka",
        "feeds": [],
        "storage": {"url": f"sqlite:///{path.parent / 'store.db'}"},
        "kafka": {"bootstrap_servers": [address], "topic_prefix": "unreachable"},
        "service": {"http_port": 0, "log_format": "json"},
    }), encoding="utf-8")  # fmt: skip
    return path


def assert_says_so_at_once(process: ServiceProcess, address: str, loop: str) -> None:
    status, body, took = timed_get(process.url + "/readyz")
    assert (status, took < BOUND_S) == (503, True), (status, took, body)
    assert json.loads(body)["kafka"].startswith(f"broker unreachable at {address}: ")
    status, body, took = timed_get(process.url + "/healthz")
    assert (status, took < BOUND_S) == (503, True), (status, took, body)
    assert json.loads(body)["problem"].startswith(f"loop {loop} has not started after ")


def test_a_member_that_cannot_reach_its_broker_says_so_at_once_and_exits(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    member = ServiceProcess(write_config(tmp_path / "newsflow.yaml", address), "fetch",
                            command=("stage",))  # fmt: skip
    try:
        assert_says_so_at_once(member, address, "worker")
        probing = threading.Thread(target=probe_until_exit, args=(member,), daemon=True)
        probing.start()
        code = member.wait(EXIT_S)
    finally:
        member.kill()
    assert code == 1
    assert time.monotonic() - started >= BOOTSTRAP_S, "the wait for the broker was cut short"
    assert the_one_line(member).startswith("newsflow: error: Kafka: cannot connect the admin")
    assert f"Unable to bootstrap from ['{address}']" in the_one_line(member)


def test_run_on_kafka_is_never_ready_without_the_broker(tmp_path: Path) -> None:
    """Its broker check was added once the run began: a /readyz asked in between said 200."""
    address = f"127.0.0.1:{closed_port()}"
    service = ServiceProcess(write_config(tmp_path / "newsflow.yaml", address))
    try:
        assert_says_so_at_once(service, address, "poll")
    finally:
        service.kill()


def the_one_line(process: ServiceProcess) -> str:
    """What the process said outside its JSON log: exactly one line, and no traceback."""
    log = "".join(process.stderr_lines)
    assert "Traceback" not in log, log[-4000:]
    said = [line.strip() for line in process.stderr_lines if not line.startswith("{")]
    assert len(said) == 1, said
    return said[0]


@pytest.mark.parametrize(
    ("command", "kind", "signum"),
    [
        pytest.param(("stage", "fetch"), "closed", signal.SIGTERM, id="stage-closed-SIGTERM"),
        pytest.param(("stage", "fetch"), "silent", signal.SIGTERM, id="stage-silent-SIGTERM"),
        pytest.param(("stage", "fetch"), "silent", signal.SIGINT, id="stage-silent-SIGINT"),
        pytest.param(("run",), "closed", signal.SIGTERM, id="run-closed-SIGTERM"),
        pytest.param(("run",), "silent", signal.SIGTERM, id="run-silent-SIGTERM"),
    ],
)
def test_a_stop_while_waiting_for_the_broker_ends_the_process_at_once(
    tmp_path: Path, command: tuple[str, ...], kind: str, signum: signal.Signals
) -> None:
    """The signal came ~1 s into the wait (at a silent broker, once connected): the
    process went on waiting out the 15 s, then exited 1 with the connection error."""
    with unreachable_broker(kind) as (address, silent):
        process = ServiceProcess(write_config(tmp_path / "newsflow.yaml", address),
                                 *command[1:], command=command[:1])  # fmt: skip
        try:
            if silent is not None:
                assert silent.accepted.wait(BOUND_S), "never connected to the silent broker"
            else:
                time.sleep(1.0)
            signalled = time.monotonic()
            process.process.send_signal(signum)
            code = process.wait(EXIT_S)  # not stop(): its communicate() would take stderr
            took = time.monotonic() - signalled
        finally:
            process.kill()
    assert (code, took < STOP_S) == (0, True), (code, took, process.log())
    line = the_one_line(process)
    assert line.startswith("newsflow: stopped after waiting "), line
    assert f"for the Kafka broker at {address}, which did not answer" in line
    assert "check kafka.bootstrap_servers" in line
