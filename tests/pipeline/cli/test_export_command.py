"""``newsflow export``: where the output goes and what a write error looks like.

Written files, symlinks, FIFOs and device nodes are real ones in ``tmp_path``, and
the CLI runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_cli_bad_input import assert_one_clear_line, newsflow

from connectors.storage.store import open_store
from pipeline.models import EnrichedArticle, article_id

NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A config whose store holds three articles."""
    url = f"sqlite:///{tmp_path / 'news.db'}"
    (tmp_path / "newsflow.yaml").write_text(f"storage:\n  url: {url}\n", encoding="utf-8")
    with open_store(url) as store:
        for n in range(3):
            link = f"https://news.example/{n}"
            store.articles.upsert(
                EnrichedArticle(id=article_id(link), url=link, canonical_url=link,
                                title=f"Story {n}", text=f"Text of story {n}.",
                                source="news.example", fetched_at=NOW, feeds=["wire"])
            )  # fmt: skip
    return tmp_path


def export(workdir: Path, *args: str) -> str:
    result = newsflow("--config", "newsflow.yaml", "export", *args, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "exported 3 articles" in result.stderr
    return result.stdout


def test_to_a_file(workdir: Path) -> None:
    stdout = export(workdir)
    export(workdir, "--output", "out.jsonl")
    assert (workdir / "out.jsonl").read_text(encoding="utf-8") == stdout
    assert not (workdir / "out.jsonl.partial").exists()


def test_a_symlink_is_followed_and_stays(workdir: Path) -> None:
    (workdir / "exports").mkdir()
    (workdir / "exports/latest.jsonl").write_text("old\n", encoding="utf-8")
    (workdir / "link.jsonl").symlink_to("exports/latest.jsonl")
    export(workdir, "--output", "link.jsonl")
    assert (workdir / "link.jsonl").is_symlink()
    assert os.readlink(workdir / "link.jsonl") == "exports/latest.jsonl"
    assert (workdir / "exports/latest.jsonl").read_text(encoding="utf-8") == export(workdir)
    assert sorted(p.name for p in (workdir / "exports").iterdir()) == ["latest.jsonl"]


def test_a_fifo_is_written_not_replaced(workdir: Path) -> None:
    fifo = workdir / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        export(workdir, "--output", "pipe")
    finally:
        if reader.is_alive():  # the export never opened the FIFO: let the reader go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received == [export(workdir).encode("utf-8")]
    assert not (workdir / "pipe.partial").exists()


def test_a_device_is_written_not_replaced(workdir: Path) -> None:
    """A device node of our own (the numbers of /dev/null), never /dev/null itself."""
    if os.getuid() != 0:
        pytest.fail("creating a device node needs root (CI runs as root)")
    device = workdir / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    export(workdir, "--output", "null")
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert device.lstat().st_rdev == os.makedev(1, 3)
    assert not (workdir / "null.partial").exists()


def test_a_full_disk_on_stdout_is_one_clear_line(workdir: Path) -> None:
    """/dev/full is only written to, through the redirection, as ``export > file`` would."""
    with open("/dev/full", "w") as full:
        result = newsflow("--config", "newsflow.yaml", "export", cwd=workdir, stdout=full)
    assert_one_clear_line(result, expect="cannot write to standard output: No space left")
    assert "bug" not in result.stderr


def test_an_unwritable_output_is_one_clear_line(workdir: Path) -> None:
    (workdir / "dir").mkdir()
    result = newsflow("--config", "newsflow.yaml", "export", "--output", "dir", cwd=workdir)
    assert_one_clear_line(result, expect="cannot write dir: Is a directory")


def test_an_empty_output_name_is_refused(workdir: Path) -> None:
    """It wrote to stdout, as if --output were not given."""
    result = newsflow("--config", "newsflow.yaml", "export", "--output", "", cwd=workdir)
    assert_one_clear_line(result, expect="--output is empty: give a file name")
    assert result.returncode == 1
    assert result.stdout == ""
