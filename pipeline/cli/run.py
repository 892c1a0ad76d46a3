"""``newsflow run``: the long-running service, or one pass with ``--once``.

The process serves ``/healthz``, ``/readyz``, ``/metrics`` and the status page
on ``service.http_port`` (see :mod:`pipeline.service.endpoints`). SIGTERM and
SIGINT stop it gracefully (exit 0 within seconds; a feed cut short is left
uncommitted and polled again); SIGHUP, or a change of the file when
``service.reload_on_change`` is set, reloads the config.

``--once`` exits 1 when a feed failed or a message was dead-lettered, so a
script notices; a feed deferred by its host's Retry-After is shown in the summary
but is not a failure. A long-running service that was asked to stop exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from pipeline import logs
from pipeline.cli.common import config_from, counted
from pipeline.config import Config, config_path
from pipeline.runtime.signals import handle_signals
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, check_stage_files, check_store_schema
from pipeline.service import ConfigReloader, Progress, ServiceEndpoints


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        description="Poll the configured feeds and run every stage. Long-running by default: "
        "SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the config. Serves /healthz, "
        "/readyz, /metrics and a status page on service.http_port.",
    )
    parser.add_argument(
        "--once", action="store_true", help="poll every feed once, drain the pipeline and exit"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    path = config_path(args.config, os.environ)
    check_stage_files(config)
    check_store_schema(config, source=str(path))
    logs.setup(config.service.log_format, config.service.log_level)
    stop = threading.Event()
    reloader = ConfigReloader(path, os.environ, config)
    endpoints = ServiceEndpoints(config, role="run", reloader=reloader)
    if config.transport == "kafka":
        watch_kafka(config, endpoints)
    with handle_signals(stop, reload=reloader.request), endpoints:
        if config.transport == "kafka":
            summary = run_kafka(config, stop, once=args.once, endpoints=endpoints)
        else:
            summary = run_embedded(config, stop, once=args.once, endpoints=endpoints)
    print(summary.render(), file=sys.stdout)
    return exit_status(summary) if args.once else 0


def exit_status(summary: RunSummary) -> int:
    """1 when any feed failed or was read in part, or any message was dead-lettered: a script
    must notice. A deferred feed (its host asked, via Retry-After, to be left alone) is not
    a failure: the summary shows it, and a poll after the host's wait reads it."""
    problems = []
    if summary.feeds_failed:
        problems.append(f"{counted(summary.feeds_failed, 'feed')} failed (see the log above)")
    if summary.feeds_partial:
        problems.append(
            f"{counted(summary.feeds_partial, 'feed')} read in part (see the log above)"
        )
    if summary.failures:
        problems.append(f"{counted(summary.failures, 'dead letter')} (newsflow dlq list)")
    if problems:
        print(f"newsflow: {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


def run_embedded(
    config: Config,
    stop: threading.Event,
    *,
    once: bool,
    endpoints: ServiceEndpoints | None = None,
) -> RunSummary:
    from pipeline.runtime.service import EmbeddedService

    resources = Resources(config)
    progress = Progress.for_terminal() if once or _has_backfill(config) else None
    control = endpoints.control if endpoints is not None else None
    service = EmbeddedService(config, resources, control=control, progress=progress)
    try:
        summary = service.run_once(stop) if once else service.run_forever(stop)
        summary.stored_total = resources.articles.count(duplicates=False)
        summary.duplicates_total = resources.articles.count(duplicates=True)
        return summary
    finally:
        if progress is not None:
            progress.close()
        service.close()
        resources.close()


def run_kafka(
    config: Config,
    stop: threading.Event,
    *,
    once: bool,
    endpoints: ServiceEndpoints | None = None,
) -> RunSummary:
    from pipeline.runtime.kafka_runner import run_kafka as run

    control = endpoints.control if endpoints is not None else None
    return run(config, stop, once=once, control=control)


def watch_kafka(config: Config, endpoints: ServiceEndpoints) -> None:
    """The broker and worker-group checks, gauges and letters of ``newsflow run`` on Kafka.

    Wired before the endpoint serves: added once the run began, a ``/readyz``
    asked in between said ready without the broker (200 from a process whose
    bootstrap address was wrong). The poll loop is expected at once: before it
    starts, topics are created, which with a wrong address takes 15 s to fail.
    """
    from pipeline.runtime.kafka_runner import group_id
    from pipeline.service.kafka_health import BrokerProbe
    from pipeline.topology import WORKERS

    probe = BrokerProbe(config, [group_id(config, w) for w in WORKERS])
    endpoints.add_slow_check("kafka", probe.ask)
    endpoints.on_scrape(probe.refresh_gauges)
    endpoints.letters_from(probe.dead_letters)
    endpoints.on_close(probe.close)
    endpoints.control.expect()


def _has_backfill(config: Config) -> bool:
    from connectors.feeds import is_warc_feed

    return any(f.enabled and is_warc_feed(f) for f in config.feeds)
