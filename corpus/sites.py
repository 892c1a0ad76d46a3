"""Sites and their pages: seeded, reproducible, with ground truth.

Every site has its own HTML template (one of several layout families with its
own class names, markup for residue and metadata habits) and its own residue
plan: lines it repeats on every page, lines it rotates, and lines that change
per page. :func:`generate_site_pages` is the entry point::

    pages = generate_site_pages(n_sites=10, pages_per_site=20, seed=7)
    page = pages[0]
    page.url, page.html, page.sentences, page.residue, page.published_at

The same seed always yields byte-identical pages. ``size_kb`` pads pages with
realistic chrome (navigation, state scripts, sidebars) up to a size range, for
throughput benchmarks on real-sized pages.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from corpus.banks import BANKS
from corpus.layouts import LAYOUTS, Parts, pad_to_size
from corpus.prose import TOPICS, Article, fill, headline, write_article
from corpus.residue import (
    BYLINES,
    CALLS_TO_ACTION,
    CHROME,
    CMS_STRINGS,
    KICKERS,
    PHOTO_CREDITS,
    PROGRAMME_TEASERS,
    RELATED_PREFIXES,
    SHOW_NAMES,
)

LANGUAGE_CYCLE = ("en", "fr", "de", "es", "en", "en", "de", "fr", "es", "en", "en", "de")
NAME_PARTS: dict[str, tuple[list[str], list[str]]] = {
    "en": (
        [
            "Harbour",
            "Riverside",
            "Northgate",
            "Kingsbridge",
            "Westmoor",
            "Ashford",
            "Cedar",
            "Lakeshore",
            "Millbrook",
            "Greystone",
            "Fairhaven",
            "Oakridge",
        ],
        [
            "Courier",
            "Herald",
            "Observer",
            "Gazette",
            "Chronicle",
            "Post",
            "Ledger",
            "Dispatch",
            "Radio",
            "Daily",
            "Tribune",
            "Times",
        ],
    ),
    "de": (
        ["Rheinblick", "Elbtal", "Nordsee", "Alpen", "Havel", "Main", "Spree", "Weser"],
        ["Zeitung", "Anzeiger", "Rundschau", "Kurier", "Nachrichten", "Tagblatt", "Rundfunk"],
    ),
    "fr": (
        ["Loire", "Provence", "Rivage", "Montagne", "Bocage", "Garonne", "Rhône", "Lagune"],
        ["Matin", "Dépêche", "Républicain", "Journal", "Écho", "Courrier", "Radio"],
    ),
    "es": (
        ["Meseta", "Costa", "Sierra", "Ribera", "Levante", "Cantábrico", "Estrecho", "Páramo"],
        ["Diario", "Heraldo", "Correo", "Crónica", "Noticias", "Gaceta", "Radio"],
    ),
}
EPOCH = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Placed:
    """A residue line and where the template puts it: top, after paragraph N, or bottom."""

    text: str
    where: str  # "top", "middle" or "bottom"


@dataclass(frozen=True)
class Site:
    domain: str
    name: str
    language: str
    layout: str
    topics: tuple[str, ...]
    fixed: tuple[Placed, ...]  # on every page
    rotating: tuple[Placed, ...]  # each on about half of the pages
    related_prefix: str | None  # a per-page "Read more: <headline>" line, if the site has one
    photo_credit: str | None  # a per-page photo credit template
    byline_in_body: bool  # "By <author>" repeated inside the article text
    markup: str  # how residue lines are marked up: p, div, strong, h4, link
    www: bool


@dataclass(frozen=True)
class Page:
    """One generated article page with its ground truth."""

    url: str
    html: str
    site: str
    site_name: str
    language: str
    topic: str
    title: str
    authors: list[str]
    published_at: datetime
    paragraphs: list[str]  # article body lines: standfirst, subheadings, paragraphs
    sentences: list[str]  # every sentence and subheading of the body
    residue: list[str]  # in-article residue lines, in page order
    chrome: list[str] = field(default_factory=list)  # navigation/footer strings off the article


def generate_sites(n_sites: int, seed: int) -> list[Site]:
    """``n_sites`` distinct publishers, each with its own template and residue plan."""
    rng = random.Random(f"sites-{seed}")
    sites: list[Site] = []
    used: set[str] = set()
    for index in range(n_sites):
        language = LANGUAGE_CYCLE[index % len(LANGUAGE_CYCLE)]
        name = _site_name(rng, language, used)
        sites.append(_make_site(rng, index, name, language))
    return sites


def generate_site_pages(
    n_sites: int,
    pages_per_site: int,
    seed: int,
    *,
    size_kb: tuple[int, int] | None = None,
) -> list[Page]:
    """Pages of ``n_sites`` sites, interleaved in publication order (as a service sees them)."""
    sites = generate_sites(n_sites, seed)
    per_site = [
        [
            render_page(
                site, index, random.Random(f"{seed}-{site.domain}-{index}"), size_kb=size_kb
            )
            for index in range(pages_per_site)
        ]
        for site in sites
    ]
    pages = [p for group in per_site for p in group]
    return sorted(pages, key=lambda p: (p.published_at, p.url))


def render_page(
    site: Site,
    index: int,
    rng: random.Random,
    *,
    article: Article | None = None,
    size_kb: tuple[int, int] | None = None,
) -> Page:
    """Page ``index`` of ``site``; pass ``article`` to publish a given text (syndication)."""
    if article is None:
        article = write_article(rng, language=site.language, topic=rng.choice(site.topics))
    published = EPOCH + timedelta(hours=index * 7 + rng.randint(0, 5), minutes=rng.randint(0, 59))
    slug = _slug(article.title)[:60]
    host = f"www.{site.domain}" if site.www else site.domain
    url = f"https://{host}/{article.topic}/{published:%Y/%m/%d}/{slug}-{index}"
    top, middle, bottom = _residue_for_page(site, article, rng)
    parts = Parts(
        site_name=site.name,
        domain=host,
        url=url,
        language=site.language,
        article=article,
        published_at=published,
        top=top,
        middle=middle,
        bottom=bottom,
        markup=site.markup,
        chrome=CHROME[site.language],
        most_read=[headline(rng, language=site.language, topic=t) for t in rng.sample(TOPICS, 4)],
        image=f"https://{host}/media/{index:04d}.jpg",
    )
    html = LAYOUTS[site.layout](parts)
    if size_kb is not None:
        html = pad_to_size(html, rng, target=rng.randint(*size_kb) * 1024, parts=parts)
    residue = [line for line, _ in top] + [line for line, _ in middle] + bottom
    return Page(
        url=url,
        html=html,
        site=site.domain,
        site_name=site.name,
        language=site.language,
        topic=article.topic,
        title=article.title,
        authors=article.authors,
        published_at=published,
        paragraphs=article.lines,
        sentences=article.sentences,
        residue=residue,
        chrome=[c for c in parts.chrome_strings if c != article.title],  # a headline may recur
    )


def _residue_for_page(
    site: Site, article: Article, rng: random.Random
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[str]]:
    """Residue of one page: (top lines, (middle line, after paragraph), bottom lines)."""
    chosen = list(site.fixed) + [p for p in site.rotating if rng.random() < 0.5]
    bank = BANKS[site.language]
    top = [(p.text, 0) for p in chosen if p.where == "top"]
    if site.byline_in_body:
        top.append((BYLINES[site.language].format(author=" and ".join(article.authors)), 0))
    middle_slots = max(1, len(article.paragraphs) - 1)
    middle = [(p.text, rng.randrange(1, middle_slots + 1)) for p in chosen if p.where == "middle"]
    if site.photo_credit and rng.random() < 0.7:
        middle.append((fill(rng, bank, site.photo_credit), 1))
    if site.related_prefix and rng.random() < 0.8:
        teaser = headline(rng, language=site.language, topic=article.topic)
        middle.append((site.related_prefix + teaser, rng.randrange(1, middle_slots + 1)))
    bottom = [p.text for p in chosen if p.where == "bottom"]
    return top, middle, bottom


def _make_site(rng: random.Random, index: int, name: str, language: str) -> Site:
    layout = sorted(LAYOUTS)[index % len(LAYOUTS)]
    shows = SHOW_NAMES[language] + SHOW_NAMES["en"][:3]
    teaser = rng.choice(PROGRAMME_TEASERS[language]).format(
        show=rng.choice(shows), n=rng.randint(2, 9), code=rng.choice(["DC", "NW", "RX", "ZB", "AV"])
    )
    ctas = rng.sample(CALLS_TO_ACTION[language], 3)
    cms = rng.sample(CMS_STRINGS, 2)
    fixed = [Placed(ctas[0], "bottom"), Placed(cms[0], "bottom"), Placed(teaser, "bottom")]
    if rng.random() < 0.6:
        fixed.insert(0, Placed(rng.choice(KICKERS[language]), "top"))
    if rng.random() < 0.5:
        fixed.append(Placed(cms[1], "middle"))
    rotating = [
        Placed(ctas[1], "bottom"),
        Placed(rng.choice(shows), "bottom"),
        Placed(ctas[2], rng.choice(["middle", "bottom"])),
    ]
    rng.shuffle(fixed)
    return Site(
        domain=_slug(name).replace("-", "") + ".example",
        name=name,
        language=language,
        layout=layout,
        topics=tuple(rng.sample(TOPICS, 3)),
        fixed=tuple(sorted(fixed, key=lambda p: ("top", "middle", "bottom").index(p.where))),
        rotating=tuple(rotating),
        related_prefix=rng.choice(RELATED_PREFIXES[language]) if rng.random() < 0.7 else None,
        photo_credit=rng.choice(PHOTO_CREDITS[language]) if rng.random() < 0.6 else None,
        byline_in_body=rng.random() < 0.4,
        markup=rng.choice(["p", "p", "div", "strong", "h4", "link"]),
        www=rng.random() < 0.7,
    )


def _site_name(rng: random.Random, language: str, used: set[str]) -> str:
    places, nouns = NAME_PARTS[language]
    for _ in range(200):
        name = f"{rng.choice(places)} {rng.choice(nouns)}"
        if language == "en" and rng.random() < 0.4:
            name = "The " + name
        if name not in used:
            used.add(name)
            return name
    name = f"{rng.choice(places)} {rng.choice(nouns)} {len(used)}"
    used.add(name)
    return name


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    keep = "".join(c.lower() if c.isalnum() else "-" for c in ascii_text)
    return "-".join(part for part in keep.split("-") if part)
