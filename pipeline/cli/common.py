"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import os

from pipeline.config import Config, load_config


def config_from(args: argparse.Namespace) -> Config:
    """Load and validate the config named by ``--config`` (or the environment)."""
    return load_config(getattr(args, "config", None), os.environ)
