"""``newsflow stage NAME``: run one stage of the pipeline as a Kafka consumer-group member.

``fetch``, ``extract``, ``dedup`` and ``store`` consume their topics in group
``<group_prefix>.<NAME>``; start the same command on more processes or
machines to share the work (the group spreads the partitions over them).
``poll`` runs the feed poller, producing new entries to ``news.items``: run
exactly one. SIGTERM/SIGINT finish the batch in flight, commit it and exit 0; at start,
they end the wait for a broker that has not answered yet (exit 0 too)::

    newsflow --config config/newsflow.yaml stage extract
    newsflow stage poll --once          # poll every feed once and exit
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import TYPE_CHECKING, Any

from pipeline import logs
from pipeline.cli.common import config_from
from pipeline.config import Config, config_path
from pipeline.errors import ConfigError
from pipeline.runtime.signals import handle_signals
from pipeline.runtime.summary import RunSummary
from pipeline.topology import WORKER_BY_NAME

if TYPE_CHECKING:
    from pipeline.service.control import LoopControl

STAGES = (*WORKER_BY_NAME, "poll")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "stage",
        description="Run one stage on Kafka until SIGTERM/SIGINT. Workers: "
        + ", ".join(f"{w.name} ({'+'.join(w.consumes)})" for w in WORKER_BY_NAME.values())
        + "; poll: the feed poller.",
    )
    parser.add_argument("name", choices=STAGES, metavar="NAME", help=" | ".join(STAGES))
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll: every feed once, then exit; workers: exit once idle for --idle-exit seconds",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --once, how long a worker waits for new records before exiting (default 5)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pipeline.runtime.wiring import check_store_schema
    from pipeline.service import ConfigReloader
    from pipeline.service.kafka_health import stage_endpoints

    config = config_from(args)
    path = config_path(args.config, os.environ)
    if config.transport != "kafka":
        # A poller here would mark entries seen in the store and publish them to a broker
        # no embedded service reads: `newsflow run` would never see them.
        raise ConfigError(
            [
                f"transport: is {config.transport!r}, and `newsflow stage` runs a worker on"
                " Kafka: set `transport: kafka` in the config, or use `newsflow run`"
            ],
            source=str(path),
        )
    if args.name != "fetch":  # the fetch worker never opens the store
        check_store_schema(config, source=str(path))
    logs.setup(config.service.log_format, config.service.log_level)
    stop = threading.Event()
    poller = args.name == "poll"
    reloader = ConfigReloader(path, os.environ, config) if poller else None
    endpoints, ticker = stage_endpoints(config, args.name, reloader)
    with handle_signals(stop, reload=reloader.request if reloader else None), endpoints:
        if poller:
            run_poller(config, stop, once=args.once, control=endpoints.control)
        else:
            from pipeline.runtime.kafka_runner import run_worker

            idle = args.idle_exit if args.once else None
            stored = endpoints.control.stored
            progress = ticker.progress if ticker is not None else None
            run_worker(
                config,
                args.name,
                stop,
                idle_timeout=idle,
                on_tick=ticker,
                on_progress=progress,
                on_stored=stored,
            )
    return 0


def run_poller(
    config: Config, stop: threading.Event, *, once: bool, control: LoopControl | None = None
) -> RunSummary:
    from pipeline.runtime.kafka_retry_later import letters_retried
    from pipeline.runtime.kafka_source import KafkaFeedSource
    from pipeline.runtime.wiring import Resources

    resources = Resources(config)
    source = KafkaFeedSource(config, resources, control=control, stop=stop)
    try:
        if once:
            return source.run_once()
        with letters_retried(config):  # the one poller also sends due dead letters back
            return source.run_forever(stop)
    finally:
        source.close()
        resources.close()
