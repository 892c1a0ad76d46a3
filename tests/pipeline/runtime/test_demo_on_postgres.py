"""The same pipeline on SQLite and on PostgreSQL stores the same articles; reruns change nothing.

The two runs may hand the articles to dedup in different orders (a poll held up past
``polls.HOLD_SECONDS`` on a loaded machine no longer holds up the feeds after it), so the
fields that record arrival order are compared as clusters of article ids.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from export_rows import ARRIVAL_ORDER, clusters, without

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]
DEMO = str(ROOT / "config/demo.yaml")


def run_and_export(monkeypatch: pytest.MonkeyPatch, storage_url: str) -> list[dict[str, Any]]:
    monkeypatch.setenv("NEWSFLOW_STORAGE__URL", storage_url)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--config", DEMO, "run", "--once"]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", DEMO, "export"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run fetches at its own time and in its own arrival order; the rest must match."""
    return without(rows, {"fetched_at", *ARRIVAL_ORDER})


@pytest.mark.postgres
def test_sqlite_and_postgresql_store_the_same_articles(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, tmp_path: Path
) -> None:
    on_sqlite = run_and_export(monkeypatch, f"sqlite:///{tmp_path / 'demo.db'}")
    on_postgres = run_and_export(monkeypatch, postgres_url)
    assert len(on_postgres) == 18
    assert comparable(on_postgres) == comparable(on_sqlite)
    assert clusters(on_postgres) == clusters(on_sqlite)
    assert any(len(members) > 1 for members in clusters(on_sqlite))

    assert run_and_export(monkeypatch, postgres_url) == on_postgres
    assert run_and_export(monkeypatch, f"sqlite:///{tmp_path / 'demo.db'}") == on_sqlite
