// newsflow status page: polls /api/status and /readyz, renders with DOM calls only.
// Every value from the server is inserted as text (textContent), never as markup, and
// only http(s) URLs become links: article titles and feed errors are hostile input.
"use strict";

const POLL_MS = 5000;
const SVG_NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1a56a8", "#1f7a3a", "#a86400", "#7b3fb0", "#0f7c8c", "#b3261e"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

function link(url, text) {
  const href = safeHref(url);
  return href ? el("a", { href: href, rel: "noopener noreferrer nofollow" }, text) : el("span", {}, text);
}

function ago(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "never";
  const seconds = Date.now() / 1000 - epochSeconds;
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const HEALTH_CLASS = { "ok": "ok", "failing": "warn", "unhealthy": "bad", "never polled": "muted", "disabled": "muted" };

function renderFeeds(feeds) {
  const counts = Object.entries(feeds.by_status || {}).map(([k, v]) => `${v} ${k}`).join(", ");
  document.getElementById("feed-counts").textContent = `(${feeds.total}${counts ? ": " + counts : ""})`;
  fill(document.querySelector("#feeds tbody"), feeds.items.map((f) => el("tr", { "data-feed": f.name },
    el("td", {}, el("strong", {}, f.name), el("br"), el("span", { class: "meta" }, f.url)),
    el("td", { class: HEALTH_CLASS[f.status] || "" }, f.status, f.failures ? ` (${f.failures} failed)` : ""),
    el("td", {}, ago(f.last_attempt_at)),
    el("td", {}, ago(f.last_success_at)),
    el("td", {}, f.next_due_at ? ago(f.next_due_at) : "–"),
    el("td", { class: "error" }, f.last_error ? `${ago(f.last_error_at)}: ${f.last_error}` : ""),
  )));
}

function chips(values, cls) {
  return values.map((v) => el("span", { class: "chip " + (cls || "") }, v));
}

function renderArticles(articles) {
  const total = articles.total === null ? "store unavailable"
    : `${articles.total + articles.duplicates} stored: ${articles.total} articles, ${articles.duplicates} duplicates`;
  document.getElementById("article-counts").textContent = `(${total})`;
  document.getElementById("articles").replaceChildren(...articles.recent.map((a) => el("li", { class: "article", "data-article-id": a.id },
    link(a.url, a.title || a.url),
    el("div", { class: "meta" }, `${a.source} · ${a.language || "?"} · feeds: ${a.feeds.join(", ")} · stored ${a.stored_at}`),
    el("div", {},
      ...chips(a.topics),
      ...chips(a.entities.map((e) => `${e.name} (${e.type})`), "entity"),
      a.duplicate_of ? el("span", { class: "chip dup" }, `duplicate of ${a.duplicate_of.slice(0, 12)}`) : null),
  )));
}

function renderClusters(clusters) {
  const box = document.getElementById("clusters");
  if (!clusters.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No duplicates among the recent articles."));
    return;
  }
  box.replaceChildren(...clusters.map((c) => el("div", { class: "cluster", "data-cluster": c.cluster_id },
    el("strong", {}, `${c.size} articles`), " ", el("span", { class: "meta" }, c.cluster_id),
    el("ul", {}, ...c.members.map((m) => el("li", {},
      link(m.url, m.title || m.url), " ", el("span", { class: "meta" }, m.source + (m.duplicate_of ? " · duplicate" : " · original"))))),
  )));
}

function renderErrors(deadLetters, log) {
  document.getElementById("dead-letter-count").textContent =
    deadLetters.total === null ? "" :
      `(${deadLetters.total} dead letter${deadLetters.total === 1 ? "" : "s"} waiting)`;
  fill(document.querySelector("#dead-letters tbody"), deadLetters.recent.map((d) => el("tr", {},
    el("td", {}, d.last_failed_at), el("td", {}, d.stage), el("td", {}, d.reason),
    el("td", {}, String(d.attempts)), el("td", {}, d.retry_at ? `at ${d.retry_at}` : "on replay"),
    el("td", { class: "error" }, d.error))));
  fill(document.querySelector("#log tbody"), log.map((r) => el("tr", {},
    el("td", {}, r.ts), el("td", { class: r.level === "error" ? "bad" : "warn" }, r.level),
    el("td", {}, ["feed", "stage", "url", "reason"].filter((k) => r[k]).map((k) => `${k}=${r[k]}`).join(" ")),
    el("td", { class: "message" }, r.msg))));
}

function renderChart(throughput) {
  const series = Object.entries(throughput.series).filter(([, values]) => values.some((v) => v > 0));
  const width = 600, height = 160, pad = 24;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...series.flatMap(([, values]) => values));
  const axis = document.createElementNS(SVG_NS, "text");
  axis.setAttribute("x", "4"); axis.setAttribute("y", "14"); axis.setAttribute("font-size", "11"); axis.setAttribute("fill", "#68727f");
  axis.textContent = `max ${max}/min`;
  svg.append(axis);
  series.forEach(([name, values], i) => {
    const step = (width - 2 * pad) / Math.max(1, values.length - 1);
    const points = values.map((v, x) => `${(pad + x * step).toFixed(1)},${(height - pad - (v / max) * (height - 2 * pad)).toFixed(1)}`);
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLORS[i % COLORS.length]);
    line.setAttribute("stroke-width", "2");
    line.setAttribute("data-series", name);
    svg.append(line);
  });
  document.getElementById("chart").replaceChildren(svg);
  document.getElementById("legend").replaceChildren(...series.map(([name, values], i) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = COLORS[i % COLORS.length];
    return el("li", {}, swatch, `${name}: ${values.reduce((a, b) => a + b, 0)} in the hour`);
  }));
}

// What the store's part of the page shows when the store did not answer: its error (with
// for how long it has not answered), or, while it is only late, what it held and how long ago.
function renderStoreNotice(status) {
  const notice = document.getElementById("store-notice");
  const stale = status.store_stale;
  notice.hidden = !status.store_error && !stale;
  notice.className = "notice " + (status.store_error ? "bad" : "warn");
  notice.dataset.state = status.store_error ? "unavailable" : stale ? "stale" : "ok";
  notice.textContent = status.store_error ? `Store unavailable: ${status.store_error}`
    : stale ? `The store has not answered in time: showing what it held ${ago(stale.read_at)}.` : "";
}

// A config file a reload rejected: the older config keeps running, and whoever edited the
// file must not take the change for live. Cleared once a reload finds the file valid. A valid
// file whose changes wait for a restart says which settings, until the process runs them.
function renderConfigNotice(config) {
  const notice = document.getElementById("config-notice");
  const rejected = config && config.rejected;
  const pending = (config && config.restart_pending) || [];
  notice.hidden = !rejected && pending.length === 0;
  notice.className = "notice " + (rejected ? "bad" : "warn");
  notice.dataset.state = rejected ? "rejected" : pending.length ? "restart" : "ok";
  notice.textContent = rejected
    ? `Config file ${config.path} rejected ${ago(rejected.at)}: ${rejected.reason}. Still running the config loaded ${ago(config.loaded_at)}.`
    : pending.length
      ? `Config file ${config.path} changes ${pending.join(", ")}: only a restart applies ${pending.length === 1 ? "it" : "them"}; the running ${pending.length === 1 ? "value stays" : "values stay"} in effect.`
      : "";
}

function renderService(status, ready) {
  const s = status.service;
  document.getElementById("service").textContent = `${s.role} · ${s.transport} · up ${ago(s.started_at).replace(" ago", "")}`;
  renderConfigNotice(status.config);
  renderStoreNotice(status);
  const state = document.getElementById("state");
  const problem = status.store_error ? "store unavailable" : status.store_stale ? "store not answering"
    : !s.live ? "not live" : ready === false ? "not ready" : "ready";
  state.textContent = problem;
  state.className = "badge " + (problem === "ready" ? "ok" : "bad");
  document.getElementById("updated").textContent = `updated ${new Date(status.generated_at * 1000).toLocaleTimeString()}`;
}

async function readiness() {
  try {
    return (await fetch("/readyz", { cache: "no-store" })).ok;
  } catch (e) {
    return false;
  }
}

async function refresh() {
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const status = await response.json();
    renderService(status, await readiness());
    renderChart(status.throughput);
    renderFeeds(status.feeds);
    renderArticles(status.articles);
    renderClusters(status.clusters);
    renderErrors(status.dead_letters, status.log);
    document.body.dataset.loaded = "true";
  } catch (error) {
    const state = document.getElementById("state");
    state.textContent = `unreachable (${error.message})`;
    state.className = "badge bad";
  }
}

refresh();
setInterval(refresh, POLL_MS);
