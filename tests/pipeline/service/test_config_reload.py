"""Config reload: what changed, what applies live, what is rejected, and applying feeds."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from connectors.http.fetcher import build_fetcher
from connectors.storage.db import Database
from connectors.storage.feed_state import FeedStateRepository
from pipeline.config import Config, FetchConfig, load_config, parse_config
from pipeline.errors import FetchRefused, StoreUnavailable
from pipeline.polling import FeedPoller, Scheduler
from pipeline.service.control import LoopControl
from pipeline.service.reload import (
    ConfigReloader,
    LocalFeedsFetcher,
    apply_feed_config,
    diff_config,
    effective_config,
)

BASE: dict[str, Any] = {
    "feeds": [
        {"name": "a", "url": "https://a.example/feed"},
        {"name": "b", "url": "https://b.example/feed", "interval_seconds": 600},
    ],
    "storage": {"url": "sqlite:///one.db"},
    "service": {"http_enabled": False},
}


def config(**changes: Any) -> Config:
    raw = {**BASE, **changes}
    return parse_config(raw, base=Path("/srv"))


def test_feeds_are_compared_by_name() -> None:
    new = config(feeds=[
        {"name": "b", "url": "https://b.example/feed", "interval_seconds": 300},
        {"name": "c", "url": "https://c.example/feed"},
    ])  # fmt: skip
    change = diff_config(config(), new)
    assert (change.added, change.removed, change.changed) == (["c"], ["a"], ["b"])
    assert change.applies and change.restart == []
    assert change.describe() == "feeds added: c; feeds removed: a; feeds changed: b"


def test_disabling_a_feed_is_a_change_of_that_feed() -> None:
    feeds = [{**BASE["feeds"][0], "enabled": False}, BASE["feeds"][1]]
    assert diff_config(config(), config(feeds=feeds)).changed == ["a"]


def test_schedule_and_log_level_apply_live_storage_and_transport_need_a_restart() -> None:
    new = config(
        schedule={"default_interval_seconds": 60},
        service={"http_enabled": False, "log_level": "DEBUG", "http_port": 9999},
        storage={"url": "sqlite:///two.db"},
        transport="kafka",
    )
    change = diff_config(config(), new)
    assert change.live == ["schedule.default_interval_seconds", "service.log_level"]
    assert change.restart == ["transport", "storage.url", "service.http_port"]


def test_the_running_config_keeps_what_needs_a_restart() -> None:
    running = config()
    new = config(
        feeds=[{"name": "c", "url": "https://c.example/feed"}],
        storage={"url": "sqlite:///two.db"},
        service={"http_enabled": False, "log_level": "DEBUG", "http_port": 9999},
    )
    change = diff_config(running, new)
    effective = effective_config(running, new, change.restart)
    assert [f.name for f in effective.feeds] == ["c"]
    assert effective.service.log_level == "DEBUG"
    assert effective.storage == running.storage
    assert effective.service.http_port == running.service.http_port
    assert diff_config(running, effective).restart == []


def write(path: Path, raw: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "newsflow.yaml"
    write(path, BASE)
    return path


def test_a_reload_is_only_read_when_asked(config_file: Path) -> None:
    reloader = ConfigReloader(config_file, {}, load_config(config_file, environ={}))
    write(config_file, {**BASE, "feeds": BASE["feeds"][:1]})
    assert reloader.poll() is None, "not watching the file, and no SIGHUP yet"
    reloader.request()
    new = reloader.poll()
    assert new is not None and [f.name for f in new.feeds] == ["a"]
    assert reloader.running is new
    assert reloader.poll() is None, "one request, one reload"


def test_an_unchanged_file_applies_nothing(config_file: Path) -> None:
    reloader = ConfigReloader(config_file, {}, load_config(config_file, environ={}))
    reloader.request()
    assert reloader.poll() is None


def test_an_invalid_file_is_rejected_one_line_per_problem(
    config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = load_config(config_file, environ={})
    reloader = ConfigReloader(config_file, {}, running)
    write(config_file, {
        **BASE,
        "feeds": [{"name": "x", "url": "gopher://old.example/"}],
        "schedule": {"jitter": 3},
    })  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="pipeline.service.reload"):
        reloader.request()
        assert reloader.poll() is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert any("feeds.0 (x).url: only http(s) URLs" in e for e in errors)
    assert any("schedule.jitter:" in e for e in errors)
    assert reloader.running is running


def test_a_rejected_file_is_reported_until_a_reload_finds_the_file_valid(
    config_file: Path,
) -> None:
    """The status page's ``config`` section and the gauge say the file on disk is not
    what runs; restoring the file (nothing to apply) clears it as a fix would."""
    now = [1000.0]
    reloader = ConfigReloader(config_file, {}, load_config(config_file, environ={}),
                              wall_clock=lambda: now[0])  # fmt: skip
    assert reloader.state() == {
        "path": str(config_file), "loaded_at": 1000.0, "rejected": None, "restart_pending": []
    }  # fmt: skip
    original = config_file.read_text(encoding="utf-8")
    problems = [{"name": f"x{i}", "url": f"gopher://{i}.example/"} for i in range(7)]
    write(config_file, {**BASE, "feeds": problems})
    now[0] = 1060.0
    reloader.request()
    assert reloader.poll() is None
    rejected = reloader.state()["rejected"]
    assert rejected["at"] == 1060.0 and reloader.state()["loaded_at"] == 1000.0
    reason = rejected["reason"]
    assert "\n" not in reason and reason.count("only http(s) URLs") == 5
    assert reason.startswith(f"{config_file}: feeds.0 (x0).url: only http(s) URLs")
    assert reason.endswith("; and 2 more (see the log)")
    assert REGISTRY.get_sample_value("newsflow_config_rejected") == 1

    config_file.write_text(original, encoding="utf-8")
    now[0] = 1120.0
    reloader.request()
    assert reloader.poll() is None, "the file restored: nothing to apply"
    assert reloader.state() == {
        "path": str(config_file), "loaded_at": 1000.0, "rejected": None, "restart_pending": []
    }  # fmt: skip
    assert REGISTRY.get_sample_value("newsflow_config_rejected") == 0


def test_settings_waiting_for_a_restart_are_reported_until_the_file_agrees_again(
    config_file: Path,
) -> None:
    """A change only a restart applies was one log line per reload, which scrolls away:
    the status page's ``config`` section and the gauge keep saying which settings the
    file changes that do not run, through later reloads, until the edit is undone."""
    reloader = ConfigReloader(config_file, {}, load_config(config_file, environ={}))
    original = config_file.read_text(encoding="utf-8")
    write(config_file, {**BASE, "storage": {"url": "sqlite:///two.db"},
                        "service": {"http_enabled": False, "http_port": 9999}})  # fmt: skip
    reloader.request()
    assert reloader.poll() is None, "nothing that applies live changed"
    assert reloader.state()["restart_pending"] == ["storage.url", "service.http_port"]
    assert REGISTRY.get_sample_value("newsflow_config_restart_pending") == 2

    write(config_file, {**BASE, "storage": {"url": "sqlite:///two.db"},
                        "schedule": {"default_interval_seconds": 60}})  # fmt: skip
    reloader.request()
    assert reloader.poll() is not None, "the schedule applies live"
    assert reloader.running.storage.url.endswith("/one.db"), "the running value stays"
    assert reloader.state()["restart_pending"] == ["storage.url"]
    assert REGISTRY.get_sample_value("newsflow_config_restart_pending") == 1

    config_file.write_text(original, encoding="utf-8")
    reloader.request()
    reloader.poll()
    assert reloader.state()["restart_pending"] == []
    assert REGISTRY.get_sample_value("newsflow_config_restart_pending") == 0


def test_a_watched_file_is_reloaded_when_its_mtime_changes(config_file: Path) -> None:
    clock = [0.0]
    watched = config(service={"http_enabled": False, "reload_on_change": True,
                              "reload_check_seconds": 5})  # fmt: skip
    write(config_file, watched.model_dump(mode="json"))
    reloader = ConfigReloader(config_file, {}, load_config(config_file, environ={}),
                              clock=lambda: clock[0])  # fmt: skip
    raw = watched.model_dump(mode="json")
    raw["feeds"] = raw["feeds"][1:]
    write(config_file, raw)
    stat = config_file.stat()
    os.utime(config_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert reloader.poll() is not None, "checked at once on the first turn"
    raw["feeds"] = []
    write(config_file, raw)
    os.utime(config_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    clock[0] = 4.0
    assert reloader.poll() is None, "not before reload_check_seconds"
    clock[0] = 5.0
    new = reloader.poll()
    assert new is not None and new.feeds == []


# -- applying feeds to a poller and scheduler ---------------------------------------------


def test_applying_a_new_feed_list_keeps_known_feeds_times_and_adds_the_new_ones(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    state = FeedStateRepository(db)
    old = config(schedule={"jitter": 0})
    now = [1000.0]
    scheduler = Scheduler(old.feeds, old.schedule, state, clock=lambda: now[0],
                          rng=random.Random(1))  # fmt: skip
    scheduler.record(old.feeds[1], _ok("b"))
    b_due = scheduler.due_at("b")
    fetcher = build_fetcher(FetchConfig())
    poller = FeedPoller(fetcher, state, old)

    new = config(
        feeds=[BASE["feeds"][1], {"name": "c", "url": "https://c.example/feed"}],
        schedule={"jitter": 0, "max_entries_per_poll": 50},
    )
    apply_feed_config(poller, scheduler, fetcher, new)
    assert scheduler.due_at("a") is None
    assert scheduler.due_at("b") == b_due
    assert scheduler.due_at("c") == now[0], "a new feed is due at once (jitter 0)"
    assert poller.config is new and poller.limits.max_entries == 50
    assert [f.name for f in scheduler.due()] == ["c"]
    fetcher.close()
    db.close()


def test_a_feed_added_by_a_reload_is_due_at_once_with_the_default_schedule(
    tmp_path: Path,
) -> None:
    """README: "SIGHUP to the added feed's article stored: 2.9 s". With the default
    schedule (900 s, jitter 0.1) an added feed's first poll used to be spread like a
    start's, up to 90 s away; one added back while backing off keeps its stored time."""
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    state = FeedStateRepository(db)
    state.set_schedule("back", interval_seconds=900, next_due_at=5000.0)
    now = [1000.0]
    running = config()
    assert running.schedule.jitter > 0 and running.schedule.default_interval_seconds == 900
    scheduler = Scheduler(running.feeds, running.schedule, state, clock=lambda: now[0])
    fetcher = build_fetcher(FetchConfig())
    poller = FeedPoller(fetcher, state, running)
    now[0] = 1010.0
    added = [{"name": f"new{i}", "url": f"https://new{i}.example/feed"} for i in range(20)]
    back = {"name": "back", "url": "https://back.example/feed"}
    apply_feed_config(poller, scheduler, fetcher, config(feeds=[*BASE["feeds"], *added, back]))
    assert {scheduler.due_at(f["name"]) for f in added} == {1010.0}
    assert scheduler.due_at("back") == 5000.0
    due = {f.name for f in scheduler.due()}
    assert {f["name"] for f in added} <= due and "back" not in due
    fetcher.close()
    db.close()


def _ok(feed: str) -> Any:
    from pipeline.polling import PollResult

    return PollResult(feed=feed, status="ok")


def test_the_reloaded_fetcher_reads_the_new_local_feeds_and_refuses_others(
    tmp_path: Path,
) -> None:
    old_file, new_file = tmp_path / "old.xml", tmp_path / "new.xml"
    for file in (old_file, new_file):
        file.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    start = config(feeds=[{"name": "old", "url": str(old_file)}])
    network = build_fetcher(start.fetch, local_feeds=[str(old_file)])
    reloaded = LocalFeedsFetcher(network, config(feeds=[{"name": "new", "url": str(new_file)}]))
    assert reloaded.fetch_local_feed(str(new_file)).body.startswith(b"<rss")
    with pytest.raises(FetchRefused):
        reloaded.fetch_local_feed(str(old_file))
    reloaded.close()
    assert network.fetch_local_feed(str(old_file)).status == 200, "the original is left open"
    network.close()


class StoreGoesAway(FeedStateRepository):
    """Feed state whose store is away for the next ``outages`` reads of every feed."""

    outages = 0

    def all(self) -> Any:
        if self.outages:
            self.outages -= 1
            raise StoreUnavailable("PostgreSQL is restarting (injected)")
        return super().all()


def test_a_reload_that_meets_a_store_outage_changes_nothing_and_is_tried_again(
    tmp_path: Path, config_file: Path
) -> None:
    """The new feed's state cannot be read: nothing of the reload is applied, the
    reloader keeps the old config, and the next turn applies the whole reload."""
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    state = StoreGoesAway(db)
    running = load_config(config_file, environ={})
    scheduler = Scheduler(running.feeds, running.schedule, state)
    fetcher = build_fetcher(FetchConfig())
    poller = FeedPoller(fetcher, state, running)

    class Target:
        def reconfigure(self, new: Config) -> None:
            apply_feed_config(poller, scheduler, fetcher, new)

    now = [1000.0]
    reloader = ConfigReloader(config_file, {}, running, wall_clock=lambda: now[0])
    control = LoopControl(reloader=reloader)
    loaded_at, now[0] = now[0], 2000.0
    write(config_file, {
        **BASE,
        "feeds": [*BASE["feeds"], {"name": "c", "url": "https://c.example/feed"}],
        "schedule": {"max_entries_per_poll": 50},
    })  # fmt: skip
    reloader.request()
    state.outages = 1

    with pytest.raises(StoreUnavailable):
        control.tick(Target())
    assert scheduler.due_at("c") is None
    assert poller.config is running and scheduler.config == running.schedule
    assert reloader.running is running and reloader.state()["loaded_at"] == loaded_at

    control.tick(Target())  # the store is back
    assert scheduler.due_at("c") is not None
    assert poller.config is reloader.running and poller.limits.max_entries == 50
    assert scheduler.config.max_entries_per_poll == 50
    assert reloader.state()["loaded_at"] == 2000.0
    fetcher.close()
    db.close()
