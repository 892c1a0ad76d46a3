"""`newsflow export` and `newsflow search` on both engines: same bytes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_samples import apply, make_article, pipeline_input

import pipeline.cli as cli
from connectors.storage import Database, open_store
from connectors.storage import articles as articles_module

REQUIRED_FIELDS = {
    "id", "url", "canonical_url", "title", "text", "authors", "published_at", "language",
    "source", "feeds", "duplicate_of", "cluster_id", "topics", "entities", "fetched_at",
    "revision", "topic_tags", "flags",
}  # fmt: skip


def config_for(url: str, tmp_path: Path, name: str = "newsflow.yaml") -> str:
    path = tmp_path / name
    path.write_text(f"storage:\n  url: {json.dumps(url)}\n", encoding="utf-8")
    return str(path)


def run_twice_and_export(url: str, tmp_path: Path, name: str) -> bytes:
    with open_store(url) as store:
        apply(store.articles, pipeline_input())
        apply(store.articles, pipeline_input())
    out = tmp_path / f"{name}.jsonl"
    assert cli.main(["--config", config_for(url, tmp_path, f"{name}.yaml"),
                     "export", "--output", str(out)]) == 0  # fmt: skip
    return out.read_bytes()


@pytest.mark.postgres
def test_export_is_byte_identical_from_sqlite_and_postgresql(
    sqlite_url: str, postgres_url: str, tmp_path: Path
) -> None:
    from_sqlite = run_twice_and_export(sqlite_url, tmp_path, "sqlite")
    from_postgres = run_twice_and_export(postgres_url, tmp_path, "postgres")
    assert from_sqlite == from_postgres
    lines = from_sqlite.decode("utf-8").splitlines()
    assert len(lines) == len({m.id for m in pipeline_input() if hasattr(m, "id")})


def test_export_is_every_article_once_sorted_by_id(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(store_url) as store:
        apply(store.articles, pipeline_input())
        expected = {a.id: a for a in store.articles.iter_all()}
    assert cli.main(["--config", config_for(store_url, tmp_path), "export"]) == 0
    captured = capsys.readouterr()
    documents = [json.loads(line) for line in captured.out.splitlines()]
    assert [d["id"] for d in documents] == sorted(expected)
    for document in documents:
        assert set(document) >= REQUIRED_FIELDS
        assert document["feeds"] == expected[document["id"]].feeds
        assert document["text"] == expected[document["id"]].text
    assert f"exported {len(expected)} articles" in captured.err


def test_export_reads_one_page_at_a_time(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(articles_module, "_PAGE", 4)
    with open_store(store_url) as store:
        for n in range(10):
            store.articles.upsert(make_article(f"stream-{n}", f"Text {n}."))
        queries: list[str] = []
        original = Database.execute

        def counting(db: Database, sql: str, params: object = ()) -> list[tuple[object, ...]]:
            queries.append(sql)
            return original(db, sql, params)  # type: ignore[arg-type]

        monkeypatch.setattr(Database, "execute", counting)
        lines = store.articles.iter_json()
        next(lines)
        assert len(queries) == 1  # the first line arrives after reading one page only
        assert len(list(lines)) == 9
        assert len(queries) == 3


def test_export_of_an_empty_store_is_empty(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    open_store(store_url).close()  # the database exists (`newsflow run` created it), empty
    assert cli.main(["--config", config_for(store_url, tmp_path), "export"]) == 0
    assert capsys.readouterr().out == ""


@pytest.fixture
def searchable(store_url: str, tmp_path: Path) -> Iterator[str]:
    with open_store(store_url) as store:
        apply(store.articles, pipeline_input())
    yield config_for(store_url, tmp_path)


def test_search_prints_one_line_per_hit(
    searchable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", searchable, "search", "budget", "--topic",
                     "economy, business and finance", "--since", "2024-05-01"]) == 0  # fmt: skip
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("2024-05-01  ") and line.endswith("news.example  Story budget")


def test_search_jsonl_gives_articles_with_scores(
    searchable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config", searchable, "search", "DROP TABLE", "--format", "jsonl", "--limit", "5"]
    assert cli.main(args) == 0
    [document] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert document["title"] == "'); DROP TABLE articles; --"
    assert document["score"] > 0


def test_search_output_cannot_drive_the_terminal(
    searchable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", searchable, "search", "emoji"]) == 0
    out = capsys.readouterr().out
    assert "Control" in out and "\x1b" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["*"], "the query has no words"),
        (["x", "--since", "last week"], "--since must be a date"),
        (["x", "--limit", "0"], "--limit must be between"),
    ],
)
def test_search_mistakes_are_one_line_not_a_traceback(
    searchable: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert cli.main(["--config", searchable, "search", *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("newsflow: error:")


def test_no_hits_is_said_on_stderr(searchable: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", searchable, "search", "zzzunknownword"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no matching articles" in captured.err
