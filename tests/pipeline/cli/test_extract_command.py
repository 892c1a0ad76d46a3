"""``newsflow extract`` and ``newsflow residue``, run through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import generate_site_pages
from pipeline.cli import main

REPO = Path(__file__).resolve().parents[3]
SEED_PAGE = next(
    p
    for p in json.loads((REPO / "demo" / "manifest.json").read_text(encoding="utf-8"))["pages"]
    if p["id"] == "presstv-strategic-partnership"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newsflow.yaml"
    path.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'store.db'}\n", encoding="utf-8")
    return path


def test_extract_one_seed_page(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = REPO / "demo" / SEED_PAGE["file"]
    status = main(["--config", str(config), "extract", str(page), "--url", SEED_PAGE["url"]])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert {"title", "text", "authors", "published_at", "language", "removed"} <= set(out)
    for paragraph in SEED_PAGE["article_paragraphs"]:
        assert paragraph in out["text"]
    removed = {r["text"] for r in out["removed"]}
    assert {"Titre Aval", "Science Weekly", "Share your story"} <= removed
    assert out["canonical_url"] == SEED_PAGE["url"]


def test_several_files_with_bad_ones(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.html"
    good.write_text(generate_site_pages(1, 1, seed=2)[0].html, encoding="utf-8")
    binary = tmp_path / "photo.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    missing = tmp_path / "missing.html"
    status = main(["--config", str(config), "extract", str(missing), str(binary), str(good)])
    captured = capsys.readouterr()
    assert status == 1
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["file"] for r in records] == [str(good)]
    errors = captured.err.strip().splitlines()
    assert errors == [
        f"newsflow: extract: {missing}: no such file",
        f"newsflow: extract: {binary}: not an HTML page (binary content)",
    ]
    assert "Traceback" not in captured.err


def test_file_name_that_is_not_utf8_gives_valid_json(config: Path, tmp_path: Path) -> None:
    """A name the file system holds as Latin-1 bytes is shown with U+FFFD; the URL keeps the
    bytes percent-encoded. Before, the raw byte went to stdout and the JSON was not UTF-8."""
    page = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.html"))
    page.write_text(generate_site_pages(1, 1, seed=2)[0].html, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config), "extract", str(page)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.decode("utf-8"))
    assert record["file"] == f"{tmp_path}/caf\ufffd.html"
    assert record["url"].endswith("/caf%E9.html")


def test_url_with_several_files_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["--config", str(config), "extract", "a.html", "b.html", "--url", "https://x.org/"]
    )
    assert status == 1
    assert "exactly one FILE" in capsys.readouterr().err


def test_residue_show_and_overrides(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from connectors.storage.db import Database
    from connectors.storage.residue_stats import ResidueStatsRepository

    db = Database(f"sqlite:///{config.parent / 'store.db'}")
    repo = ResidueStatsRepository(db)
    for n in range(4):
        repo.observe(
            "example.com", f"a{n}", {"titre aval": "Titre Aval", f"s{n}": f"S {n}."}, window=50
        )
    db.close()
    assert main(["--config", str(config), "residue", "deny", "www.example.com", "Bloc Promo"]) == 0
    assert main(["--config", str(config), "residue", "show", "https://example.com/x"]) == 0
    out = capsys.readouterr().out
    assert "articles in window: 4" in out
    assert "       4  template   Titre Aval" in out
    assert "deny   Bloc Promo" in out


def test_residue_sources_counts_articles_as_a_reader_says_them(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connectors.storage.db import Database
    from connectors.storage.residue_stats import ResidueStatsRepository

    db = Database(f"sqlite:///{config.parent / 'store.db'}")
    repo = ResidueStatsRepository(db)
    repo.observe("one.example", "a", {"x": "X."}, window=50)
    for n in range(2):
        repo.observe("two.example", f"b{n}", {"y": "Y."}, window=50)
    db.close()
    assert main(["--config", str(config), "residue", "sources"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "one.example\t1 article", "two.example\t2 articles",
    ]  # fmt: skip
