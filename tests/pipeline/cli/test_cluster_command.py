"""``newsflow cluster ID`` lists a cluster from the store, canonical first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.storage.dedup_index import DedupIndex
from connectors.storage.store import open_store
from pipeline.cli import cluster
from pipeline.config import DedupConfig
from pipeline.errors import InputError
from pipeline.models import DuplicateEvent, EnrichedArticle, article_id
from pipeline.stages.dedup import DedupStage

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
TEXT = SEEDS[0].read_text(encoding="utf-8")
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def article(url: str, text: str, hours: int) -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=f"Title {hours}",
        text=text,
        published_at=NOW + timedelta(hours=hours),
        source=url.split("/")[2],
        fetched_at=NOW,
        feeds=[url.split("/")[2]],
    )


def run(argv: list[str]) -> int:
    """The command as ``newsflow`` runs it (the other commands are not needed here)."""
    parser = argparse.ArgumentParser(prog="newsflow")
    parser.add_argument("--config")
    cluster.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def config_file(tmp_path: Path) -> tuple[Path, list[EnrichedArticle]]:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    path = tmp_path / "newsflow.yaml"
    path.write_text(f"storage:\n  url: {url}\n", encoding="utf-8")
    items = [
        article("https://one.example/a", TEXT, 2),
        article("https://two.example/b", "Advertisement\n" + TEXT, 1),
    ]
    with open_store(url) as store:
        stage = DedupStage(
            DedupIndex(store.db, DedupConfig()), DedupConfig(), articles=store.articles
        )
        for item in items:
            for out in stage.process(item):
                if isinstance(out, DuplicateEvent):
                    store.articles.record_duplicate(out)
                else:
                    assert isinstance(out, EnrichedArticle)
                    store.articles.upsert(out)
    return path, items


def test_lists_the_cluster_canonical_first(
    config_file: tuple[Path, list[EnrichedArticle]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, (late, early) = config_file
    assert run(["--config", str(path), "cluster", late.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"cluster {late.id}: 2 articles, canonical {early.id}")
    assert lines[1].split()[0] == "*" and early.id in lines[1]
    assert late.id in lines[2] and lines[2].split()[0].startswith("~")


def test_json_output_and_lookup_by_member_id(
    config_file: tuple[Path, list[EnrichedArticle]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, (late, early) = config_file
    assert run(["--config", str(path), "cluster", early.id, "--json"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["id"] for d in docs] == [early.id, late.id]
    assert docs[1]["duplicate_of"] == early.id and docs[1]["cluster_id"] == late.id


def test_unknown_id_is_a_typed_error(config_file: tuple[Path, list[EnrichedArticle]]) -> None:
    path, _ = config_file
    with pytest.raises(InputError, match="no cluster and no clustered article with id 'nope'"):
        run(["--config", str(path), "cluster", "nope"])
