"""Imported once by the worker fork server (:mod:`pipeline.runtime.processes`).

Importing this module is its purpose: what it imports and loads here, every
worker forked from the fork server starts with, shared copy-on-write,
instead of importing and loading it again. Only code and read-only models
belong here: no configuration (workers get theirs as an argument), no
thread, no database connection, no socket.
"""

from __future__ import annotations

import pipeline.runtime.embedded  # the extraction processes' code
import pipeline.runtime.kafka_runner  # noqa: F401 - the Kafka workers' code
from pipeline.extraction.metadata import load_language_model
from pipeline.extraction.urls import source_of

load_language_model()
source_of("https://www.example.com/")  # loads the Public Suffix List (~40 ms per process)
