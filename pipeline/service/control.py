"""What a service loop does each turn besides its work: beat, and apply a pending reload.

The feed loops (embedded service, Kafka feed source) call :meth:`LoopControl.tick`
every turn and sleep through :meth:`LoopControl.wait`, which never sleeps
longer than :data:`TICK_SECONDS`: the heartbeat keeps moving while no feed is
due, and a SIGHUP is acted on within a second::

    control = LoopControl(health, reloader)
    while not stop.is_set():
        control.tick(service)                 # beat; service.reconfigure(new) on reload
        ...poll what is due...
        control.wait(stop, scheduler.seconds_until_next())

The runtime also tells it how the store stage's writes went (:meth:`LoopControl.stored`),
for readiness: the store's write probe commits while articles can still fail.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from pipeline import logs
from pipeline.config import Config
from pipeline.errors import StoreUnavailable
from pipeline.service.health import Health
from pipeline.service.reload import ConfigReloader
from pipeline.service.store_health import ArticleWrites

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Reconfigurable(Protocol):
    def reconfigure(self, config: Config) -> None:
        """Follow ``config`` (feeds and schedule); the rest needs a restart."""


class LoopControl:
    def __init__(
        self,
        health: Health | None = None,
        reloader: ConfigReloader | None = None,
        *,
        loop: str = "poll",
        article_writes: ArticleWrites | None = None,
    ) -> None:
        self.health = health
        self.reloader = reloader
        self.loop = loop
        self.article_writes = article_writes

    def stored(self, error: str | None = None) -> None:
        """The store stage's articles committed (``error`` None), or their write failed with
        a StorageError: readiness follows it (:class:`ArticleWrites`)."""
        if self.article_writes is not None:
            self.article_writes.record(error)

    def expect(self) -> None:
        """The loop is about to start: liveness fails until its first beat
        (:meth:`Health.expect`)."""
        if self.health is not None:
            self.health.expect(self.loop)

    def beat(self) -> None:
        if self.health is not None:
            self.health.beat(self.loop)

    def working(self) -> None:
        """Beat from inside the work of a turn (each message handled); a reload asked for
        meanwhile is acknowledged at once, though it applies at the next turn."""
        self.beat()
        if self.reloader is not None and self.reloader.acknowledge():
            log.info(
                "config reload requested; it applies once the work in hand is through",
                extra={"event": "config_reload_requested"},
            )

    def tick(self, target: Reconfigurable | None = None) -> None:
        """Beat; if a reload is pending and valid, hand the new config to ``target``."""
        self.beat()
        if self.reloader is None:
            return
        previous, loaded_at = self.reloader.running, self.reloader.loaded_at
        new = self.reloader.poll()
        if new is None:
            return
        logs.set_level(new.service.log_level)
        if self.health is not None:
            self.health.liveness_timeout = new.service.liveness_timeout_seconds
        if target is not None:
            try:
                target.reconfigure(new)
            except StoreUnavailable as exc:
                self.reloader.undo(previous, loaded_at, exc)
                raise

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to ``seconds`` (at most one tick); True when ``stop`` is set."""
        return stop.wait(max(0.05, min(seconds, TICK_SECONDS)))

    def finished(self) -> None:
        """The loop ended on purpose: liveness stops judging it."""
        if self.health is not None:
            self.health.forget(self.loop)
