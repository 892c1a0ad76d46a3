"""``newsflow schema``: the JSON Schema of every message, for downstream consumers."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pipeline.errors import InputError
from pipeline.models import SCHEMA_VERSION, json_schemas


def register(sub: Any) -> None:
    parser = sub.add_parser("schema")
    parser.add_argument("--topic", help="only this logical topic (items, pages, articles, ...)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    schemas = json_schemas()
    if args.topic:
        if args.topic not in schemas:
            raise InputError(f"unknown topic {args.topic!r}; known: {', '.join(schemas)}")
        schemas = {args.topic: schemas[args.topic]}
    print(json.dumps({"schema_version": SCHEMA_VERSION, "topics": schemas}, indent=2))
    return 0
