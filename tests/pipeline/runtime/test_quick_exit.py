"""Processes end once their exit callbacks are done, without the interpreter's teardown.

Each test runs a fresh interpreter: what is observed is how a process ends. An
object whose ``__del__`` writes a file stands for the teardown (module globals
are freed there, and only there); an exit callback registered later stands for
the work that must still run (logging's flush, multiprocessing's finalizers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

TEARDOWN_WITNESS = """
class TornDown:
    def __init__(self, path):
        self.path = path  # sys.argv itself may be gone by then

    def __del__(self, open=open):  # builtins are gone by then too
        open(self.path, "w").close()

witness = TornDown(sys.argv[1] + "/torn-down")
"""
"""A module global whose release, at the interpreter's teardown, leaves a file."""

COMMAND = (
    """
import atexit, sys
if sys.argv[3] == "callback-first":
    atexit.register(lambda: None)
import pipeline.cli
import pipeline.entry as entry
"""
    + TEARDOWN_WITNESS
    + """
atexit.register(lambda: open(sys.argv[1] + "/callback-ran", "w").close())

def command(**_):
    print("the command's output", end="")  # buffered: a pipe, no newline
    if sys.argv[2] == "crash":
        raise RuntimeError("boom")
    return int(sys.argv[2])

pipeline.cli.main = command
sys.exit(entry.main())
"""
)
"""The ``newsflow`` entry point over a stand-in command ending with status ARGV[2]."""


def run_command(tmp_path: Path, ending: str, variant: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", COMMAND, str(tmp_path), ending, variant],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_command_ends_with_its_status_after_its_exit_callbacks_without_teardown(
    tmp_path: Path,
) -> None:
    result = run_command(tmp_path, "3")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "the command's output"
    assert (tmp_path / "callback-ran").exists()
    assert not (tmp_path / "torn-down").exists()


def test_a_command_that_raises_exits_as_python_does(tmp_path: Path) -> None:
    result = run_command(tmp_path, "crash")
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    assert (tmp_path / "torn-down").exists()


def test_with_an_exit_callback_registered_before_it_the_process_exits_as_python_does(
    tmp_path: Path,
) -> None:
    """That callback (a coverage tool's, say) would run after the ending: it is not skipped."""
    result = run_command(tmp_path, "0", "callback-first")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "callback-ran").exists()
    assert (tmp_path / "torn-down").exists()


FORK_SERVER_TEARDOWN = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
from pipeline.runtime import processes

processes.PRELOAD.append("teardown_witness")
with ProcessPoolExecutor(1, mp_context=processes.worker_context()) as pool:
    server = pool.submit(__import__("os").getppid).result(timeout=120)
print(server, flush=True)
"""
"""A pool's worker names its fork server; the server imported a teardown witness."""


def test_the_fork_server_ends_without_teardown_when_its_service_is_gone(tmp_path: Path) -> None:
    (tmp_path / "teardown_witness.py").write_text("import sys\n" + TEARDOWN_WITNESS.replace(
        "sys.argv[1]", repr(str(tmp_path))
    ))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-c", FORK_SERVER_TEARDOWN],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip  # the server keeps the output open: this returns once it is gone
    assert result.returncode == 0, result.stderr
    server = int(result.stdout)
    deadline = time.monotonic() + 30  # its output closed as it exits: it is on its way out
    while _state(server) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(server) in ("gone", "Z")
    assert not (tmp_path / "torn-down").exists()
    assert result.stderr == ""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_the_fork_server_module_does_nothing_in_any_other_process() -> None:
    probe = (
        "import atexit; before = atexit._ncallbacks();"
        " import pipeline.runtime.fork_server_exit as m;"
        " print(m.is_fork_server(), atexit._ncallbacks() - before)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["False", "0"], result.stderr
