"""Worker processes come from a fork server that has already imported their code."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pipeline.runtime.processes import worker_context

REPO = Path(__file__).resolve().parents[3]

# Evaluated in a worker: how many language models its process has loaded, without loading
# one (KeyError if the fork server never imported the extraction code).
MODELS_LOADED = (
    "__import__('sys').modules['pipeline.extraction.metadata']._identifier.cache_info().currsize"
)


def test_a_worker_starts_with_the_code_imported_and_the_language_model_loaded() -> None:
    context = worker_context()
    assert context.get_start_method() == "forkserver"
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        assert pool.submit(eval, MODELS_LOADED).result(timeout=120) == 1


# Run in a fresh interpreter (the fork server is one per process): a ForkServerStart closed
# at several moments of its start, while its fork server imports a module that sleeps 30 s.
CLOSE_WHILE_IMPORTING = """
import os, sys, time
from pathlib import Path
from pipeline.runtime import processes

processes.PRELOAD.append("slow_fork_server")

def fork_servers():
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"forkserver" in command:
            found.append(int(stat.parent.name))
    return found

on_time = processes._wait_until_forking

def late(context):
    time.sleep(0.05)  # the start's thread gets the CPU late (a loaded machine)
    on_time(context)

for wait in (on_time, late):
    processes._wait_until_forking = wait
    for pause in (0, 0.001, 0.005, 0.02, 0.1, 0.5):
        starting = processes.ForkServerStart(processes.worker_context())
        starting.when_forking(lambda: print("forked", flush=True))
        time.sleep(pause)
        began = time.monotonic()
        starting.close()
        print(pause, time.monotonic() - began, fork_servers(), flush=True)
"""


def test_a_close_while_the_fork_server_imports_ends_every_server_at_once(tmp_path: Path) -> None:
    """A stop while the fork server imports (seconds on a loaded machine; 30 s here) must
    not wait for it, and no server may outlive the stop. Closed before the start's thread
    asks for its probe process (that thread late, as on a loaded machine), the standard
    library starts a new server for the probe, having found the first one dead: killing
    only the first left the second to import on past the service's exit."""
    (tmp_path / "slow_fork_server.py").write_text("import time\n\ntime.sleep(30)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_IMPORTING],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 12 and "forked" not in result.stdout, result.stdout
    for line in lines:
        _, took, servers = line.split(" ", 2)
        assert float(took) < 1.0, line
        assert servers == "[]", f"a fork server outlived the close: {line}"


# Run in a session of its own (Ctrl-C reaches the whole process group): a Ctrl-C right
# after the fork server is spawned, while it imports, as a user's could come.
CTRL_C_WHILE_SPAWNING = """
import os, signal, sys
from multiprocessing import util
from pipeline.runtime import processes

came = []
signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
spawn = util.spawnv_passfds

def spawn_then_ctrl_c(path, args, passfds):
    pid = spawn(path, args, passfds)
    if any("forkserver" in os.fsdecode(arg) for arg in args):
        os.killpg(0, signal.SIGINT)
    return pid

util.spawnv_passfds = spawn_then_ctrl_c
context = processes.worker_context()
processes.start_fork_server(context)
print("ctrl-c seen", len(came), flush=True)
worker = context.Process(target=print, args=("worker ran",))
worker.start()
worker.join(120)
print("worker exit", worker.exitcode, flush=True)
server = processes.forkserver._forkserver._forkserver_pid
status = dict(line.split(":\\t", 1) for line in open(f"/proc/{server}/status").read().splitlines())
print("server ignores", bool(int(status["SigIgn"], 16) & (1 << (signal.SIGINT - 1))), flush=True)
print("server blocks", bool(int(status["SigBlk"], 16) & (1 << (signal.SIGINT - 1))), flush=True)
"""


def test_a_ctrl_c_while_the_fork_server_is_spawned_reaches_the_service_and_spares_the_server() -> (
    None
):
    """The millisecond the server is spawned in used to ignore Ctrl-C in the service too:
    a stop asked for then was lost. It must reach the service's handler once, and the
    server, still importing, must survive it and end up ignoring SIGINT, not blocking it
    (its workers would inherit a blocked SIGINT)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_SPAWNING],
        env=env, capture_output=True, text=True, timeout=180, start_new_session=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ctrl-c seen 1",
        "worker ran",
        "worker exit 0",
        "server ignores True",
        "server blocks False",
    ], result.stdout + result.stderr
