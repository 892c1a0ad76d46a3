"""Bad input to every command: one clear line, a non-zero exit, no traceback, nothing lost.

The CLI runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from connectors.storage import open_store

ROOT = Path(__file__).resolve().parents[3]
SEED_PAGE = next((ROOT / "demo/sites/presstv.example").rglob("*Syria*.html"))


def newsflow(
    *args: str | bytes,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdout: IO[Any] | None = None,
    runner: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``stdout`` redirects its output (to a file, say) instead of capturing it;
    ``runner`` is a command that runs it (``setpriv ...``: as a user of lesser rights)."""
    return subprocess.run(
        [*runner, sys.executable, "-m", "pipeline.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *, expect: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("newsflow:")]
    assert len(lines) == 1, result.stderr
    assert expect in result.stderr


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "bad.yaml").write_text("feeds: [\n  - name: a\n", encoding="utf-8")
    (tmp_path / "embedded.yaml").write_text(
        "feeds: [{name: a, url: 'http://127.0.0.1:1/feed'}]\nstorage: {url: 'sqlite:///x.db'}\n",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--config", "bad.yaml", "run", "--once"], "invalid YAML (line"),
        (["--config", "bad.yaml", "export"], "invalid YAML (line"),
        (["--config", "bad.yaml", "search", "x"], "invalid YAML (line"),
        (["--config", "bad.yaml", "feeds", "check"], "invalid YAML (line"),
        (["--config", "missing.yaml", "run", "--once"], "config file not found"),
        (["run", "--once"], "no config file found: no --config, no NEWSFLOW_CONFIG and no"),
        (["export"], "give one with --config FILE or NEWSFLOW_CONFIG=FILE"),
        (["extract", "--learned", "page.html"], "no config file found"),
        (["extract", "missing.html"], "missing.html: no such file"),
        (["extract", "junk.bin"], "not an HTML page"),
        (["extract", "/dev/zero"], "larger than fetch.max_body_bytes"),
        (["schema", "--topic", "nope"], "unknown topic"),
        (["--config", "embedded.yaml", "stage", "poll"], "`newsflow stage` runs a worker on Kafka"),
        (["--config", "embedded.yaml", "stage", "store"], "transport: is 'embedded'"),
    ],
)
def test_bad_input_gives_one_clear_line(workdir: Path, args: list[str], expect: str) -> None:
    result = newsflow(*args, cwd=workdir)
    assert_one_clear_line(result, expect=expect)
    if args[:2] == ["--config", "bad.yaml"] or "stage" in args or "config" in expect:
        assert result.returncode == 2
    assert not (workdir / "x.db").exists()  # nothing was opened, let alone marked seen


def test_extract_goes_on_with_the_other_files(workdir: Path) -> None:
    result = newsflow("extract", "missing.html", str(SEED_PAGE), cwd=workdir)
    assert_one_clear_line(result, expect="missing.html: no such file")
    [line] = result.stdout.splitlines()
    assert "Strategic Partnership" in json.loads(line)["title"]


def test_an_empty_feed_fails_alone_and_loses_nothing_stored(workdir: Path) -> None:
    db = workdir / "store.db"
    env = {"NEWSFLOW_STORAGE__URL": f"sqlite:///{db}"}
    demo = str(ROOT / "config/demo.yaml")
    assert newsflow("--config", demo, "run", "--once", cwd=workdir, env=env).returncode == 0
    before = newsflow("--config", demo, "export", cwd=workdir, env=env).stdout
    assert len(before.splitlines()) == 18

    config = workdir / "with-empty.yaml"
    demo_text = (ROOT / "config/demo.yaml").read_text(encoding="utf-8")
    config.write_text(
        demo_text.replace(
            "feeds:\n", f"feeds:\n  - {{name: empty, url: {workdir / 'empty.xml'}}}\n", 1
        ).replace("demo/", f"{ROOT}/demo/"),
        encoding="utf-8",
    )
    result = newsflow("--config", str(config), "run", "--once", cwd=workdir, env=env)
    assert_one_clear_line(result, expect="1 feed failed")
    assert "feeds polled:      8 (1 failed" in result.stdout
    after = newsflow("--config", demo, "export", cwd=workdir, env=env).stdout
    assert after == before


@pytest.mark.parametrize(
    ("section", "change", "expect"),
    [
        ("tagging", {"taxonomy": "/nonexistent/taxonomy.yaml"}, "taxonomy file not found"),
        ("tagging", {"entities": "/"}, "entity lexicon file is not a regular file: /"),
        ("tagging", {"entities": "junk.bin"}, "junk.bin"),
        ("extract", {"residue_rules": "junk.bin"}, "junk.bin"),
    ],
)
def test_a_bad_file_the_stages_read_stops_the_run_at_start(
    workdir: Path, section: str, change: dict[str, str], expect: str
) -> None:
    """With extraction processes, a bad taxonomy used to fail every article (19 dead
    letters for the demo) instead of stopping the run with one line."""
    demo = (ROOT / "config/demo.yaml").read_text(encoding="utf-8").replace("demo/", f"{ROOT}/demo/")
    settings = yaml.safe_load(demo)
    settings.setdefault(section, {}).update(change)
    settings["extract"]["workers"] = 2
    settings["service"] = {**settings.get("service", {}), "http_port": 0}
    settings["storage"] = {"url": f"sqlite:///{workdir / 'store.db'}"}
    config = workdir / "bad-files.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    result = newsflow("--config", str(config), "run", "--once", cwd=workdir)
    assert_one_clear_line(result, expect=expect)
    assert result.returncode == 2
    assert not (workdir / "store.db").exists()


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("postgresql://nobody@127.0.0.1:1/none", "cannot connect to PostgreSQL"),
        ("sqlite:///{workdir}/store.db/not-a-dir/x.db", "cannot open"),
    ],
)
def test_a_store_that_cannot_be_opened_stops_the_run_with_one_clear_line(
    workdir: Path, url: str, expect: str
) -> None:
    """The run stops before any worker process starts: the extraction processes come from
    a fork server that imports their code for a second, and one still importing when the
    service exits (its metrics directory gone) used to print a traceback after the error."""
    (workdir / "store.db").write_bytes(b"")
    config = workdir / "unreachable.yaml"
    config.write_text(
        f"storage: {{url: '{url.format(workdir=workdir)}'}}\n"
        "extract: {workers: 2}\n"
        "service: {http_port: 0}\n"
        "feeds: [{name: a, url: 'http://127.0.0.1:9/feed.xml'}]\n",
        encoding="utf-8",
    )
    result = newsflow("--config", str(config), "run", "--once", cwd=workdir)
    assert_one_clear_line(result, expect=expect)


@pytest.mark.parametrize("migrate_on_start", ["true", "false"])
def test_an_unreachable_database_is_one_line_and_status_1_whatever_migrate_on_start_says(
    workdir: Path, migrate_on_start: str
) -> None:
    """With migrate_on_start false the schema check meets it, before the service starts;
    with true, the service's first open. Both are a runtime problem (status 1; 2 is for
    config and usage), in one line: libpq's reason went on, on a second line, with
    '\tIs the server running on that host and accepting TCP/IP connections?'."""
    config = workdir / "unreachable.yaml"
    config.write_text(
        "storage: {url: 'postgresql://nobody@127.0.0.1:1/none',"
        f" migrate_on_start: {migrate_on_start}}}\n"
        "service: {http_port: 0}\n"
        "feeds: [{name: a, url: 'http://127.0.0.1:9/feed.xml'}]\n",
        encoding="utf-8",
    )
    result = newsflow("--config", str(config), "run", cwd=workdir)
    said = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # no logs
    assert result.returncode == 1, result.stderr
    assert len(said) == 1, result.stderr
    assert said[0].startswith(
        "newsflow: error: cannot connect to PostgreSQL at postgresql://nobody@127.0.0.1:1/none:"
    )
    assert "Is the server running" in said[0]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (
            ["residue", "allow", "example.com", b"\xffline"],
            "argument LINE is not UTF-8 text: b'\\xffline'",
        ),
        (["residue", "show", b"\xff"], "argument SOURCE is not UTF-8 text"),
        (["cluster", b"\xff"], "argument ID is not UTF-8 text"),
        (["dlq", "drop", "--reason", b"\xff"], "argument --reason is not UTF-8 text"),
        (["search", b"caf\xe9"], "argument query is not UTF-8 text: b'caf\\xe9'"),
    ],
)
def test_an_argument_that_is_not_utf8_is_one_clear_line(
    workdir: Path, args: list[str | bytes], expect: str
) -> None:
    """Such bytes reach Python as lone surrogates, which failed as an internal error
    ('UnicodeEncodeError ... this is a bug') where the text was first encoded."""
    result = newsflow("--config", "embedded.yaml", *args, cwd=workdir)
    assert_one_clear_line(result, expect=expect)
    assert "bug" not in result.stderr
    assert not (workdir / "x.db").exists()


def test_a_file_name_that_is_not_utf8_is_still_a_file(workdir: Path) -> None:
    """File names are bytes: they are not refused, and open() finds the file."""
    (workdir / os.fsdecode(b"page-\xff.html")).write_bytes(SEED_PAGE.read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "extract", b"page-\xff.html"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"Strategic Partnership" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["export"],
        ["export", "--output", "out.jsonl"],
        ["search", "budget"],
        ["cluster", "abc"],
        ["dlq", "list"],
        ["dlq", "replay"],
        ["dlq", "drop", "--all"],
        ["dlq", "drop", "--reason", "http_404"],
        ["residue", "sources"],
        ["residue", "show", "news.example"],
        ["residue", "allow", "news.example", "Weekly Review"],
        ["residue", "deny", "news.example", "Weekly Review"],
        ["residue", "clear", "news.example", "Weekly Review"],
        ["extract", "--learned", str(SEED_PAGE)],
        ["store", "status"],
    ],
)
def test_every_command_but_run_and_stage_refuses_a_missing_database(
    workdir: Path, args: list[str]
) -> None:
    """A mistyped path created its directories and an empty database, then said
    'exported 0 articles', or 'replayed 0 dead letters' for a command that writes.
    Only `run`, `stage` and `store migrate` make the store; `schema`, `topics` and
    `feeds check` never open it."""
    (workdir / "typo.yaml").write_text(
        "storage: {url: 'sqlite:///nonexistent/deeper/x.db'}\n", encoding="utf-8"
    )
    result = newsflow("--config", "typo.yaml", *args, cwd=workdir)
    assert_one_clear_line(
        result,
        expect=f"no database at {workdir}/nonexistent/deeper/x.db; `newsflow run` or"
        " `newsflow store migrate` creates it",
    )
    assert result.returncode == 1
    assert result.stderr.endswith(
        f"newsflow: error: no database at {workdir}/nonexistent/deeper/x.db;"
        " `newsflow run` or `newsflow store migrate` creates it\n"
    )
    assert not (workdir / "nonexistent").exists()
    assert not (workdir / "out.jsonl").exists()


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_since_out_of_range_in_utc_is_one_clear_line(workdir: Path, since: str) -> None:
    """It ended in 'internal error: OverflowError: date value out of range', exit 70."""
    (workdir / "store.yaml").write_text("storage: {url: 'sqlite:///x.db'}\n", encoding="utf-8")
    open_store(f"sqlite:///{workdir / 'x.db'}").close()  # the query runs: no 'no database'
    result = newsflow("--config", "store.yaml", "search", "oscar", "--since", since, cwd=workdir)
    assert_one_clear_line(result, expect=f"--since {since!r} is out of range")
    assert result.returncode == 1
