"""Config reload without a restart: on SIGHUP, or when the file changes.

The signal handler only raises a flag (:meth:`ConfigReloader.request`); the
service's loop calls :meth:`ConfigReloader.poll` each turn, which reads and
validates the file there, outside any signal handler and between batches::

    reloader = ConfigReloader(path, os.environ, config)
    ...each turn of the loop:
    new = reloader.poll()
    if new is not None:
        service.reconfigure(new)

What changes live: the feed list (added, removed, changed or disabled
feeds: the scheduler keeps the timing of feeds it already knew, and removed
feeds keep their state in the store, so adding one back resumes it), the
``schedule`` section and ``service.log_level`` and the reload settings.
Everything else (storage, transport, Kafka, fetch, extraction, dedup,
tagging, the HTTP endpoint) is wired into objects built at start: a change
there is logged as "needs a restart" and the running value stays in effect.

An invalid file is rejected as a whole with one log line per problem, and
the running config keeps running. That state lasts until a reload validates
(the file fixed, or restored to what runs): :meth:`ConfigReloader.state` says
so to the status page and ``newsflow_config_rejected`` to an alert, for an
operator who edited the file and would otherwise take the change for live.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connectors.feeds.base import FeedLimits
from connectors.http.base import Fetcher, FetchResponse, Purpose
from connectors.http.local import LocalFeedReader
from pipeline.config import Config, load_config
from pipeline.errors import ConfigError
from pipeline.polling.poller import FeedPoller
from pipeline.polling.scheduler import Scheduler
from pipeline.service.metrics import CONFIG_REJECTED, CONFIG_RELOADS, CONFIG_RESTART_PENDING

log = logging.getLogger(__name__)

MAX_REASON_PROBLEMS = 5
"""Problems named in a rejection's one-line reason; the log has every one."""
LIVE_SECTIONS = frozenset({"feeds", "schedule"})
LIVE_SERVICE_KEYS = frozenset(
    {
        "log_level",
        "reload_on_change",
        "reload_check_seconds",
        "liveness_timeout_seconds",
        "status_recent_articles",
    }
)


@dataclass(frozen=True)
class ConfigChange:
    """How a new config differs from the running one."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)
    """Dotted keys besides feeds that take effect at once."""
    restart: list[str] = field(default_factory=list)
    """Dotted keys that only a restart applies."""

    @property
    def applies(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.live)

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("feeds added:", self.added),
                ("feeds removed:", self.removed),
                ("feeds changed:", self.changed),
                ("settings changed:", self.live),
            )
            if names
        ]
        return "; ".join(parts) or "nothing that applies live"


@dataclass(frozen=True)
class Rejection:
    """The file on disk did not validate: when (epoch seconds), and why, in one line."""

    at: float
    reason: str


def rejection_reason(error: ConfigError) -> str:
    """The problems of ``error`` on one line, the first :data:`MAX_REASON_PROBLEMS` of them."""
    lines = error.lines()
    shown = "; ".join(lines[:MAX_REASON_PROBLEMS])
    more = len(lines) - MAX_REASON_PROBLEMS
    return f"{shown}; and {more} more (see the log)" if more > 0 else shown


def diff_config(old: Config, new: Config) -> ConfigChange:
    """Compare two configs: feeds by name, every other setting by dotted key."""
    old_feeds = {f.name: f for f in old.feeds}
    new_feeds = {f.name: f for f in new.feeds}
    live: list[str] = []
    restart: list[str] = []
    for key in changed_keys(old, new):
        section, _, name = key.partition(".")
        if section == "feeds":
            continue
        is_live = section in LIVE_SECTIONS or (section == "service" and name in LIVE_SERVICE_KEYS)
        (live if is_live else restart).append(key)
    return ConfigChange(
        added=sorted(set(new_feeds) - set(old_feeds)),
        removed=sorted(set(old_feeds) - set(new_feeds)),
        changed=sorted(n for n in set(old_feeds) & set(new_feeds) if old_feeds[n] != new_feeds[n]),
        live=live,
        restart=restart,
    )


def changed_keys(old: Config, new: Config) -> list[str]:
    """``section.key`` (or ``section`` for plain values) of every setting that differs."""
    keys: list[str] = []
    for section in Config.model_fields:
        before, after = getattr(old, section), getattr(new, section)
        if before == after:
            continue
        if isinstance(before, BaseModel) and isinstance(after, BaseModel):
            keys.extend(
                f"{section}.{name}"
                for name in type(before).model_fields
                if getattr(before, name) != getattr(after, name)
            )
        else:
            keys.append(section)
    return keys


def effective_config(running: Config, new: Config, restart_keys: list[str]) -> Config:
    """``new``, with the running values kept for settings that need a restart."""
    updates: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key in restart_keys:
        section, _, name = key.partition(".")
        if name:
            nested.setdefault(section, {})[name] = getattr(getattr(running, section), name)
        else:
            updates[section] = getattr(running, section)
    for section, fields in nested.items():
        updates[section] = getattr(new, section).model_copy(update=fields)
    return new.model_copy(update=updates)


class ConfigReloader:
    """Reads the config file again when asked (SIGHUP) or when it changed (if watching)."""

    def __init__(
        self,
        path: Path,
        environ: Mapping[str, str],
        running: Config,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.environ = environ
        self.running = running
        self.clock = clock
        self.wall_clock = wall_clock
        self.loaded_at = wall_clock()
        """When the running config was loaded (epoch seconds): at start or by a reload."""
        self.rejection: Rejection | None = None
        """Set while the file on disk is rejected and an older config runs."""
        self.restart_pending: list[str] = []
        """Dotted keys the file on disk changes that only a restart applies."""
        CONFIG_REJECTED.set(0)
        CONFIG_RESTART_PENDING.set(0)
        self._requested = threading.Event()
        self._acknowledged = False
        self._mtime = _mtime(path)
        self._next_check = clock()

    def state(self) -> dict[str, Any]:
        """The file, when the running config was loaded, while the file is rejected when
        and why, and the settings it changes that wait for a restart: the status page's
        ``config`` section (read from another thread)."""
        rejection = self.rejection
        return {
            "path": str(self.path),
            "loaded_at": self.loaded_at,
            "rejected": asdict(rejection) if rejection is not None else None,
            "restart_pending": list(self.restart_pending),
        }

    def request(self) -> None:
        """Ask for a reload at the next turn of the loop (safe in a signal handler)."""
        self._acknowledged = False
        self._requested.set()

    def acknowledge(self) -> bool:
        """True once per request that is still waiting: the loop's turn comes after the
        work in hand, which may take minutes, and the operator should know the signal
        arrived."""
        if self._requested.is_set() and not self._acknowledged:
            self._acknowledged = True
            return True
        return False

    def poll(self) -> Config | None:
        """Reload if requested or the watched file changed; the new config if it applies."""
        if self._requested.is_set():
            self._requested.clear()
            return self.reload("SIGHUP")
        if not self.running.service.reload_on_change or self.clock() < self._next_check:
            return None
        self._next_check = self.clock() + self.running.service.reload_check_seconds
        mtime = _mtime(self.path)
        if mtime == self._mtime:
            return None
        return self.reload("file change")

    def undo(self, previous: Config, loaded_at: float, error: Exception) -> None:
        """The reload just returned could not be applied (the store went away while it
        was): ``previous``, loaded at ``loaded_at``, stays the running config, and the
        reload is tried again at the next poll."""
        self.running = previous
        self.loaded_at = loaded_at
        self._requested.set()
        log.warning(
            "config reload not applied (%s); trying again", error,
            extra={"event": "config_reload_retry"},
        )  # fmt: skip

    def reload(self, why: str) -> Config | None:
        """Load and validate the file; apply what can change live, log the rest."""
        self._mtime = _mtime(self.path)
        try:
            new = load_config(self.path, self.environ)
        except ConfigError as exc:
            self._rejected(exc)
            for line in exc.lines():
                log.error(
                    "config reload rejected (%s): %s", why, line, extra={"event": "config_rejected"}
                )
            log.warning(
                "config reload rejected: the running config stays in effect",
                extra={"event": "config_rejected", "count": len(exc.problems)},
            )
            return None
        self._valid()
        change = diff_config(self.running, new)
        self._restart_pending(change.restart)
        for key in change.restart:
            log.warning(
                "config reload: %s changed: needs a restart (the running value stays in effect)",
                key, extra={"event": "config_needs_restart"},
            )  # fmt: skip
        if not change.applies:
            CONFIG_RELOADS.labels("unchanged").inc()
            log.info("config reloaded (%s): nothing that applies live changed", why,
                     extra={"event": "config_reload"})  # fmt: skip
            return None
        self.running = effective_config(self.running, new, change.restart)
        self.loaded_at = self.wall_clock()
        CONFIG_RELOADS.labels("applied").inc()
        log.info("config reloaded (%s): %s", why, change.describe(),
                 extra={"event": "config_reload", "count": len(self.running.feeds)})  # fmt: skip
        return self.running

    def _rejected(self, error: ConfigError) -> None:
        self.rejection = Rejection(self.wall_clock(), rejection_reason(error))
        CONFIG_RELOADS.labels("rejected").inc()
        CONFIG_REJECTED.set(1)

    def _restart_pending(self, keys: list[str]) -> None:
        """What the valid file on disk changes that waits for a restart: a change is
        logged once per reload, and the log scrolls; this stays until the file and the
        running config agree again (restarted, or the edit undone)."""
        self.restart_pending = keys
        CONFIG_RESTART_PENDING.set(len(keys))

    def _valid(self) -> None:
        """The file validates: whatever was rejected before is no longer on disk."""
        self.rejection = None
        CONFIG_REJECTED.set(0)


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# -- applying a new feed list to a poller and its scheduler ---------------------------------


class LocalFeedsFetcher:
    """A fetcher whose local feed files are those of the current config.

    The fetcher built at start only reads the files configured then (a guard
    against reading arbitrary paths); after a reload the poller gets this
    wrapper, which reads the new list and sends everything else to the
    original fetcher.
    """

    def __init__(self, network: Fetcher, config: Config) -> None:
        self.network = network
        self.local = LocalFeedReader(
            [f.url for f in config.feeds if f.is_local],
            max_body_bytes=config.schedule.max_feed_bytes,
        )

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        return self.network.fetch(url, purpose=purpose, etag=etag, last_modified=last_modified)

    def fetch_local_feed(
        self, path: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResponse:
        return self.local.fetch_local_feed(path, etag=etag, last_modified=last_modified)

    def close(self) -> None:
        """The original fetcher belongs to the process's resources, which close it."""


def apply_feed_config(
    poller: FeedPoller, scheduler: Scheduler, fetcher: Fetcher, config: Config
) -> None:
    """Point ``poller`` and ``scheduler`` at the feeds and schedule of ``config``.

    Feeds the scheduler knew keep their next poll time; new ones are due at
    once (:meth:`Scheduler.set_feeds`). The scheduler goes first: it reads the
    store, and if that fails nothing has changed yet.
    """
    scheduler.set_feeds(config.feeds, config.schedule)
    poller.config = config
    poller.limits = FeedLimits.from_config(config.schedule)
    poller.fetcher = LocalFeedsFetcher(fetcher, config)
