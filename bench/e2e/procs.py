"""Peak memory and CPU of a process tree, read from ``/proc`` (Linux; no psutil needed).

:func:`run_measured` starts a command and samples it and every descendant a
few times a second: each process's RSS high-water mark (``VmHWM``, kept by
the kernel, so a short peak between samples is not missed) and its CPU time.
Total CPU comes from ``getrusage(RUSAGE_CHILDREN)``, which includes every
descendant that was waited for, so processes that exit between samples
count too::

    run = run_measured([sys.executable, "-m", "pipeline.cli", "run", "--once"], env=env)
    run.wall, run.cpu, run.peak_rss_mb(), run.processes

:class:`Sampler` does the same for processes this one did not start (the
Kafka broker, the corpus server): CPU used between two readings.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36
SAMPLE_S = 0.2


@dataclass
class ProcStat:
    pid: int
    label: str
    peak_rss_kb: int = 0
    cpu_s: float = 0.0
    started: float = 0.0
    """Seconds since boot when the process started (orders siblings by age)."""


@dataclass
class MeasuredRun:
    returncode: int
    wall: float
    cpu_user: float
    cpu_system: float
    stdout: str
    stderr: str
    processes: list[ProcStat] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_system

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak RSS per process, MB, labelled (``extract#2`` for the second of a kind)."""
        out: dict[str, float] = {}
        for proc in self.processes:
            label = proc.label
            n = 2
            while label in out:
                label = f"{proc.label}#{n}"
                n += 1
            out[label] = round(proc.peak_rss_kb / 1024, 1)
        return out


def read_status_kb(pid: int, key: str) -> int:
    """One ``kB`` figure from ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (field 3 on: state, ppid, ...); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def cpu_and_start(pid: int) -> tuple[float, float] | None:
    """(user + system CPU seconds, start time in seconds since boot) of ``pid``."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[19]) / TICKS


def parent_pid(pid: int) -> int:
    fields = stat_fields(pid)
    return int(fields[1]) if fields else 0


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (scans ``/proc``; fine at a few hundred processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        ppid = parent_pid(pid)
        if ppid:
            children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    queue = [root]
    while queue:
        pid = queue.pop()
        for child in children.get(pid, []):
            out.append(child)
            queue.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def default_label(pid: int, root: int) -> str:
    if pid == root:
        return "main"
    line = cmdline(pid)
    if "resource_tracker" in line:
        return "resource_tracker"
    if "forkserver" in line and parent_pid(pid) == root:
        return "forkserver"  # the workers it forks carry its command line too
    if "multiprocessing" in line or "spawn_main" in line:
        return "child"
    return line.split(" ")[0].rsplit("/", 1)[-1] or "child"


class TreeWatcher(threading.Thread):
    """Samples a process tree until :meth:`stop`; keeps each process's last reading."""

    def __init__(self, root: int, label: Callable[[int, int], str] = default_label) -> None:
        super().__init__(daemon=True, name="tree-watcher")
        self.root = root
        self.label = label
        self.seen: dict[int, ProcStat] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(SAMPLE_S)

    def sample(self) -> None:
        for pid in [self.root, *descendants(self.root)]:
            reading = cpu_and_start(pid)
            hwm = read_status_kb(pid, "VmHWM")
            if reading is None or hwm == 0:
                continue
            stat = self.seen.get(pid)
            if stat is None:
                stat = self.seen[pid] = ProcStat(pid, self.label(pid, self.root))
            stat.cpu_s, stat.started = reading
            stat.peak_rss_kb = max(stat.peak_rss_kb, hwm)

    def stop(self) -> list[ProcStat]:
        self._halt.set()
        self.join()
        return sorted(self.seen.values(), key=lambda p: (p.started, p.pid))


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    label: Callable[[int, int], str] = default_label,
) -> MeasuredRun:
    """Run ``command`` to completion, with wall time, CPU and per-process peak memory.

    CPU is what the kernel accounts to this process's children: the command
    and every descendant reaped within the tree. A descendant the command
    leaves behind when it exits (the multiprocessing fork server, which
    outlives its parent by a moment and reaps the workers it forked) would
    escape that, so this process makes itself the orphans' reaper (Linux
    ``PR_SET_CHILD_SUBREAPER``) and waits for them too.
    """
    become_subreaper()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watcher = TreeWatcher(process.pid, label)
    watcher.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    processes = watcher.stop()
    reap_orphans([p.pid for p in processes if p.pid != process.pid])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return MeasuredRun(
        returncode=process.returncode,
        wall=wall,
        cpu_user=after.ru_utime - before.ru_utime,
        cpu_system=after.ru_stime - before.ru_stime,
        stdout=stdout,
        stderr=stderr,
        processes=processes,
    )


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process instead of init (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def reap_orphans(pids: Sequence[int], *, timeout: float = 15.0) -> None:
    """Wait for each of ``pids`` that is, or becomes, an orphan of this process.

    A pid whose process is gone was reaped by its own parent (its CPU counted
    there); one that stays someone else's child past ``timeout`` is left.
    """
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            if not Path(f"/proc/{pid}").exists():
                pending.discard(pid)
                continue
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    pending.discard(pid)
            except ChildProcessError:
                pass  # not re-parented to us (yet)
        if pending:
            time.sleep(0.02)


class Sampler:
    """CPU used by processes we did not start, between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: self._cpu(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: round(self._cpu(pid) - self._before.get(name, 0.0), 2)
            for name, pid in self.pids.items()
        }

    @staticmethod
    def _cpu(pid: int) -> float:
        total = 0.0
        for each in [pid, *descendants(pid)]:
            reading = cpu_and_start(each)
            total += reading[0] if reading else 0.0
        return total


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def kafka_broker_pid(run_dir: Path) -> int | None:
    """The local broker's pid from ``deploy/local/kafka.sh``'s pid file, if it runs."""
    try:
        pid = int((run_dir / "kafka" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
