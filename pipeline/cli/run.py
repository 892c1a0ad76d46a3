"""``newsflow run``: the long-running service, or one pass with ``--once``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from pipeline import logs
from pipeline.cli.common import config_from
from pipeline.config import Config
from pipeline.runtime.signals import handle_signals
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run the pipeline as a service (or once with --once)",
        description="Poll the configured feeds and run every stage. Long-running by default: "
        "SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the config.",
    )
    parser.add_argument(
        "--once", action="store_true", help="poll every feed once, drain the pipeline and exit"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    logs.setup(config.service.log_format, config.service.log_level)
    stop = threading.Event()
    with handle_signals(stop):
        summary = (
            run_kafka(config, stop, once=args.once)
            if config.transport == "kafka"
            else (run_embedded(config, stop, once=args.once))
        )
    print(summary.render(), file=sys.stdout)
    return exit_status(summary)


def exit_status(summary: RunSummary) -> int:
    """1 when any feed failed or any message was dead-lettered: a script must notice."""
    problems = []
    if summary.feeds_failed:
        problems.append(f"{summary.feeds_failed} feed(s) failed (see the log above)")
    if summary.failures:
        problems.append(f"{summary.failures} dead letter(s) (newsflow dlq list)")
    if problems:
        print(f"newsflow: {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


def run_embedded(config: Config, stop: threading.Event, *, once: bool) -> RunSummary:
    from pipeline.runtime.service import EmbeddedService

    resources = Resources(config)
    service = EmbeddedService(config, resources)
    try:
        summary = service.run_once() if once else service.run_forever(stop)
        summary.stored_total = resources.articles.count(duplicates=False)
        summary.duplicates_total = resources.articles.count(duplicates=True)
        return summary
    finally:
        service.close()
        resources.close()


def run_kafka(config: Config, stop: threading.Event, *, once: bool) -> RunSummary:
    from pipeline.runtime.kafka_runner import run_kafka as run

    return run(config, stop, once=once)
