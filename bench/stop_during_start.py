"""Time from a stop signal to exit for ``newsflow run --once`` stopped while it starts.

Runs the offline demo (``config/demo.yaml``, its feeds and mirrors, a fresh
store in a temporary directory) with the embedded default of one extraction
process per core and the HTTP endpoints on (so the worker processes' metrics
directory exists), and sends SIGTERM (or ``--signal``) a given delay after
the spawn: at 0.5-3 s the CLI is still importing, or the extraction
processes' fork server is importing their code. Each run is started in a
session of its own; at its exit every process of that session must be gone
and stderr must hold no traceback::

    python -m bench.stop_during_start --tries 20 --delays 0.5 1 1.5 2 3
    python -m bench.stop_during_start --tries 20 --from-fork-server --delays 0 0.2 0.5 1
    python -m bench.stop_during_start --kafka 127.0.0.1:19092 --from-fork-server --delays 0 0.5
    python -m bench.stop_during_start --newsflow .venv/bin/newsflow --signal SIGINT \
        --tries 10 --delays 0 0.01 0.02 0.03 0.04 0.05 0.06 0.07 0.08 0.1 0.12 0.15 0.2

``--newsflow COMMAND`` starts that command (the installed ``newsflow`` console script)
instead of ``python -m pipeline.cli``: its first ~0.05 s, before the CLI's own handlers,
are what a user's Ctrl-C right after the start meets.

``--kafka BOOTSTRAP`` runs it on Kafka (``transport: kafka``) with topic and group
names of its own per run, deleted afterwards, so a shared broker can be used.

It prints one line per run (delay, exit status, seconds from the signal to
the service's exit and to the end of its output, processes of the session
at its exit and 0.5 s after the end of its output), then the
p50 and maximum per delay and over all runs. Exit status 1 when a run left a
process, printed a traceback or exited with a status other than 0 or 1.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "config" / "demo.yaml"


@dataclass
class Run:
    delay: float
    code: int
    exited_s: float
    """Signal to the service's own exit."""
    closed_s: float
    """Signal to the end of its output: every process holding stdout/stderr is gone."""
    at_exit: list[str]
    """Processes of its session at that moment (the fork server and the resource tracker
    leave on their own once they see the service's pipes close)."""
    left: list[str]
    """Processes of its session 0.5 s after the end of its output: none may remain."""
    traceback: bool
    traceback_in: str
    """Where the traceback's innermost project or interpreter frame was (file:line), or
    ``Fatal Python error`` when it came from the interpreter's own start-up."""
    early: bool
    """Stopped before the runtime started (while the CLI imported): nothing to stop yet."""
    importing: bool
    """Whether the fork server existed, still importing (it had forked nothing), when the
    signal was sent."""


def write_config(directory: Path, kafka: str | None = None) -> Path:
    """The demo's config with absolute paths, a store in ``directory`` and default workers;
    on the Kafka broker ``kafka`` with topics and groups of its own if given."""
    config = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    for feed in config["feeds"]:
        feed["url"] = str(REPO / feed["url"])
    mirrors = config["fetch"]["local_mirrors"]
    config["fetch"]["local_mirrors"] = {url: str(REPO / path) for url, path in mirrors.items()}
    config["storage"]["url"] = f"sqlite:///{directory / 'demo.db'}"
    config.pop("extract", None)  # the default: one extraction process per core
    config["service"] = {"http_enabled": True, "http_port": 0}
    if kafka is not None:
        run_id = uuid.uuid4().hex[:10]
        config["transport"] = "kafka"
        config["kafka"] = {
            "bootstrap_servers": [kafka], "topic_prefix": f"t{run_id}",
            "group_prefix": f"g{run_id}", "partitions": 2,
        }  # fmt: skip
    path = directory / "newsflow.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _processes(session: int) -> list[tuple[int, int, str]]:
    """``(pid, parent pid, command)`` of every live process in ``session``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append((int(stat.parent.name), int(fields[1]), command.decode(errors="replace")))
    return found


def session_processes(session: int) -> list[str]:
    """``pid command`` of every process still in ``session``."""
    return [f"{pid} {command[:100]}" for pid, _, command in _processes(session)]


def fork_server(session: int) -> tuple[int | None, int]:
    """The fork server's pid in ``session`` (None before it exists), and how many processes
    it has forked and still runs (none while it imports)."""
    processes = _processes(session)
    server = next((pid for pid, _, cmd in processes if "multiprocessing.forkserver" in cmd), None)
    return server, sum(parent == server for _, parent, _ in processes)


def wait_for_fork_server(process: subprocess.Popen[str], timeout: float = 60) -> bool:
    """Until the service has started its fork server; False if it exited first."""
    deadline = time.monotonic() + timeout
    while fork_server(process.pid)[0] is None:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def delete_topics(config_file: Path) -> None:
    """The Kafka run's topics, gone from the (shared) broker."""
    from connectors.kafka.clients import make_admin
    from pipeline.config import load_config

    kafka = load_config(config_file).kafka
    admin = make_admin(kafka)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"{kafka.topic_prefix}.")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def traceback_place(text: str) -> str:
    """Where a traceback in ``text`` was raised: its innermost frame outside the standard
    library and importlib (the code of the project or a dependency), else its last."""
    if "Fatal Python error" in text:
        return "Fatal Python error (interpreter start-up)"
    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    stdlib = sysconfig.get_paths()["stdlib"]
    ours = [(f, n) for f, n in frames if not f.startswith((stdlib, "<"))]
    file, line = (ours or frames or [("?", "?")])[-1]
    return f"{Path(file).parent.name}/{Path(file).name}:{line}"


def newsflow_command(newsflow: str | None) -> list[str]:
    """The command ``newsflow`` (a console script), or else the CLI's module."""
    return [newsflow] if newsflow else [sys.executable, "-m", "pipeline.cli"]


def run_once(
    delay: float,
    signum: signal.Signals,
    *,
    from_fork_server: bool,
    kafka: str | None = None,
    newsflow: str | None = None,
) -> Run:
    with tempfile.TemporaryDirectory(prefix="stop-during-start-") as tmp:
        config = write_config(Path(tmp), kafka)
        process = subprocess.Popen(
            [*newsflow_command(newsflow), "--config", str(config), "run", "--once"],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        output: list[str] = []
        readers = [
            threading.Thread(target=lambda s=stream: output.append(s.read()))  # type: ignore[misc]
            for stream in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        if from_fork_server:
            wait_for_fork_server(process)
        time.sleep(delay)
        server, forked = fork_server(process.pid)
        sent = time.monotonic()
        process.send_signal(signum)
        code = process.wait(timeout=120)
        exited = time.monotonic() - sent
        at_exit = session_processes(process.pid)
        for reader in readers:
            reader.join(timeout=120)
        closed = time.monotonic() - sent
        time.sleep(0.5)
        left = session_processes(process.pid)
        for line in left:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        text = "".join(output)
        early = "while starting; nothing was started" in text
        importing = server is not None and forked == 0
        traceback = "Traceback" in text
        if kafka is not None:
            delete_topics(config)
        where = traceback_place(text) if traceback else ""
        return Run(delay, code, exited, closed, at_exit, left, traceback, where, early, importing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.5, 1.5, 2.5, 3.0, 3.5, 4.5])
    parser.add_argument("--signal", default="SIGTERM", choices=["SIGTERM", "SIGINT"])
    parser.add_argument(
        "--from-fork-server", action="store_true",
        help="count each delay from the fork server's start, not from the spawn",
    )  # fmt: skip
    parser.add_argument(
        "--kafka", metavar="BOOTSTRAP",
        help="run on this Kafka broker (topics and groups of each run's own, deleted after)",
    )  # fmt: skip
    parser.add_argument(
        "--newsflow", metavar="COMMAND",
        help="start this newsflow command (.venv/bin/newsflow), not python -m pipeline.cli",
    )  # fmt: skip
    args = parser.parse_args(argv)
    signum = signal.Signals[args.signal]
    # Started in the background of a shell (``&``), this process ignores SIGINT, and so
    # would every newsflow it starts: a SIGINT sent would measure nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runs: list[Run] = []
    for attempt in range(args.tries):
        for delay in args.delays:
            run = run_once(
                delay, signum, from_fork_server=args.from_fork_server, kafka=args.kafka,
                newsflow=args.newsflow,
            )  # fmt: skip
            runs.append(run)
            print(
                f"try {attempt:2d} delay {delay:.3f} s: exit {run.code:3d}"
                f"  exited {run.exited_s:5.2f} s  output closed {run.closed_s:5.2f} s"
                f"  at exit {len(run.at_exit)}  left {run.left or '-'}"
                f"{'  (fork server importing)' if run.importing else ''}"
                f"{f'  TRACEBACK in {run.traceback_in}' if run.traceback else ''}"
                f"{'  (before the runtime)' if run.early else ''}",
                flush=True,
            )
    print()
    for delay in [*args.delays, None]:
        chosen = [r for r in runs if delay is None or r.delay == delay]
        exited = [r.exited_s for r in chosen]
        closed = [r.closed_s for r in chosen]
        codes = sorted({r.code for r in chosen})
        label = "all" if delay is None else f"{delay:.3f} s"
        print(
            f"{label:>7}: n={len(chosen)} exit p50 {statistics.median(exited):.2f} s"
            f" max {max(exited):.2f} s; output closed p50 {statistics.median(closed):.2f} s"
            f" max {max(closed):.2f} s; exit codes {codes};"
            f" runs with processes at exit {sum(bool(r.at_exit) for r in chosen)},"
            f" left {sum(bool(r.left) for r in chosen)};"
            f" tracebacks {sum(r.traceback for r in chosen)};"
            f" stopped before the runtime {sum(r.early for r in chosen)};"
            f" signalled while the fork server imported {sum(r.importing for r in chosen)}"
        )
    bad = [r for r in runs if r.left or r.traceback or r.code not in (0, 1)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
