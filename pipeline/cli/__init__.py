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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO, cast

from pipeline.errors import ConfigError, InputError, NewsflowError

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
        with guarded_stdout():
            status = int(args.handler(args) or 0)
            sys.stdout.flush()  # here, not at exit, so a failure is reported like any other
        return status
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


class _GuardedStdout:
    """``sys.stdout`` while a command runs: a write the OS refuses (a full disk, a quota)
    is the user's output that cannot be written, an :class:`InputError`, not a bug."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise  # the reader went away (``| head``): not an error
        except OSError as exc:
            raise _cannot_write(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _cannot_write(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _cannot_write(exc: OSError) -> InputError:
    return InputError(f"cannot write to standard output: {exc.strerror or exc}")


@contextmanager
def guarded_stdout() -> Iterator[None]:
    real = sys.stdout
    sys.stdout = cast(TextIO, _GuardedStdout(real))
    try:
        yield
    finally:
        sys.stdout = real


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
