"""The benchmark corpus: seeded article pages of real size, and the feeds that list them.

:func:`build_corpus` renders ``sites x pages_per_site`` pages with
:mod:`corpus` (each site its own template and residue plan, pages padded to
30-200 KB with realistic chrome) and writes them under ``root/pages``, with a
``manifest.json`` saying where each page lives and which feed lists it. The
same spec gives the same bytes, so a second build only reads the manifest::

    manifest = build_corpus(Path(".run/bench-corpus"), CorpusSpec(seed=11))
    manifest.pages[0].path, manifest.feeds[0].kind, manifest.site_host(0)

Each site is served on its own loopback address (``127.0.0.<10+i>``, see
:mod:`bench.e2e.server`), so the fetcher's per-host politeness, robots.txt
and learned boilerplate see twenty publishers, as they would on the web.
Every site has ``feeds_per_site`` feeds (RSS, Atom and JSON Feed in turn);
each page is listed by exactly one feed, so articles stored = pages.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from corpus.sites import generate_sites, render_page

FeedKind = Literal["rss", "atom", "jsonfeed"]
FEED_KINDS: tuple[FeedKind, ...] = ("rss", "atom", "jsonfeed")
FIRST_SITE_OCTET = 10
"""Site ``i`` is served on ``127.0.0.<FIRST_SITE_OCTET + i>``."""
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CorpusSpec:
    seed: int = 11
    sites: int = 20
    pages_per_site: int = 100
    feeds_per_site: int = 5
    size_kb: tuple[int, int] = (30, 200)

    @property
    def pages(self) -> int:
        return self.sites * self.pages_per_site

    @property
    def feeds(self) -> int:
        return self.sites * self.feeds_per_site


@dataclass(frozen=True)
class PageRecord:
    site: int
    path: str
    file: str
    title: str
    published_at: str
    authors: list[str]
    language: str
    bytes: int


@dataclass(frozen=True)
class FeedRecord:
    name: str
    site: int
    kind: FeedKind
    path: str
    pages: list[int]
    """Indices into :attr:`Manifest.pages`, newest last."""


@dataclass
class Manifest:
    root: Path
    spec: CorpusSpec
    site_names: list[str]
    pages: list[PageRecord] = field(default_factory=list)
    feeds: list[FeedRecord] = field(default_factory=list)

    @staticmethod
    def site_host(site: int) -> str:
        return f"127.0.0.{FIRST_SITE_OCTET + site}"

    def page_file(self, index: int) -> Path:
        return self.root / self.pages[index].file

    def page_url(self, index: int, port: int) -> str:
        page = self.pages[index]
        return f"http://{self.site_host(page.site)}:{port}{page.path}"

    def feed_url(self, feed: FeedRecord, port: int) -> str:
        return f"http://{self.site_host(feed.site)}:{port}{feed.path}"

    @property
    def mean_page_kb(self) -> float:
        return sum(p.bytes for p in self.pages) / max(1, len(self.pages)) / 1024

    def to_json(self) -> str:
        return json.dumps(
            {
                "spec": asdict(self.spec),
                "site_names": self.site_names,
                "pages": [asdict(p) for p in self.pages],
                "feeds": [asdict(f) for f in self.feeds],
            }
        )


def load_manifest(root: Path) -> Manifest:
    data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    spec = data["spec"]
    return Manifest(
        root=root,
        spec=CorpusSpec(**{**spec, "size_kb": tuple(spec["size_kb"])}),
        site_names=data["site_names"],
        pages=[PageRecord(**p) for p in data["pages"]],
        feeds=[FeedRecord(**f) for f in data["feeds"]],
    )


def build_corpus(root: Path, spec: CorpusSpec, *, workers: int = 2) -> Manifest:
    """Write the corpus of ``spec`` under ``root`` (or reuse it when it is already there)."""
    if (root / MANIFEST).exists():
        existing = load_manifest(root)
        if existing.spec == spec:
            return existing
    root.mkdir(parents=True, exist_ok=True)
    sites = generate_sites(spec.sites, spec.seed)
    with ProcessPoolExecutor(workers) as pool:
        per_site = list(
            pool.map(_render_site, [spec] * spec.sites, range(spec.sites), [root] * spec.sites)
        )
    manifest = Manifest(root=root, spec=spec, site_names=[s.name for s in sites])
    for site, records in enumerate(per_site):
        first = len(manifest.pages)
        manifest.pages.extend(records)
        manifest.feeds.extend(_site_feeds(spec, site, sites[site].domain, first, len(records)))
    (root / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _render_site(spec: CorpusSpec, site_index: int, root: Path) -> list[PageRecord]:
    """Render and write one site's pages (in a pool process); same bytes as ``corpus``."""
    site = generate_sites(spec.sites, spec.seed)[site_index]
    folder = root / "pages" / f"{site_index:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for index in range(spec.pages_per_site):
        rng = random.Random(f"{spec.seed}-{site.domain}-{index}")
        page = render_page(site, index, rng, size_kb=spec.size_kb)
        data = page.html.encode("utf-8")
        file = folder / f"{index:05d}.html"
        file.write_bytes(data)
        records.append(
            PageRecord(
                site=site_index,
                path=urlsplit(page.url).path,
                file=str(file.relative_to(root)),
                title=page.title,
                published_at=page.published_at.isoformat(),
                authors=page.authors,
                language=page.language,
                bytes=len(data),
            )
        )
    return records


def _site_feeds(
    spec: CorpusSpec, site: int, domain: str, first: int, count: int
) -> list[FeedRecord]:
    feeds = []
    for slot in range(spec.feeds_per_site):
        kind = FEED_KINDS[(site * spec.feeds_per_site + slot) % len(FEED_KINDS)]
        suffix = "json" if kind == "jsonfeed" else "xml"
        feeds.append(
            FeedRecord(
                name=f"{domain.split('.')[0]}-{slot}-{kind}",
                site=site,
                kind=kind,
                path=f"/feeds/{slot}.{suffix}",
                pages=[first + i for i in range(slot, count, spec.feeds_per_site)],
            )
        )
    return feeds
