"""The HTTP endpoint of one newsflow process, and the health state its loops feed.

``newsflow run`` and ``newsflow stage NAME`` open one :class:`ServiceEndpoints`
for the life of the process::

    with ServiceEndpoints(config, role="run", reloader=reloader) as endpoints:
        service = EmbeddedService(config, resources, control=endpoints.control)
        service.run_forever(stop)

Routes (port ``service.http_port``; 0 picks a free one, logged at start):

===============  ==========================================================
``/healthz``     liveness: 200 while every loop moved within
                 ``service.liveness_timeout_seconds``, else 503
``/readyz``      readiness: 200 when the store takes a write and its articles
                 are not failing (and on Kafka the broker answers and
                 partitions are assigned), else 503; answered within a second
                 (see :mod:`pipeline.service.store_health`)
``/metrics``     Prometheus text of this process and its worker processes;
                 answered within a second too, the DLQ size the last count
                 while the store does not answer (``store_read_age_seconds``)
``/``            the live status page (``/static/status.js`` + ``.css``)
``/api/status``  the JSON document the page polls; answered within a second
                 too, the store's part stale or missing while the store does
                 not answer (see :mod:`pipeline.service.status`)
===============  ==========================================================

With ``service.http_enabled: false`` nothing listens, but the health state
and the reload control still work (the loops do not care).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from pipeline import logs
from pipeline.config import Config
from pipeline.service.control import LoopControl
from pipeline.service.health import Check, Health, Report, SlowCheck
from pipeline.service.lookout import ANSWER_SECONDS
from pipeline.service.metrics import (
    DEAD_LETTERS_WAITING,
    STORE_READ_AGE,
    child_process_metrics,
    collect_metrics,
)
from pipeline.service.metrics import render_metrics as _render_metrics
from pipeline.service.reload import ConfigReloader
from pipeline.service.server import HttpServer, Response, Route, reused
from pipeline.service.status import StatusBuilder, StoreAccess
from pipeline.service.store_health import ArticleWrites, StoreProbe
from pipeline.service.throughput import Throughput

log = logging.getLogger(__name__)

METRICS_REUSE_SECONDS = 1.0
"""A ``/metrics`` answer serves every scrape for this long: a storm of scrapers costs one
render a second (see :func:`~pipeline.service.server.reused`); Prometheus scrapes every
15 s or more, so no one sees the difference."""

STATIC_TYPES = {
    "status.html": "text/html; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
    "status.css": "text/css; charset=utf-8",
}


class ServiceEndpoints:
    """Health, reload control, metrics and the status page of one process."""

    def __init__(
        self,
        config: Config,
        *,
        role: str,
        reloader: ConfigReloader | None = None,
        store: bool = True,
    ) -> None:
        self.config = config
        self.role = role
        self.reloader = reloader
        self.health = Health(liveness_timeout=config.service.liveness_timeout_seconds)
        self.article_writes = ArticleWrites()
        self.control = LoopControl(self.health, reloader, article_writes=self.article_writes)
        storage = config.storage
        self.store = StoreAccess(storage.url, migrate=storage.migrate_on_start) if store else None
        self.store_probe = (
            StoreProbe(storage.url, self.article_writes, migrate=storage.migrate_on_start)
            if store
            else None
        )
        self.server: HttpServer | None = None
        self._scrape_hooks: list[Callable[[], None]] = []
        self._counts_letters = False
        """Whether ``/metrics`` reports the store's dead letters (embedded; on Kafka the
        broker's records are the letters)."""
        self._child_dir: Path | None = None
        self._stack = ExitStack()
        self._stop_sampling = threading.Event()
        self.throughput = Throughput(lambda: collect_metrics(self._child_dir))
        self.status = StatusBuilder(
            config=self.current_config,
            role=role,
            store=self.store,
            health=self.health,
            throughput=self.throughput,
            recent_log=logs.RECENT,
            write_problem=self._last_write_problem,
            config_state=reloader.state if reloader is not None else lambda: None,
        )

    # -- wiring ---------------------------------------------------------------

    def current_config(self) -> Config:
        """The config in effect (after reloads)."""
        return self.reloader.running if self.reloader is not None else self.config

    def add_check(self, name: str, check: Check) -> None:
        self.health.add_check(name, check)

    def add_slow_check(self, name: str, check: SlowCheck) -> None:
        self.health.add_slow_check(name, check)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the endpoints close (clients opened for probes)."""
        self._stack.callback(closer)

    def letters_from(self, source: Callable[[], dict[str, Any] | None]) -> None:
        """The status page shows the dead letters ``source`` returns instead of the store's
        (on Kafka they are records of ``news.dlq`` and ``news.retry``)."""
        self.status.letters = source

    def on_scrape(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before each ``/metrics`` answer (refresh gauges read from elsewhere)."""
        self._scrape_hooks.append(hook)

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self) -> ServiceEndpoints:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        self.on_scrape(self._check_readiness)
        if self.store_probe is not None:
            self.add_slow_check("store", self.store_probe.ask)
            self.on_close(self.store_probe.close)
            self._counts_letters = self.config.transport == "embedded"
        service = self.config.service
        if not service.http_enabled:
            return
        self._child_dir = self._stack.enter_context(child_process_metrics())
        sampler = threading.Thread(
            target=self.throughput.run, args=(self._stop_sampling,), name="throughput",
            daemon=True,
        )  # fmt: skip
        sampler.start()
        self.server = HttpServer(
            service.http_host, service.http_port, self.routes(),
            max_connections=service.http_max_connections,
            request_timeout=service.http_request_timeout_seconds,
            allowed_hosts=service.http_allowed_hosts,
        )  # fmt: skip
        self.server.start()
        log.info(
            "serving /healthz /readyz /metrics and the status page on %s/", self.server.url,
            extra={"event": "http_listening", "url": f"{self.server.url}/"},
        )  # fmt: skip

    def close(self) -> None:
        self._stop_sampling.set()
        if self.server is not None:
            self.server.close()
            self.server = None
        self.status.close()
        self._stack.close()

    # -- routes ---------------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        """Path -> handler of every route this endpoint serves."""
        page = _static("status.html")
        return {
            "/": lambda: page,
            "/index.html": lambda: page,
            "/static/status.js": lambda: _static("status.js"),
            "/static/status.css": lambda: _static("status.css"),
            "/healthz": lambda: _report(self.health.liveness()),
            "/readyz": lambda: _report(self.health.readiness()),
            "/metrics": reused(self._metrics, METRICS_REUSE_SECONDS),
            "/api/status": lambda: Response.json(self.status.status()),
        }

    def _metrics(self) -> Response:
        """Every gauge refreshed, within about a second whatever the store and broker do:
        the DLQ size waits only what is left of :data:`ANSWER_SECONDS` after the hooks
        (readiness waits that long for a stalled store's probe; both in turn made 1.6 s)."""
        answer_by = time.monotonic() + ANSWER_SECONDS
        for hook in self._scrape_hooks:
            try:
                hook()
            except Exception as exc:  # a stale gauge is better than no metrics at all
                log.debug("metrics hook failed: %s", exc, exc_info=True)
        if self._counts_letters:
            self._count_dead_letters(answer_by)
        body = _render_metrics(self._child_dir)
        return Response(200, CONTENT_TYPE_LATEST, body, {"Cache-Control": "no-store"})

    def _check_readiness(self) -> None:
        """``newsflow_service_ready`` as ``/readyz`` would answer now: a service that only
        Prometheus watches (nothing calls ``/readyz``) must not read as never ready."""
        self.health.readiness()

    def _last_write_problem(self) -> str | None:
        return self.store_probe.last_write_problem() if self.store_probe is not None else None

    def _count_dead_letters(self, until: float) -> None:
        """The DLQ size read on the status reads' lookout (asked on the HTTP thread, it
        waited as long as the store: 25 s of a 25 s lock), the last count while the store
        does not answer, and how old the count is (before the first, the process's age; the
        DLQ size has no series until then: a 0 would read as an empty DLQ)."""
        counted = self.status.dead_letter_count(until)
        if counted is not None:
            DEAD_LETTERS_WAITING.labels("store").set(counted.value)
        read_at = self.status.started_at if counted is None else counted.at
        STORE_READ_AGE.set(max(0.0, self.status.clock() - read_at))


def _report(report: Report) -> Response:
    return Response.json({"ok": report.ok, **report.details}, status=200 if report.ok else 503)


def _static(name: str) -> Response:
    body = (resources.files("pipeline.service") / "static" / name).read_bytes()
    return Response(200, STATIC_TYPES[name], body, {"Cache-Control": "no-cache"})
