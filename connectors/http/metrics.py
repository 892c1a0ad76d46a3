"""Prometheus metrics of the fetcher (one definition, imported where counted)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

from pipeline.errors import FetchRefused

REQUESTS = Counter(
    "newsflow_fetch_requests",
    "HTTP requests sent, by host and outcome (HTTP status code or error reason).",
    ["host", "status"],
)
BYTES = Counter(
    "newsflow_fetch_bytes",
    "Response body bytes received from the network (before decompression).",
)
REFUSED = Counter(
    "newsflow_fetch_refused",
    "Fetches refused before anything was sent, by reason "
    "(scheme, ssrf, robots, content_type, rate_limited, invalid_url, local_path...).",
    ["reason"],
)
REPAIRED = Counter(
    "newsflow_pages_repaired",
    "Pages read as UTF-8 though some of their bytes were not UTF-8 (pasted windows-1252"
    " text, damage), by what those bytes were read as: the legacy encoding of the page's"
    " language (cp1252 without one), or replacement (U+FFFD).",
    ["stray_as"],
)


@contextmanager
def counting_refusals() -> Iterator[None]:
    """Count a FetchRefused passing through by its reason, then let it go on."""
    try:
        yield
    except FetchRefused as exc:
        REFUSED.labels(exc.reason).inc()
        raise
