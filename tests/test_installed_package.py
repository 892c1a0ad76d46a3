"""newsflow as ``pip install .`` leaves it: a wheel in site-packages, no repository beside it.

deploy/Dockerfile and the systemd steps install it that way. The tests build the wheel
from exactly what the Dockerfile copies (offline, without build isolation: ~2 s), install
it into a directory of its own and run it from a directory outside the repository, with
the repository off ``sys.path``, so nothing can come from the checkout. (The suite
otherwise runs on the editable install, where the repository is always at hand.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.config import SHIPPED_ENTITIES, SHIPPED_RESIDUE_RULES, SHIPPED_TAXONOMY

REPO = Path(__file__).resolve().parent.parent
SHIPPED = (SHIPPED_RESIDUE_RULES, SHIPPED_TAXONOMY, SHIPPED_ENTITIES)
SEED_PAGE = next((REPO / "demo/sites/presstv.example").rglob("*Syria*.html"))

IGNORED = shutil.ignore_patterns("__pycache__")

pytestmark = pytest.mark.slow  # ~10 s: a build, an install and three processes


def dockerfile_sources() -> list[str]:
    """What ``deploy/Dockerfile`` copies into the image before ``pip install .``."""
    text = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    return [source for line in re.findall(r"^COPY (.+)$", text, flags=re.M)
            for source in line.split()[:-1]]  # fmt: skip


def process(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """``args``' output; it must succeed."""
    done = process(args, cwd=cwd, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built in a copy, so no build/ or egg-info is left in the checkout."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in dockerfile_sources():
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=IGNORED)
        else:
            shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out)],
        cwd=source)  # fmt: skip
    [built] = out.glob("newsflow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a directory of its own; its dependencies are this
    environment's (site-packages of the running interpreter)."""
    target = tmp_path_factory.mktemp("site")
    run([sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--no-deps",
         "--no-index", "--target", str(target), str(wheel)], cwd=target)  # fmt: skip
    return target


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the repository, with no config/ in it."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    return tmp_path.resolve()


def user_env(installed: Path) -> dict[str, str]:
    """The environment of a user with the package installed: no NEWSFLOW_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return {**env, "PYTHONPATH": str(installed)}


def newsflow(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``newsflow`` as its user runs it."""
    return process([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=user_env(installed))


def test_the_wheel_holds_the_rules_taxonomy_and_entities(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in SHIPPED:
        assert shipped.relative_to(REPO).as_posix() in names


CHECK = """
import json, sys
import pipeline
from pipeline.config import load_config
from pipeline.extraction import load_rules, split_lines
from pipeline.runtime.wiring import check_stage_files
from pipeline.tagging import build_tagger

config = load_config("newsflow.yaml")
check_stage_files(config)
rules = load_rules(config.extract.residue_rules)
found = build_tagger(config.tagging).tag(
    "Iran and Russia signed a strategic partnership in Tehran on Friday.", title="Pact"
)
print(json.dumps({
    "package": pipeline.__file__,
    "sys_path": sys.path,
    "files": [str(p) for p in (config.extract.residue_rules, config.tagging.taxonomy,
                               config.tagging.entities)],
    "category": rules.category(split_lines("Share this article")[0], position=5).name,
    "entities": [e.name for e in found.entities],
}))
"""


def test_a_config_without_data_keys_uses_the_installed_files(
    installed: Path, outside: Path
) -> None:
    """It stopped at start with ``residue rules file not found:
    <config dir>/config/residue_rules.yaml``."""
    (outside / "newsflow.yaml").write_text("feeds: []\nextract: {workers: 1}\n", encoding="utf-8")
    report = json.loads(run([sys.executable, "-c", CHECK], cwd=outside, env=user_env(installed)))
    assert Path(report["package"]).is_relative_to(installed.resolve())
    assert not [p for p in report["sys_path"] if p and Path(p).resolve() == REPO]
    assert [Path(p) for p in report["files"]] == [
        installed.resolve() / shipped.relative_to(REPO) for shipped in SHIPPED
    ]
    assert report["category"] == "share_prompt"
    assert {"Iran", "Russia"} <= set(report["entities"])


def test_extract_needs_no_config(installed: Path, outside: Path) -> None:
    """It failed: `config file not found: .../site-packages/config/newsflow.yaml`."""
    shutil.copy(SEED_PAGE, outside / "page.html")
    result = newsflow(installed, "extract", "page.html", cwd=outside)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert "Strategic Partnership" in record["title"]
    by_rule = {line["text"] for line in record["removed"] if line["reason"].startswith("rule:")}
    assert "Share your story" in by_rule


NEED_A_CONFIG = [["run", "--once"], ["feeds", "check"], ["extract", "--learned", "page.html"]]


@pytest.mark.parametrize("args", NEED_A_CONFIG, ids=" ".join)
def test_a_command_that_needs_a_config_says_how_to_give_one(
    installed: Path, outside: Path, args: list[str]
) -> None:
    result = newsflow(installed, *args, cwd=outside)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"newsflow: no config file found: no --config, no NEWSFLOW_CONFIG and no"
        f" {outside / 'config/newsflow.yaml'}; give one with --config FILE or NEWSFLOW_CONFIG=FILE"
    ]
    assert not (outside / "data").exists()
