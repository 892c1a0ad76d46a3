"""The offline demo end to end on the embedded default (issue: end-to-end pipeline).

Ground truth comes from ``demo/manifest.json``: every article paragraph kept,
every residue line gone, the syndicated copies marked as duplicates of their
originals, the two seed stories kept apart and tagged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = json.loads((ROOT / "demo/manifest.json").read_text(encoding="utf-8"))
EXPORT_FIELDS = {
    "id", "url", "canonical_url", "title", "text", "authors", "published_at", "language",
    "source", "feeds", "duplicate_of", "cluster_id", "topics", "entities", "fetched_at",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSFLOW_STORAGE__URL", f"sqlite:///{db}")
        capture = _Capture()
        first = capture.run()
        second = capture.run()
    return {"first": first, "second": second}


class _Capture:
    """Runs the CLI in-process and captures stdout without the capsys fixture (module scope)."""

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--config", str(ROOT / "config/demo.yaml"), "run", "--once"]) == 0
        summary = out.getvalue()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--config", str(ROOT / "config/demo.yaml"), "export"]) == 0
        return summary, [json.loads(line) for line in out.getvalue().splitlines()]


def by_url(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in rows}


def test_the_run_prints_a_summary(demo_runs: dict[str, Any]) -> None:
    summary, rows = demo_runs["first"]
    assert "feeds polled:      7 (0 failed" in summary
    assert "duplicates found:  2" in summary
    assert "top topics:" in summary
    assert len(rows) == len(MANIFEST["pages"])


def test_every_export_field_is_there(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    for row in rows:
        assert set(row) >= EXPORT_FIELDS, row["url"]
        assert row["text"] and row["feeds"] and row["source"]


def test_no_residue_line_is_stored_and_every_paragraph_is(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    stored = by_url(rows)
    for page in MANIFEST["pages"]:
        text = stored[page["url"]]["text"]
        lines = set(text.splitlines())
        for residue in page["residue_lines"]:
            assert residue not in lines, (page["url"], residue)
        for paragraph in page["article_paragraphs"]:
            assert paragraph in text, (page["url"], paragraph[:60])
    all_text = "\n".join(r["text"] for r in rows)
    for residue in MANIFEST["seed_residue_lines"]:
        assert residue not in all_text


def test_syndicated_copies_point_at_their_originals(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    stored = by_url(rows)
    for page in MANIFEST["pages"]:
        row = stored[page["url"]]
        if page["duplicate_of_url"]:
            original = stored[page["duplicate_of_url"]]
            assert row["duplicate_of"] == original["id"]
            assert row["cluster_id"] == original["cluster_id"]
        else:
            assert row["duplicate_of"] is None, page["url"]


def test_an_article_listed_by_two_feeds_is_stored_once_with_both(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    multi = [p for p in MANIFEST["pages"] if len(p["feeds"]) > 1]
    assert multi, "the demo lists one article in two feeds"
    for page in multi:
        assert set(by_url(rows)[page["url"]]["feeds"]) >= set(page["feeds"])
    assert len({r["id"] for r in rows}) == len(rows)


def test_the_summary_says_why_fewer_rows_than_new_entries(demo_runs: dict[str, Any]) -> None:
    summary, rows = demo_runs["first"]
    listings = sum(len(p["feeds"]) for p in MANIFEST["pages"])
    again = listings - len(MANIFEST["pages"])
    assert f"new entries:       {listings} ({again} listed by another feed too)" in summary
    assert listings - again == len(rows)


def test_the_seed_stories_are_apart_and_tagged(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    stored = by_url(rows)
    seeds = [stored[p["url"]] for p in MANIFEST["pages"] if p.get("source_seed")]
    seeds = [s for s in seeds if s["duplicate_of"] is None]
    assert len(seeds) == 2
    assert seeds[0]["cluster_id"] != seeds[1]["cluster_id"]
    for seed in seeds:
        assert "politics" in seed["topics"]
        assert any(t.startswith("politics/") for t in seed["topics"])
        names = {e["name"] for e in seed["entities"]}
        assert {"Iran", "Russia"} <= names


def test_sport_and_economy_articles_are_tagged(demo_runs: dict[str, Any]) -> None:
    _, rows = demo_runs["first"]
    stored = by_url(rows)
    sport = [p["url"] for p in MANIFEST["pages"] if "sports" in p["expected_topics"]]
    economy = [p["url"] for p in MANIFEST["pages"] if p["expected_topics"][0] == "economy"]
    assert sport and economy, "the demo has articles of both (2 and 4)"
    for url in sport:
        assert "sport" in stored[url]["topics"], url
    for url in economy:
        assert "economy-business-finance" in stored[url]["topics"], url


def test_a_second_run_changes_nothing(demo_runs: dict[str, Any]) -> None:
    summary, rows = demo_runs["second"]
    assert "new entries:       0" in summary
    assert "articles stored:   0" in summary
    assert rows == demo_runs["first"][1]
    holds = [line for line in demo_runs["first"][0].splitlines() if "store now holds" in line]
    assert holds and holds[0] in summary  # the totals are the store's, not the run's
