"""What runtime tests that fetch from a real HTTP server on 127.0.0.1 share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.config import parse_config
from pipeline.runtime.wiring import Resources

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve in a thread until the block ends."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def local_resources(store_url: str, **fetch: object) -> Iterator[Resources]:
    """Resources whose fetcher may reach 127.0.0.1 at once (no robots.txt, no host
    interval), extraction in this process, plus the ``fetch`` settings given."""
    config = parse_config(
        {
            "storage": {"url": store_url},
            "extract": {"workers": 1},
            "fetch": {
                "allow_private_networks": True,
                "respect_robots": False,
                "min_host_interval": 0,
                **fetch,
            },
        },
        base=ROOT,
    )
    opened = Resources(config)
    try:
        yield opened
    finally:
        opened.close()


def send_body(request: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
    """Answer 200 with ``body``."""
    request.send_response(200)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
