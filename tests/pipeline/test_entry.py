"""The ``newsflow`` command's entry point holds a stop that comes while the CLI imports.

Each test starts the entry point named in ``pyproject.toml`` the way the console
script does, but pauses right after importing its module, where the CLI's and the
command's imports take their ~0.05-1 s, and sends the signal there. The entry
module is only ever imported in a subprocess: imported here, it would hold this
pytest's own Ctrl-C.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "scripts"
]["newsflow"]
"""``module:function``, as the console script ``newsflow`` runs it."""

PAUSED_START = """
import importlib, sys, time
from pathlib import Path
module, _, function = sys.argv[1].partition(":")
paused, go = Path(sys.argv[2]), Path(sys.argv[3])
sys.argv = ["newsflow", *sys.argv[4:]]
entry = importlib.import_module(module)
paused.touch()
while not go.exists():
    time.sleep(0.005)
sys.exit(getattr(entry, function)())
"""
"""The console script's ``from MODULE import FUNCTION; sys.exit(FUNCTION())``, paused in
between until the file ``go`` exists."""

STARTING = "newsflow: stopped by {} while starting; nothing was started"


def signalled_while_importing(
    tmp_path: Path, signum: signal.Signals, *args: str
) -> subprocess.CompletedProcess[str]:
    """``newsflow ARGS`` sent ``signum`` between its entry module's import and the rest."""
    paused, go = tmp_path / "paused", tmp_path / "go"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSED_START, ENTRY_POINT, str(paused), str(go), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not paused.exists():
            assert process.poll() is None and time.monotonic() < deadline, "never paused"
            time.sleep(0.005)
        process.send_signal(signum)
        time.sleep(0.05)  # the signal has landed before the start goes on
        go.touch()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_before_the_cli_is_imported_stops_run_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C there printed a KeyboardInterrupt traceback (exit -2), SIGTERM killed the
    process (-15); now the stop is held and ``run`` stops before starting anything."""
    db = tmp_path / "news.db"
    config = tmp_path / "newsflow.yaml"
    config.write_text(
        "feeds:\n  - {name: demo, url: demo/feeds/worldwire-rss.xml}\n"
        f"storage:\n  url: sqlite:///{db}\n",
        encoding="utf-8",
    )
    done = signalled_while_importing(tmp_path, signum, "--config", str(config), "run")
    assert (done.returncode, done.stderr.splitlines()) == (0, [STARTING.format(signum.name)])
    assert done.stdout == "" and not db.exists()


def test_a_ctrl_c_before_the_cli_is_imported_ends_another_command_without_a_traceback(
    tmp_path: Path,
) -> None:
    """A command that does not stop gracefully gets the held Ctrl-C as Python's own:
    exit 130, as for one while it runs, not a traceback; the command does not run."""
    config = tmp_path / "newsflow.yaml"
    config.write_text(
        f"feeds: []\nstorage:\n  url: sqlite:///{tmp_path / 'news.db'}\n", encoding="utf-8"
    )
    done = signalled_while_importing(tmp_path, signal.SIGINT, "--config", str(config), "export")
    assert (done.returncode, done.stderr, done.stdout) == (130, "", "")
