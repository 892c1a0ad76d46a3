"""``newsflow dlq list|replay`` on the embedded transport: the store's dead letters.

(On Kafka the same command reads ``news.dlq``: tests/connectors/kafka.)
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.storage.store import open_store
from corpus import generate_site_pages
from pipeline.cli import dlq
from pipeline.errors import InputError
from pipeline.models import FeedEntry, article_id

PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=3)[0]
RETRY_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
"""When the service tries the first letter again (see pipeline.runtime.retry_later)."""
HOSTILE_URL = "http://gone.example/\x1b]0;owned\x07page"


def run(argv: list[str]) -> int:
    """The command as ``newsflow`` runs it (the other commands are not needed here)."""
    parser = argparse.ArgumentParser(prog="newsflow")
    parser.add_argument("--config")
    dlq.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """An embedded store with two letters: one replayable (its page travels with the
    entry, as a WARC backfill's does), one whose payload is not a message."""
    url = f"sqlite:///{tmp_path / 'news.db'}"
    path = tmp_path / "newsflow.yaml"
    path.write_text(f"storage:\n  url: {url}\nextract: {{workers: 1}}\n", encoding="utf-8")
    entry = FeedEntry(feed="backfill", feed_kind="warc", url=PAGE.url, body=PAGE.html)
    with open_store(url) as store:
        store.dead_letters.add(
            stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
            error="timed out", payload=entry.to_json().decode(), letter_key=entry.letter_key(),
            retry=lambda _: RETRY_AT,
        )  # fmt: skip
        store.dead_letters.add(
            stage="fetch", topic="items", error_class="HttpStatusError", reason="http_410",
            error="gone\nfor good \x1b[2J", payload=json.dumps({"feed": "f", "url": HOSTILE_URL}),
            letter_key=f"f {HOSTILE_URL}",
        )  # fmt: skip
    return path


def test_list_prints_each_letter_on_one_clean_line(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_file), "dlq", "list"]) == 0

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("#1  fetch  timeout  x1  retry 2030-01-01T12:00:00Z  " + PAGE.url)
    assert lines[1] == (
        "#2  fetch  http_410  x1  http://gone.example/ ]0;owned page"
        "  HttpStatusError: gone for good  [2J"
    )
    assert not any(ch in out for ch in "\x1b\x07")
    assert err.strip() == "newsflow: 2 dead letters"


def test_list_filters_and_writes_json(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_file), "dlq", "list", "--reason", "timeout", "--json"]) == 0

    [line] = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    assert document["id"] == 1
    assert (document["stage"], document["reason"], document["attempts"]) == (
        "fetch",
        "timeout",
        1,
    )
    assert document["url"] == PAGE.url
    assert datetime.fromisoformat(document["retry_at"]) == RETRY_AT
    assert document["payload_bytes"] > len(PAGE.html)


def test_a_stage_filter_names_a_stage(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped stage matched nothing and said "0 dead letters"."""
    with pytest.raises(SystemExit) as exited:
        run(["--config", str(config_file), "dlq", "list", "--stage", "fecth"])
    assert exited.value.code == 2
    assert "invalid choice: 'fecth' (choose from 'fetch', 'extract', 'tag', 'dedup', 'store')" in (
        capsys.readouterr().err
    )


def test_replay_stores_what_goes_through_and_keeps_what_fails_again(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_file), "dlq", "replay"]) == 1  # one failed again

    err = capsys.readouterr().err
    assert "replayed 2 dead letters: 1 through, 1 failed again; 0 kept" in err
    url = config_file.read_text(encoding="utf-8").split()[2]
    with open_store(url) as store:
        assert store.articles.get(article_id(PAGE.url)) is not None
        [left] = [store.dead_letters.get(i) for i in store.dead_letters.ids()]
    assert left is not None
    assert (left.id, left.reason) == (2, "http_410")


def test_replay_of_one_reason_keeps_the_others(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_file), "dlq", "replay", "--reason", "timeout"]) == 0

    assert "1 through, 0 failed again; 1 kept" in capsys.readouterr().err


def test_drop_discards_the_letters_of_a_reason(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_file), "dlq", "drop", "--reason", "http_410"]) == 0
    assert "dropped 1 dead letter; 1 kept" in capsys.readouterr().err

    assert run(["--config", str(config_file), "dlq", "list"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("#1  fetch  timeout")


def test_drop_says_which_letters_and_all_drops_every_one(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="--stage, --reason, --older-than, or --all"):
        run(["--config", str(config_file), "dlq", "drop"])

    assert run(["--config", str(config_file), "dlq", "drop", "--all"]) == 0
    assert "dropped 2 dead letters; 0 kept" in capsys.readouterr().err


def test_older_than_chooses_letters_by_their_last_failure(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = config_file.read_text(encoding="utf-8").split()[2]
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    with open_store(url) as store:
        store.db.execute("UPDATE dead_letters SET last_failed_at = ? WHERE id = 2", (ten_days_ago,))

    assert run(["--config", str(config_file), "dlq", "list", "--older-than", "7"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("#2  fetch  http_410")

    assert run(["--config", str(config_file), "dlq", "drop", "--older-than", "10.5"]) == 0
    assert "dropped 0 dead letters; 2 kept" in capsys.readouterr().err
    assert run(["--config", str(config_file), "dlq", "drop", "--older-than", "7"]) == 0
    assert "dropped 1 dead letter; 1 kept" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["abc", "0", "-3", "nan", "1e9"])
def test_older_than_takes_a_positive_number_of_days(
    config_file: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(["--config", str(config_file), "dlq", "drop", "--older-than", days])

    assert exit_.value.code == 2
    assert f"--older-than: a number of days above 0, at most 36500: '{days}'" in (
        capsys.readouterr().err
    )
