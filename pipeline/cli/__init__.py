"""The ``newsflow`` command line.

Each command lives in its own module (:data:`COMMANDS`) with a
``register(subparsers)`` function that adds its parser and sets ``handler``;
only the module of the command given is imported. Errors the user can act on are
printed as one line (config problems: one line each, exit status 2); nothing
reaches the user as a traceback. A stop (SIGTERM/SIGINT) that came while the process
still waited for its broker is one line too, and exit status 0, as for any stop; so is
one while ``run`` or ``stage`` is still starting (importing its modules, reading its
config): it is recorded from the first moment the ``newsflow`` command runs newsflow's
code (:mod:`pipeline.entry`), and acted on before anything starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TextIO, cast

from pipeline.errors import ConfigError, InputError, NewsflowError, StoppedWhileWaiting
from pipeline.runtime.signals import stops_recorded


@dataclass(frozen=True)
class Command:
    module: str
    """Where the command's ``register(subparsers)`` and handlers live."""
    summary: str
    """Its line in ``newsflow --help``."""
    handles_signals: bool = False
    """It stops gracefully on SIGTERM/SIGINT (:func:`~pipeline.runtime.signals.handle_signals`),
    so a stop while it starts is recorded until then (:func:`main`)."""


COMMANDS = {
    "run": Command(
        "pipeline.cli.run",
        "run the pipeline as a service (or once with --once)",
        handles_signals=True,
    ),
    "stage": Command(
        "pipeline.cli.stage",
        "run one stage as a Kafka consumer-group member (scale out: start more)",
        handles_signals=True,
    ),
    "topics": Command("pipeline.cli.topics", "create or list the Kafka topics of the pipeline"),
    "dlq": Command("pipeline.cli.dlq", "list, replay or drop dead letters"),
    "feeds": Command("pipeline.cli.feeds", "feed tools (check)"),
    "extract": Command(
        "pipeline.cli.extract",
        "extract article text and metadata from HTML files, residue removed",
    ),
    "residue": Command("pipeline.cli.residue", "show or override learned per-source boilerplate"),
    "export": Command("pipeline.cli.export", "print every stored article as JSON Lines"),
    "search": Command("pipeline.cli.search", "full-text search over stored articles"),
    "cluster": Command("pipeline.cli.cluster", "list the articles of one duplicate cluster"),
    "schema": Command("pipeline.cli.schema", "print the JSON Schema of every topic message"),
    "store": Command(
        "pipeline.cli.store", "migrate the store's schema (a deploy step) or show its status"
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """``newsflow``'s parser: with ``command``, that command's full parser (its module is
    imported); without, the list of commands, which imports none of them."""
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
        help="YAML config (default: $NEWSFLOW_CONFIG, else ./config/newsflow.yaml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, known in COMMANDS.items():
        if command is None:
            sub.add_parser(name, help=known.summary, add_help=False)
        elif name == command:
            importlib.import_module(known.module).register(sub)
            own = sub.choices[name]
            own.description = own.description or known.summary
    return parser


def chosen_command(argv: Sequence[str] | None) -> str:
    """The first of two passes: the command given (or the answer to ``--help``), before
    its module is imported."""
    chosen, _ = build_parser().parse_known_args(argv)
    return str(chosen.command)


def parse_arguments(
    argv: Sequence[str] | None, command: str
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The second pass: the command's own arguments. Each command imports only its own
    code: ``run`` needs trafilatura, the broker client and the service, ``search`` only
    the store (0.5 s instead of 1.1-1.4)."""
    parser = build_parser(command)
    return parser, parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    handing_over: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> int:
    """Run the command ``argv`` names; its exit status.

    ``handing_over`` (:func:`pipeline.entry.handing_over`) hands the signals the
    ``newsflow`` command held since its start to the handlers put in place within.
    """
    try:
        command = chosen_command(argv)
    except KeyboardInterrupt:
        return 130
    # A stop while the command's module is imported (a second or more) is recorded for
    # its runtime, which stops at once: not a kill (-15) or a traceback.
    with ExitStack() as recording:
        try:
            with handing_over():
                if COMMANDS[command].handles_signals:
                    recording.enter_context(stops_recorded())
        except KeyboardInterrupt:  # a Ctrl-C held for a command that records no stop
            return 130
        return run_command(argv, command)


def run_command(argv: Sequence[str] | None, command: str) -> int:
    """Parse the command's arguments and run it; every error as one line and a status."""
    try:
        parser, args = parse_arguments(argv, command)
    except KeyboardInterrupt:
        return 130
    try:
        refuse_undecodable_arguments(parser, args)
        with guarded_stdout():
            status = int(args.handler(args) or 0)
            sys.stdout.flush()  # here, not at exit, so a failure is reported like any other
        return status
    except ConfigError as exc:
        for line in exc.lines():
            print(f"newsflow: {line}", file=sys.stderr)
        return 2
    except StoppedWhileWaiting as exc:
        print(f"newsflow: {exc}", file=sys.stderr)
        return 0
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


PATH_METAVARS = {"FILE"}
"""Arguments that name files: a file name is bytes on POSIX, and one that is not UTF-8
round-trips through ``os.fsencode``, so it is left to the open() that uses it."""


def refuse_undecodable_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Text arguments (a residue line, a cluster id, a --reason) must be UTF-8.

    Python hands bytes that are not UTF-8 over as lone surrogates, which fail much
    later, wherever the text is first encoded (a database, a JSON file), as an
    internal error; here they are one line naming the argument.
    """
    for action in _chosen_actions(parser, args):
        if action.metavar in PATH_METAVARS:
            continue
        values = getattr(args, action.dest, None)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and not _is_utf8(value):
                name = action.option_strings[0] if action.option_strings else action.metavar
                raise InputError(
                    f"argument {name or action.dest} is not UTF-8 text: {os.fsencode(value)!r}"
                )


def _chosen_actions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Iterator[Any]:
    """The arguments of the parser and of the subcommands chosen (argparse has no public
    way to walk them)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                yield from _chosen_actions(chosen, args)
        else:
            yield action


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
