"""kill -9 of ``newsflow run``: no process it started outlives it.

The service starts a fork server, the multiprocessing resource tracker and
the extraction processes (forked by the fork server, so not its children).
When it is killed with SIGKILL nothing of it runs any more to stop them:
they must notice on their own, within seconds, or they stay forever with
PPID 1, holding the database open (each restart adds ~450 MB of them).
Nor may what the service shared with them stay behind: the named semaphores of
its queues (which the resource tracker reported as ``leaked semaphore objects``)
and its ``/tmp/pymp-*`` directory.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from service_support import FeedSite, ServiceProcess, query_store, wait_until, write_config

from pipeline.topology import WORKERS

GONE_WITHIN_S = 10.0
SESSION_TIMEOUT_MS = 10_000


def _parent_of(pid: int) -> int | None:
    """The PPID of ``pid`` from /proc (None if it is gone); the command may hold spaces."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> set[int]:
    """Every live process below ``root``: its children, theirs, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is dead: it only waits for its parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def forked_workers(service: int) -> set[int]:
    """The processes the fork server forked for the service (its workers)."""
    below = descendants(service)
    servers = {p for p in below if "multiprocessing.forkserver" in _command_of(p)}
    return {p for p in below if _parent_of(p) in servers}


def _gone_after_kill_9(service: ServiceProcess, started: set[int]) -> float:
    """Kill the service with SIGKILL; seconds until every process of ``started`` is gone."""
    os.kill(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=10)
    killed = time.monotonic()
    deadline = killed + GONE_WITHIN_S
    while time.monotonic() < deadline and any(alive(p) for p in started):
        time.sleep(0.05)
    left = {p: _command_of(p)[:80] for p in started if alive(p)}
    assert not left, f"still running {GONE_WITHIN_S} s after kill -9: {left}"
    return time.monotonic() - killed


def _nothing_left_behind(service: ServiceProcess, temp: Path) -> None:
    """Once every process of the killed service is gone: the resource tracker (the last)
    found no semaphore leaked, and ``temp``, the service's ``TMPDIR``, holds no
    multiprocessing directory."""
    service.wait(timeout=10)  # its output read to the end
    leaked = [line for line in service.stderr_lines if "leaked" in line]
    assert not leaked, leaked
    assert not list(temp.glob("pymp-*")), list(temp.iterdir())


def _check_nothing_outlives(
    service: ServiceProcess, workers: int, ready: Callable[[], bool] = lambda: True
) -> float:
    """Once ``workers`` processes are forked and ``ready``: kill -9, and every descendant
    goes; the seconds that took."""
    started: set[int] = set()
    try:
        pid = service.process.pid
        wait_until(lambda: len(forked_workers(pid)) == workers, 60, f"{workers} workers")
        wait_until(ready, 60, "the service to be ready")
        started = descendants(pid)
        assert len(started) >= workers + 2, started  # with the fork server, resource tracker
        took = _gone_after_kill_9(service, started)
        print(f"every process of the service gone {took:.2f} s after kill -9")
        return took
    finally:
        service.kill()
        _kill_left_behind(started)


def private_temp(tmp_path: Path) -> dict[str, str]:
    """A ``TMPDIR`` of the test's own, so that what is left in it is the service's."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    return {"TMPDIR": str(temp)}


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@needs_proc
def test_kill_9_of_the_service_leaves_no_process_of_it_running(
    site: FeedSite, tmp_path: Path
) -> None:
    config, db = tmp_path / "newsflow.yaml", tmp_path / "news.db"
    write_config(config, site, db, extract={"workers": 2})
    site.slow_down_pages(0.2)  # the demo's pages take seconds: killed in the middle of them
    stored = lambda: bool(query_store(db, "SELECT id FROM articles"))  # noqa: E731
    service = ServiceProcess(config, env=private_temp(tmp_path))
    _check_nothing_outlives(service, workers=2, ready=stored)
    _nothing_left_behind(service, tmp_path / "tmp")


@needs_proc
@pytest.mark.kafka
def test_kill_9_of_the_service_on_kafka_leaves_no_worker_running(
    site: FeedSite, tmp_path: Path, kafka_env: Any
) -> None:
    """Every worker is a process of its own there: fetch, 2 extraction, dedup, store.

    They stop as on SIGTERM: each leaves its group, so a restarted service gets
    the partitions at once, not after ``kafka.session_timeout_ms`` (10 s, the
    default, not the 3 s of the other Kafka tests: a member that did not leave
    would still be listed when this looks).
    """
    config, db = tmp_path / "newsflow.yaml", tmp_path / "news.db"
    kafka = {**kafka_env.raw["kafka"], "session_timeout_ms": SESSION_TIMEOUT_MS}
    write_config(config, site, db, transport="kafka", kafka=kafka, extract={"workers": 2})
    site.slow_down_pages(0.2)
    service = ServiceProcess(config, env=private_temp(tmp_path))
    joined = lambda: all(kafka_env.group_members(w.name) for w in WORKERS)  # noqa: E731
    took = _check_nothing_outlives(service, workers=len(WORKERS) + 1, ready=joined)
    _nothing_left_behind(service, tmp_path / "tmp")
    left = lambda: all(kafka_env.group_members(w.name) == {} for w in WORKERS)  # noqa: E731
    wait_until(left, 3, "every worker's group to have no member")
    assert took < 5


def _kill_left_behind(pids: set[int]) -> None:
    """Kill what a failed run left behind, so that it does not pile up over test runs."""
    for pid in pids:
        if alive(pid) and "multiprocessing" in _command_of(pid):
            os.kill(pid, signal.SIGKILL)
