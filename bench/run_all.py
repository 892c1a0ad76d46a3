"""``make bench``: newsflow against trafilatura alone and a naive script, in one run.

Builds (once, cached under ``.run/bench-corpus-*``) a seeded corpus of 2,000
article pages of 30-200 KB from 20 sites with their own templates and
residue, listed by 100 RSS, Atom and JSON feeds, serves it over HTTP on
loopback (:mod:`bench.e2e.server`) and measures, one after the other on the
same pages:

1. the limit: trafilatura alone on every core, pages read from disk (run
   before and after each of the others, which are compared with the mean of
   their two neighbours: the load of a shared machine drifts);
2. the naive peer: a sequential feedparser + urllib3 + trafilatura + sqlite3 script;
3. newsflow embedded: ``newsflow run --once`` with a fresh SQLite store;
4. newsflow on Kafka: the same with ``transport: kafka`` (each stage its own
   process), then the latency from discovery to storage at half that rate.

Then the feed-polling benchmarks (10,000 feeds with validators on a
compressed 15-minute schedule; and :mod:`bench.feed_polling`) and the soak
(:mod:`bench.soak`). Rates are articles over the wall time of the whole
command, start-up included; each row also has its rate at work, from its
first page handed out or feed polled to its last result or stored row
(start-up and shutdown left out on both sides of a ratio). Prints Markdown
tables with every figure next to its target and writes
``bench/results/latest.json`` and ``latest.md``::

    NEWSFLOW_TEST_KAFKA_BOOTSTRAP=127.0.0.1:19092 python -m bench.run_all [--quick]

Without a broker address the Kafka rows are skipped (and say so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.e2e.corpus import CorpusSpec, Manifest, build_corpus
from bench.e2e.procs import MeasuredRun, Sampler, kafka_broker_pid, run_measured
from bench.e2e.report import render_markdown
from bench.e2e.runs import (
    REPO,
    delete_topics,
    kafka_latency,
    last_stored_at,
    run_once,
    write_config,
)
from bench.e2e.server import CorpusServer

RESULTS = REPO / "bench" / "results"
FULL = {
    "corpus": CorpusSpec(seed=11, sites=20, pages_per_site=100, feeds_per_site=5),
    "poll_feeds": 10_000, "poll_hours": 1.0,
    "soak": 50_000, "soak_every": 5_000, "soak_baseline": 10_000,
    "latency_seconds": 60.0,
    "feed_polling_args": ["--feeds", "10000", "--hours", "2", "--rounds", "10"],
}  # fmt: skip
QUICK = {
    "corpus": CorpusSpec(seed=11, sites=20, pages_per_site=20, feeds_per_site=5),
    "poll_feeds": 1_000, "poll_hours": 0.5,
    "soak": 5_000, "soak_every": 1_000, "soak_baseline": 1_000,
    "latency_seconds": 15.0,
    "feed_polling_args": ["--feeds", "2000", "--hours", "0.5", "--rounds", "5"],
}  # fmt: skip


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "memory_source": "/proc/<pid>/status VmHWM (psutil not needed)",
    }


def figures(
    run: MeasuredRun, articles: int, extra_cpu: dict[str, float], *, working_s: float | None
) -> dict[str, Any]:
    """The common columns of one measured command; ``working_s`` is its time at work,
    start-up and shutdown left out."""
    return {
        "articles": articles,
        "wall_s": round(run.wall, 2),
        "rate": round(articles / run.wall, 2) if run.wall else 0.0,
        "working_s": round(working_s, 2) if working_s else None,
        "working_rate": round(articles / working_s, 2) if working_s else None,
        "cpu_s": round(run.cpu, 2),
        "cores_used": round(run.cpu / run.wall, 2) if run.wall else 0.0,
        "cpu_ms_per_article": round(run.cpu / articles * 1000, 2) if articles else None,
        "peak_rss_mb": run.peak_rss_mb(),
        "other_cpu_s": extra_cpu,
        "returncode": run.returncode,
    }


class Bench:
    def __init__(self, settings: dict[str, Any], manifest: Manifest, server: CorpusServer,
                 workdir: Path, bootstrap: str | None) -> None:  # fmt: skip
        self.settings = settings
        self.manifest = manifest
        self.server = server
        self.workdir = workdir
        self.bootstrap = bootstrap
        self.pages = len(manifest.pages)
        self.others = Sampler({"corpus server": server.pid,
                               "kafka broker": kafka_broker_pid(REPO / ".run") or 0})  # fmt: skip

    def measured(self, label: str, command: list[str]) -> tuple[MeasuredRun, dict[str, float]]:
        """Run ``command``; also the CPU the corpus server and the broker used meanwhile."""
        print(f"  {label} ... (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        self.others.start()
        run = run_measured(command)
        other = self.others.stop()
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
        return run, other

    def limit(self) -> dict[str, Any]:
        run, other = self.measured("limit: trafilatura alone",
                                   [sys.executable, "-m", "bench.e2e.limit",
                                    "--root", str(self.manifest.root)])  # fmt: skip
        inner = json.loads(run.stdout.strip().splitlines()[-1])
        out = figures(run, int(inner["articles"]), other, working_s=inner["seconds"])
        out["inner"] = inner
        return out

    def naive(self) -> dict[str, Any]:
        feeds = self.workdir / "feeds.txt"
        feeds.write_text("\n".join(self.manifest.feed_url(f, self.server.port)
                                   for f in self.manifest.feeds), encoding="utf-8")  # fmt: skip
        run, other = self.measured("naive sequential script",
                                   [sys.executable, "-m", "bench.e2e.naive", "--feeds", str(feeds),
                                    "--db", str(self.workdir / "naive.db")])  # fmt: skip
        inner = json.loads(run.stdout.strip().splitlines()[-1])
        out = figures(run, int(inner["articles"]), other, working_s=inner["seconds"])
        out["inner"] = inner
        return out

    def newsflow(self, transport: str) -> dict[str, Any]:
        db = self.workdir / f"{transport}.db"
        config = write_config(self.workdir / f"{transport}.yaml", self.manifest, self.server.port,
                              db=db, transport=transport, bootstrap=self.bootstrap)  # fmt: skip
        roles = ["extract"] if transport == "embedded" else _kafka_roles()
        print(f"  newsflow {transport} ... (load {os.getloadavg()[0]:.2f})", file=sys.stderr,
              flush=True)  # fmt: skip
        self.server.reset_stats()
        self.others.start()
        started = time.time()
        result = run_once(config, db, roles=roles)
        other = self.others.stop()
        if result.run.returncode != 0:
            print(result.run.stderr[-3000:], file=sys.stderr)
        if transport == "kafka":
            delete_topics(config)
        first_request = self.server.stats()["first_request_at"]
        last_row = last_stored_at(db)
        working = None
        if isinstance(first_request, float) and last_row is not None:
            working = last_row.timestamp() - first_request
        out = figures(result.run, result.stored + result.duplicates, other, working_s=working)
        out["summary"] = result.summary
        if working is not None:
            out["startup_s"] = round(first_request - started, 2)
        return out

    def warm_broker(self) -> None:
        """One untimed Kafka run over a tenth of the feeds first. A freshly started broker
        compiles its hot paths for minutes (its JIT used 0.9-1.6 s of CPU in each of the
        first 400-article runs, 0.5 s by the third), on the cores the pipeline is measured
        on; a broker in service has long done that."""
        db = self.workdir / "warm-up.db"
        config = write_config(self.workdir / "warm-up.yaml", self.manifest, self.server.port,
                              db=db, transport="kafka", bootstrap=self.bootstrap,
                              feeds=max(1, len(self.manifest.feeds) // 10))  # fmt: skip
        print(f"  broker warm-up ... (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        result = run_once(config, db, roles=_kafka_roles())
        delete_topics(config)
        if result.run.returncode != 0:
            print(result.run.stderr[-3000:], file=sys.stderr)

    def latency(self, rate: float) -> dict[str, Any]:
        db = self.workdir / "latency.db"
        config = write_config(self.workdir / "latency.yaml", self.manifest, self.server.port,
                              db=db, transport="kafka", bootstrap=self.bootstrap)  # fmt: skip
        print(f"  kafka latency at {rate:.1f}/s ... (load {os.getloadavg()[0]:.2f})",
              file=sys.stderr, flush=True)  # fmt: skip
        try:
            run = kafka_latency(config, db, self.manifest, self.server.port, rate=rate,
                                seconds=self.settings["latency_seconds"])  # fmt: skip
        finally:
            delete_topics(config)
        return {"rate": round(run.rate, 2), "produced": run.produced, "stored": run.stored,
                "p50_s": round(run.p50, 3), "p99_s": round(run.p99, 3),
                "max_s": round(run.max, 3)}  # fmt: skip

    def polling(self) -> dict[str, Any]:
        run, _ = self.measured("feed polling (served feeds, compressed schedule)",
                            [sys.executable, "-m", "bench.e2e.polling", "--base", self.server.base,
                             "--feeds", str(self.settings["poll_feeds"]),
                             "--hours", str(self.settings["poll_hours"])])  # fmt: skip
        data: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        data["peak_rss_mb"] = run.peak_rss_mb()
        return data

    def feed_polling_component(self) -> str:
        run, _ = self.measured("bench.feed_polling (scheduler and parse costs)",
                            [sys.executable, "-m", "bench.feed_polling",
                             *self.settings["feed_polling_args"]])  # fmt: skip
        return run.stdout.strip()

    def soak(self) -> dict[str, Any]:
        settings = self.settings
        run, _ = self.measured("soak", [sys.executable, "-m", "bench.soak", "--json",
                                        "--articles", str(settings["soak"]),
                                        "--every", str(settings["soak_every"]),
                                        "--baseline", str(settings["soak_baseline"])])  # fmt: skip
        data: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        data["cpu_s"] = round(run.cpu, 1)
        return data


def _kafka_roles() -> list[str]:
    """Worker processes in the order ``newsflow run`` starts them (see WorkerProcesses)."""
    return ["fetch", *["extract"] * (os.cpu_count() or 1), "dedup", "store"]


def run(settings: dict[str, Any], bootstrap: str | None, only: set[str]) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "quick": settings is QUICK}
    spec: CorpusSpec = settings["corpus"]
    print(f"corpus: {spec.pages} pages, {spec.sites} sites, {spec.feeds} feeds", file=sys.stderr)
    folder = f"bench-corpus-{spec.seed}-{spec.sites}x{spec.pages_per_site}"
    manifest = build_corpus(REPO / ".run" / folder, spec)
    results["corpus"] = {"pages": len(manifest.pages), "sites": spec.sites,
                         "feeds": len(manifest.feeds), "seed": spec.seed,
                         "mean_page_kb": round(manifest.mean_page_kb, 1),
                         "feed_kinds": _kinds(manifest)}  # fmt: skip
    for index in range(len(manifest.pages)):  # the page cache warm for every measurement
        manifest.page_file(index).read_bytes()
    with (
        tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp,
        CorpusServer(manifest.root, poll_feeds=settings["poll_feeds"]) as server,
    ):
        bench = Bench(settings, manifest, server, Path(tmp), bootstrap)
        if "e2e" in only:
            _end_to_end(bench, results)
        if "polling" in only:
            results["polling"] = bench.polling()
            results["feed_polling_component"] = bench.feed_polling_component()
        if "soak" in only:
            results["soak"] = bench.soak()
    results["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _end_to_end(bench: Bench, results: dict[str, Any]) -> None:
    """Each measurement between two runs of the limit, and compared with their mean: the
    load of a shared machine drifts, and neighbours see the same load."""
    if bench.bootstrap:
        bench.warm_broker()
    limits = [bench.limit()]
    measurements = {
        "naive": bench.naive,
        "embedded": lambda: bench.newsflow("embedded"),
        "kafka": lambda: bench.newsflow("kafka"),
    }
    if not bench.bootstrap:
        measurements.pop("kafka")
        results["kafka"] = {"skipped": "no broker: set NEWSFLOW_TEST_KAFKA_BOOTSTRAP"}
    for name, measure in measurements.items():
        results[name] = measure()
        limits.append(bench.limit())
        for key in ("rate", "working_rate"):
            around = (limits[-2][key] + limits[-1][key]) / 2
            results[name][f"limit_{key}"] = round(around, 2)
    if "kafka" in measurements:
        kafka = results["kafka"]
        most = kafka.get("working_rate") or kafka["rate"]  # the rate at work, when measured
        results["kafka_latency"] = bench.latency(max(1.0, most / 2))
    results["limit_runs"] = limits
    results["limit"] = _mean_of(limits)


def _mean_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The limit runs as one row: figures averaged, peaks from the first."""
    out = dict(runs[0])
    for key in ("wall_s", "rate", "working_s", "working_rate", "cpu_s", "cores_used",
                "cpu_ms_per_article"):  # fmt: skip
        out[key] = round(sum(r[key] for r in runs) / len(runs), 2)
    return out


def _kinds(manifest: Manifest) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for feed in manifest.feeds:
        kinds[feed.kind] = kinds.get(feed.kind, 0) + 1
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short variant (a few minutes)")
    parser.add_argument("--bootstrap", default=os.environ.get("NEWSFLOW_TEST_KAFKA_BOOTSTRAP"))
    parser.add_argument("--only", default="e2e,polling,soak",
                        help="comma-separated parts: e2e, polling, soak")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    results = run(settings, args.bootstrap, set(args.only.split(",")))
    markdown = render_markdown(results)
    print(markdown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
