"""The long-running service, measured: endpoints, status page, reload, stop, overhead.

``newsflow run`` runs as a subprocess against the offline demo (18 articles
of 7 publishers) served on 127.0.0.1, as the service tests do, and this
prints, each next to its budget or baseline:

- start: seconds until the HTTP endpoint listens, and until every demo
  article is stored;
- endpoint latency: median and worst of 30 requests to ``/healthz``,
  ``/readyz``, ``/metrics`` (and its size) and ``/api/status``;
- the status page in headless Chromium: milliseconds until it rendered its
  first status document (skipped without Chromium);
- SIGHUP after adding a feed: seconds until its article is stored;
- SIGTERM: seconds until exit, idle and in the middle of fetching (pages
  slowed to 0.5 s), against the 10 s limit;
- overhead: ``run --once`` on the demo with the endpoint on and off, best
  of ``--rounds``.

::

    python -m bench.service_endpoints [--rounds 3]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

# The demo site server and the subprocess driver are the service tests' own helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests/pipeline/service"))

from service_support import (
    MANIFEST,
    NEWSFLOW,
    REPO,
    FeedSite,
    ServiceProcess,
    wait_until,
    write_config,
)

STOP_LIMIT_S = 10.0
ENDPOINTS = ("/healthz", "/readyz", "/metrics", "/api/status")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def row(label: str, value: str, budget: str) -> None:
    print(f"  {label:<44} {value:>14}   {budget}")


def measure_running(work: Path) -> None:
    site = FeedSite(work / "site")
    config = work / "newsflow.yaml"
    settings = write_config(config, site, work / "news.db")
    started = time.monotonic()
    service = ServiceProcess(config)
    listening = time.monotonic() - started
    wait_until(lambda: service.stored() == len(MANIFEST["pages"]), 120, "the demo")
    all_stored = time.monotonic() - started
    print("start")
    row("endpoint listening after", f"{listening:.2f} s", "")
    row(f"all {len(MANIFEST['pages'])} demo articles stored after", f"{all_stored:.2f} s", "")
    print("endpoint latency (30 requests each)")
    for path in ENDPOINTS:
        times = [timed(lambda p=path: service.get(p)) * 1000 for _ in range(30)]
        row(path, f"{statistics.median(times):.1f} ms", f"worst {max(times):.1f} ms")
    row("/metrics size", f"{len(service.get('/metrics')[1]) / 1024:.0f} KiB", "")
    page_ms = page_load_ms(service.url + "/")
    shown = f"{page_ms:.0f} ms" if page_ms is not None else "no Chromium"
    row("status page rendered (headless Chromium)", shown, "budget 1000 ms")

    feed_url, page_url = site.add_hostile_feed()
    config.write_text(yaml.safe_dump(
        {**settings, "feeds": [*settings["feeds"], {"name": "late", "url": feed_url}]}
    ), encoding="utf-8")  # fmt: skip
    sent = time.monotonic()
    service.process.send_signal(signal.SIGHUP)
    wait_until(lambda: any(a["url"] == page_url
                           for a in service.json("/api/status")["articles"]["recent"]),
               60, "the added feed's article")  # fmt: skip
    print("reload")
    row("SIGHUP to the added feed's article stored", f"{time.monotonic() - sent:.2f} s", "")
    code, took, _ = service.stop(signal.SIGTERM)
    print("stop")
    row(f"SIGTERM when idle (exit {code})", f"{took:.2f} s", f"limit {STOP_LIMIT_S:.0f} s")
    site.close()


def measure_stop_mid_run(work: Path) -> None:
    site = FeedSite(work / "site")
    config = work / "newsflow.yaml"
    write_config(config, site, work / "news.db", fetch={"per_host_concurrency": 1,
                                                        "concurrency": 2})  # fmt: skip
    site.slow_down_pages(0.5)
    service = ServiceProcess(config)
    wait_until(lambda: service.stored() >= 3, 60, "the first articles")
    code, took, _ = service.stop(signal.SIGTERM)
    row(f"SIGTERM while fetching (exit {code})", f"{took:.2f} s", f"limit {STOP_LIMIT_S:.0f} s")
    site.close()


def page_load_ms(url: str) -> float | None:
    if not Path("/usr/bin/chromium").exists() or not Path("/usr/bin/chromedriver").exists():
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="newsflow-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get("about:blank")
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                driver.get(url)
                WebDriverWait(driver, 20).until(
                    lambda d: (
                        d.find_element("tag name", "body").get_attribute("data-loaded") == "true"
                    )
                )
                best = min(best, (time.perf_counter() - started) * 1000)
            return best
        finally:
            driver.quit()


def measure_overhead(work: Path, rounds: int) -> None:
    site = FeedSite(work / "site")
    times: dict[bool, list[float]] = {True: [], False: []}
    for index in range(rounds):
        for enabled in (False, True):
            db = work / f"news-{enabled}-{index}.db"
            config = work / f"newsflow-{enabled}-{index}.yaml"
            write_config(config, site, db, service={"http_enabled": enabled, "http_port": 0})
            run = [*NEWSFLOW, "--config", str(config), "run", "--once"]
            times[enabled].append(timed(lambda r=run: subprocess.run(
                r, cwd=REPO, capture_output=True, check=True, timeout=300)))  # fmt: skip
    print(f"overhead: run --once on the demo, best of {rounds}")
    row("endpoint off (baseline)", f"{min(times[False]):.2f} s", "")
    row("endpoint on (metrics dir, sampler, server)", f"{min(times[True]):.2f} s",
        f"{(min(times[True]) / min(times[False]) - 1) * 100:+.0f} %")  # fmt: skip
    site.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        work = Path(tmp)
        measure_running(work / "running")
        measure_stop_mid_run(work / "mid-run")
        measure_overhead(work / "overhead", args.rounds)


if __name__ == "__main__":
    main()
