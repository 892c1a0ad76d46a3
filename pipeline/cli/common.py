"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.errors import InputError


def config_from(args: argparse.Namespace, *, missing_ok: bool = False) -> Config:
    """Load and validate the config named by ``--config`` (or the environment).

    Without a config file, a command that needs the user's feeds, store or broker
    stops with one line saying how to give one; one that needs none of them
    (``missing_ok``) runs on the built-in defaults.
    """
    return load_config(getattr(args, "config", None), os.environ, missing_ok=missing_ok)


def existing_store_url(config: Config) -> str:
    """``storage.url`` for a command that reads or changes the store but does not make one.

    Opening a SQLite path creates its directories and an empty database, so a mistyped
    path used to report "exported 0 articles" (or "dropped 0 dead letters"); every
    command but ``run``, ``stage`` and ``store migrate`` refuses it. (They open it with
    ``access="read"`` or ``"write"``, which never create it either: this check is for the
    message, which names a command that creates it: with ``storage.migrate_on_start:
    false``, ``run`` refuses a store without the schema, so only ``store migrate`` does.)
    """
    url = config.storage.url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise InputError(f"no database at {path}; {_creates_it(config)}")
    return url


def _creates_it(config: Config) -> str:
    """Which command creates the store, as the config has it: ``run`` only migrates on start."""
    # imported here: the commands that never open the store do not import it
    from connectors.storage.migrations import MIGRATE_COMMAND

    if config.storage.migrate_on_start:
        return f"`newsflow run` or {MIGRATE_COMMAND} creates it"
    return (
        f"{MIGRATE_COMMAND} creates it (storage.migrate_on_start is false: `newsflow run` does not)"
    )


def counted(number: int, noun: str) -> str:
    """``1 dead letter``, ``2 dead letters``: a count as a user reads it."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
