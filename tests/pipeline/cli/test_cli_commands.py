"""``newsflow``'s command table: every command answers ``--help``, and a command imports
only its own code (``newsflow search`` must not pay for trafilatura and the broker client)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli

HEAVY = ("trafilatura", "kafka", "pipeline.runtime.wiring")


def modules_loaded_by(argv: list[str]) -> tuple[int, str, list[str]]:
    """Exit status, output and the modules imported by ``newsflow ARGV``, in a fresh
    interpreter (this test process has imported everything already)."""
    script = (
        "import json, sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        f"    status = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        "print(json.dumps([status, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    status, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return status, done.stdout, modules


def test_the_command_list_names_every_command_and_imports_none() -> None:
    status, out, modules = modules_loaded_by(["--help"])
    assert status == 0
    for name, command in cli.COMMANDS.items():
        assert name in out and command.summary.split()[0] in out
    assert [m for m in modules if m.startswith("pipeline.cli.")] == []
    assert [m for m in modules if m.startswith(HEAVY)] == []


def test_a_command_imports_its_own_module_only() -> None:
    status, out, modules = modules_loaded_by(["search", "--help"])
    assert status == 0
    assert "full-text search over stored articles" in out  # its summary, as description
    assert {m for m in modules if m.startswith("pipeline.cli.")} == {
        "pipeline.cli.common", "pipeline.cli.search",
    }  # fmt: skip
    assert [m for m in modules if m.startswith(HEAVY)] == []


def test_the_store_commands_import_neither_the_dedup_nor_the_extraction(tmp_path: Path) -> None:
    """``store migrate|status`` list every component's migrations, and did so through the
    modules that use them: numpy and trafilatura, half of a 0.6 s deploy step."""
    config = tmp_path / "newsflow.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/store.db'}}\n", encoding="utf-8")
    for action in ("migrate", "status"):
        status, out, modules = modules_loaded_by(["--config", str(config), "store", action])
        assert status == 0, (action, out)
        assert [m for m in modules if m.startswith((*HEAVY, "numpy"))] == [], action


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_answers_help_under_its_own_name(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([name, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: newsflow {name} ")


def test_an_unknown_command_is_one_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve"])
    assert exited.value.code == 2
    assert "invalid choice: 'serve'" in capsys.readouterr().err
