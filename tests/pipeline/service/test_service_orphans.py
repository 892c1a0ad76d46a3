"""kill -9 of ``newsflow run``: no process it started outlives it.

The service starts a fork server, the multiprocessing resource tracker and
the extraction processes (forked by the fork server, so not its children).
When it is killed with SIGKILL nothing of it runs any more to stop them:
they must notice on their own, within seconds, or they stay forever with
PPID 1, holding the database open (each restart adds ~450 MB of them).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import FeedSite, ServiceProcess, wait_until, write_config

GONE_WITHIN_S = 10.0


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FeedSite]:
    served = FeedSite(tmp_path / "site")
    yield served
    served.close()


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


def extraction_processes(service: int) -> set[int]:
    """The processes the fork server forked for the service (its extraction workers)."""
    below = descendants(service)
    servers = {p for p in below if "multiprocessing.forkserver" in _command_of(p)}
    return {p for p in below if _parent_of(p) in servers}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_kill_9_of_the_service_leaves_no_process_of_it_running(
    site: FeedSite, tmp_path: Path
) -> None:
    config, db = tmp_path / "newsflow.yaml", tmp_path / "news.db"
    write_config(config, site, db, extract={"workers": 2})
    site.slow_down_pages(0.2)  # still extracting when it is killed
    service = ServiceProcess(config)
    started: set[int] = set()
    try:
        pid = service.process.pid
        wait_until(lambda: len(extraction_processes(pid)) == 2, 60, "2 extraction processes")
        started = descendants(pid)
        assert len(started) >= 4, started  # fork server, resource tracker, 2 workers

        os.kill(pid, signal.SIGKILL)
        service.process.wait(timeout=10)
        killed = time.monotonic()
        deadline = killed + GONE_WITHIN_S
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(0.05)
        left = {p: _command_of(p)[:80] for p in started if alive(p)}
        took = time.monotonic() - killed
        assert not left, f"still running {GONE_WITHIN_S} s after kill -9: {left}"
        print(f"every process of the service gone {took:.2f} s after kill -9")
    finally:
        service.kill()
        _kill_left_behind(started)


def _kill_left_behind(pids: set[int]) -> None:
    """Kill what a failed run left behind, so that it does not pile up over test runs."""
    for pid in pids:
        if alive(pid) and "multiprocessing" in _command_of(pid):
            os.kill(pid, signal.SIGKILL)
