"""The limit: trafilatura alone over the corpus pages, read from disk, on every core.

A ``ProcessPoolExecutor`` with one process per core runs the same
trafilatura call newsflow makes (``bare_extraction`` with newsflow's
options: text and metadata from one parse), so only the plumbing around it
differs between this and newsflow. Prints one JSON line::

    python -m bench.e2e.limit --root .run/bench-corpus [--workers 2]
    {"articles": 2000, "pages": 2000, "seconds": 41.2, "warmup_seconds": 1.1}

``seconds`` runs from the first page handed to the pool to the last result;
``warmup_seconds`` is the pool start (processes spawned, trafilatura imported).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.e2e.corpus import load_manifest

_OPTIONS: dict[str, Any] = {}


def _warm() -> None:
    from trafilatura import bare_extraction

    from pipeline.config import ExtractConfig
    from pipeline.extraction.parse import trafilatura_options
    from pipeline.models import utcnow

    _OPTIONS.update(trafilatura_options(ExtractConfig(), now=utcnow()))
    bare_extraction("<html><body><p>warm up</p></body></html>", **_OPTIONS)


def _extract(path: str, url: str) -> bool:
    from trafilatura import bare_extraction
    from trafilatura.settings import Document

    html = Path(path).read_bytes().decode("utf-8")
    document = bare_extraction(html, url=url, **_OPTIONS)
    return isinstance(document, Document) and bool(document.text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    manifest = load_manifest(args.root)
    paths = [str(manifest.page_file(i)) for i in range(len(manifest.pages))]
    urls = [manifest.page_url(i, 80) for i in range(len(manifest.pages))]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_warm) as pool:
        list(pool.map(_noop, range(args.workers * 4)))
        warm = time.perf_counter() - started
        started = time.perf_counter()
        articles = sum(pool.map(_extract, paths, urls, chunksize=4))
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "articles": articles,
                "pages": len(paths),
                "seconds": seconds,
                "warmup_seconds": warm,
                "workers": args.workers,
            }
        )
    )
    return 0


def _noop(_: int) -> None:
    time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
