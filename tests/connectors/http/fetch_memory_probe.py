"""Measure the memory one capped fetch takes; run by test_http_memory.py in a subprocess.

``python fetch_memory_probe.py CASE`` serves CASE from a local server, fetches
it once with the default 15 MiB cap and prints one JSON line: the outcome, the
tracemalloc peak of the fetch and how far the process's peak RSS (VmHWM, reset
just before the fetch) rose above its RSS before it. Linux only (/proc).
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from pathlib import Path

from http_fault_server import FaultServer, Handler, gzip_bomb, ok, respond, stream_zeros

from connectors.http.fetcher import HttpFetcher
from pipeline.config import FetchConfig
from pipeline.errors import BodyTooLarge

CAP = FetchConfig().max_body_bytes
GZIP = {"Content-Type": "text/html", "Content-Encoding": "gzip"}


def route(case: str) -> Handler:
    """Built before the baseline is taken, and only the one case measured."""
    if case == "huge":  # 100 MB, no Content-Length: only the streaming cap stops it
        return stream_zeros(100 * 1024 * 1024, announce=False)
    if case == "bomb":  # 256 MiB of zeros in one gzip stream of about 260 KB
        return respond(200, gzip_bomb(256 * 1024 * 1024), GZIP)
    if case == "full":  # exactly the cap, gzipped: accepted and returned
        return respond(200, gzip_bomb(CAP, fill=b"a"), GZIP)
    raise SystemExit(f"unknown case {case!r}")


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc (VmRSS now, VmHWM = peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise SystemExit(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Start the VmHWM high-water mark afresh (Linux clear_refs "5")."""
    Path("/proc/self/clear_refs").write_text("5")


def main(case: str) -> None:
    with FaultServer({"/warm": ok(b"<p>warm</p>"), f"/{case}": route(case)}) as server:
        config = FetchConfig(allow_private_networks=True, respect_robots=False, min_host_interval=0)
        fetcher = HttpFetcher(config)
        fetcher.fetch(server.url("/warm"))
        gc.collect()
        rss_before = status_bytes("VmRSS")
        reset_peak_rss()
        tracemalloc.start()
        try:
            outcome = f"{len(fetcher.fetch(server.url(f'/{case}')).body)} bytes"
        except BodyTooLarge:
            outcome = "BodyTooLarge"
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result = {
            "case": case,
            "outcome": outcome,
            "cap": CAP,
            "tracemalloc_peak": traced_peak,
            "rss_growth": status_bytes("VmHWM") - rss_before,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
