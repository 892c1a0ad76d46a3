"""The ``newsflow`` command line.

Each command lives in its own module with a ``register(subparsers)`` function
that adds its parser and sets ``handler``. Errors the user can act on are
printed as one line (config problems: one line each, exit status 2); nothing
reaches the user as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pipeline.errors import ConfigError, NewsflowError

COMMAND_MODULES = [
    "pipeline.cli.run",
    "pipeline.cli.stage",
    "pipeline.cli.topics",
    "pipeline.cli.dlq",
    "pipeline.cli.feeds",
    "pipeline.cli.extract",
    "pipeline.cli.residue",
    "pipeline.cli.export",
    "pipeline.cli.search",
    "pipeline.cli.cluster",
    "pipeline.cli.schema",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow",
        description="Streaming news ingestion: feeds -> fetch -> extract -> dedup -> tag -> store.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of unexpected errors"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config (default: $NEWSFLOW_CONFIG or config/newsflow.yaml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports every command's code: a second or so
    except KeyboardInterrupt:
        return 130
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"newsflow: {exc.source}: {problem}", file=sys.stderr)
        return 2
    except NewsflowError as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"newsflow: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
