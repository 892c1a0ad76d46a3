"""The Markdown tables of ``make bench``: every figure next to its target."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "embedded_vs_limit": 0.80,
    "kafka_vs_limit": 0.70,
    "embedded_vs_naive": 2.0,
    "kafka_p99_s": 2.0,
    "soak_growth": 0.10,
    "polling_core_share": 0.5,
}
ROWS = (
    ("limit", "(1) limit: trafilatura alone, one process per core, pages from disk"),
    ("naive", "(2) naive peer: sequential feedparser + urllib3 + trafilatura + sqlite3"),
    ("embedded", "(3) newsflow embedded: `newsflow run --once`, feed poll to stored row"),
    ("kafka", "(4) newsflow on Kafka: `newsflow run --once`, each stage its own process"),
)


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Each pipeline against the limit measured around it, and embedded against naive:
    over whole commands, and over their time at work (``..._at_work``)."""

    def rate(name: str, key: str = "rate") -> float | None:
        row = results.get(name) or {}
        value = row.get(key)
        return float(value) if value else None

    def divide(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    out: dict[str, float | None] = {}
    for suffix, key in (("", "rate"), ("_at_work", "working_rate")):
        embedded = rate("embedded", key)
        out[f"embedded_vs_limit{suffix}"] = divide(embedded, rate("embedded", f"limit_{key}"))
        out[f"kafka_vs_limit{suffix}"] = divide(rate("kafka", key), rate("kafka", f"limit_{key}"))
        out[f"embedded_vs_naive{suffix}"] = divide(embedded, rate("naive", key))
    return out


def render_markdown(results: dict[str, Any]) -> str:
    results["ratios"] = ratios(results)
    parts = [_header(results)]
    if "limit" in results:
        parts += [_throughput(results), _targets(results)]
    if "polling" in results:
        parts.append(_polling(results["polling"]))
    if "soak" in results:
        parts.append(_soak(results["soak"]))
    if "feed_polling_component" in results:
        component = results["feed_polling_component"]
        parts.append(f"### bench.feed_polling\n\n```\n{component}\n```")
    return "\n\n".join(parts)


def _header(results: dict[str, Any]) -> str:
    m = results["machine"]
    corpus = results["corpus"]
    kinds = ", ".join(f"{n} {k}" for k, n in corpus["feed_kinds"].items())
    variant = " (--quick)" if results.get("quick") else ""
    return (
        f"## newsflow benchmarks{variant}\n\n"
        f"Commit {m['commit']}, {m['started']}; {m['cores']} cores, Python {m['python']}. "
        f"Load average at start {m['load_at_start']}, at end {m.get('load_at_end')}: "
        f"the machine is shared, so figures move from run to run.\n"
        f"Corpus: {corpus['pages']} pages (mean {corpus['mean_page_kb']} KB) from "
        f"{corpus['sites']} sites, {corpus['feeds']} feeds ({kinds}), seed {corpus['seed']}."
    )


def _throughput(results: dict[str, Any]) -> str:
    lines = [
        "| measurement | articles | wall s | articles/s | at work s | articles/s at work | CPU s"
        " | cores used | CPU ms/article | peak RSS MB per process | other CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for key, label in ROWS:
        row = results.get(key) or {}
        if "skipped" in row or not row:
            lines.append(f"| {label} | skipped: {row.get('skipped', 'not run')} |||||||||")
            continue
        lines.append(
            f"| {label} | {row['articles']} | {row['wall_s']} | **{row['rate']}**"
            f" | {row.get('working_s')} | {row.get('working_rate')} | {row['cpu_s']}"
            f" | {row['cores_used']} | {row['cpu_ms_per_article']} | {_memory(row['peak_rss_mb'])}"
            f" | {_other(row.get('other_cpu_s', {}))} |"
        )
    runs = results.get("limit_runs") or []
    if runs:
        rates = ", ".join(str(r["rate"]) for r in runs)
        around = "; ".join(
            f"{key} {results[key]['limit_rate']}"
            for key, _ in ROWS[1:]
            if "limit_rate" in (results.get(key) or {})
        )
        lines.append(
            f"\nThe limit ran before and after each measurement ({rates} articles/s; the row"
            f" shows their mean). Each ratio below uses the mean of the two runs around its"
            f" measurement: {around}. At work: from the first page handed to the pool (1), the"
            f" first request (2) or the first feed poll the corpus server saw (3, 4) to the last"
            f" result or stored row; start-up (interpreter, imports, processes, group joins) and"
            f" shutdown left out.{_startups(results)}"
        )
    return "### Throughput, end to end\n\n" + "\n".join(lines)


def _targets(results: dict[str, Any]) -> str:
    r = results["ratios"]
    latency = results.get("kafka_latency") or {}
    lines = [
        "| target | measured | wanted | met |",
        "|---|---:|---:|:---:|",
    ]
    for key, label in (
        ("embedded_vs_limit", "embedded / limit (3/1)"),
        ("kafka_vs_limit", "Kafka / limit (4/1)"),
        ("embedded_vs_naive", "embedded / naive (3/2)"),
    ):
        lines.append(_row(f"{label}, whole commands", r[key], TARGETS[key]))
        lines.append(_row(f"{label}, at work", r.get(f"{key}_at_work"), TARGETS[key]))
    if latency:
        lines.append(
            f"| Kafka latency discovered -> stored at {latency['rate']}/s (half max): p50"
            f" {latency['p50_s']} s, p99 | {latency['p99_s']} s | <= {TARGETS['kafka_p99_s']} s"
            f" | {_met(latency['p99_s'] <= TARGETS['kafka_p99_s'])} |"
        )
    return "### Targets\n\n" + "\n".join(lines)


def _polling(p: dict[str, Any]) -> str:
    share = p["core_share_10000_per_15min"]
    unchanged_ok = (
        p["unchanged_not_modified"] == p["unchanged_polls"] == p["unchanged_http_304"]
        and p["unchanged_body_bytes"] == 0 and p["unchanged_entries"] == 0
    )  # fmt: skip
    statuses = ", ".join(f"{k} {v}" for k, v in p["steady_statuses"].items())
    return (
        "### Feed polling (served feeds with validators, 15-minute schedule, time compressed)\n\n"
        "| figure | measured | wanted | met |\n|---|---:|---:|:---:|\n"
        f"| {p['feeds']} feeds, {p['simulated_hours']} h simulated: steady-state polls"
        f" ({statuses}), new entries {p['steady_entries']} | {p['steady_polls']} | | |\n"
        f"| CPU per 1,000 polls (steady state) | {p['cpu_s_per_1000_polls']} s | | |\n"
        f"| one core's share for 10,000 feeds per 15 minutes | {share:.3f} | < 0.5"
        f" | {_met(share < 0.5)} |\n"
        f"| unchanged feeds: 304s / polls, body bytes, entries | {p['unchanged_http_304']}"
        f" / {p['unchanged_polls']}, {p['unchanged_body_bytes']} B, {p['unchanged_entries']}"
        f" | all 304, 0 B, 0 | {_met(unchanged_ok)} |\n"
        f"| CPU per 1,000 unchanged polls; DB rows written per unchanged poll |"
        f" {p['unchanged_cpu_s_per_1000_polls']} s; {p['unchanged_db_rows_per_poll']} | | |\n"
        f"| first polls (full downloads): polls, entries, CPU | {p['first_polls']},"
        f" {p['first_entries']}, {p['first_cpu_s']} s | | |"
    )


def _soak(s: dict[str, Any]) -> str:
    curve = ", ".join(f"{c['articles']}: {c['total_mb']}" for c in s["checkpoints"])
    return (
        "### Soak (embedded pipeline, WARC-style entries with bodies)\n\n"
        "| figure | measured | wanted | met |\n|---|---:|---:|:---:|\n"
        f"| memory (RSS, all processes) after {s['baseline_articles']} -> after {s['articles']}"
        f" articles | {s['baseline_mb']} -> {s['final_mb']} MB ({s['growth']:+.1%})"
        f" | <= +{TARGETS['soak_growth']:.0%} | {_met(s['met'])} |\n"
        f"| articles/s; stored, duplicates, dead letters | {s['rate']}; {s['stored']},"
        f" {s['duplicates']}, {s['dead_letters']} | | |\n\n"
        f"Memory (MB) by articles: {curve}."
    )


def _startups(results: dict[str, Any]) -> str:
    starts = [
        f"{key} {results[key]['startup_s']} s"
        for key in ("embedded", "kafka")
        if "startup_s" in (results.get(key) or {})
    ]
    return f" Start-up to the first feed poll: {', '.join(starts)}." if starts else ""


def _row(label: str, value: float | None, wanted: float) -> str:
    if value is None:
        return f"| {label} | n/a | >= {wanted} | - |"
    return f"| {label} | {value:.2f} | >= {wanted} | {_met(value >= wanted)} |"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _memory(peaks: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in peaks.items() if k != "resource_tracker")


def _other(other: dict[str, float]) -> str:
    return ", ".join(f"{k} {v}" for k, v in other.items()) or "-"
