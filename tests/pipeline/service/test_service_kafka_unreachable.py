"""``newsflow stage NAME`` and ``newsflow run`` with a wrong ``kafka.bootstrap_servers``.

What the probes of its pod see while the process spends 15 s failing to
connect (nothing listens at the address): ``/readyz`` says 503 naming the
address at once (probes time out after 1 s), ``/healthz`` does not call a
process whose loop never started alive, and a member still exits with the
connection error however many probes came meanwhile. No broker needed.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import yaml
from kafka_support import closed_port
from service_support import ServiceProcess, timed_get

BOUND_S = 3.0
"""A bound on blocking, not a speed benchmark (the client gives up connecting after 15 s)."""
EXIT_S = 30.0
"""The member exits once its own connection attempt fails: 15 s, plus start and stop."""


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
    assert f"Unable to bootstrap from ['{address}']" in member.log()


def test_run_on_kafka_is_never_ready_without_the_broker(tmp_path: Path) -> None:
    """Its broker check was added once the run began: a /readyz asked in between said 200."""
    address = f"127.0.0.1:{closed_port()}"
    service = ServiceProcess(write_config(tmp_path / "newsflow.yaml", address))
    try:
        assert_says_so_at_once(service, address, "poll")
    finally:
        service.kill()
