"""A labelled dedup set, generated offline from a seed: stories, their copies, and decoys.

Every article carries a ``story`` label; two articles are duplicates exactly
when their labels are equal. The set mixes what dedup must merge and what it
must keep apart::

    positives  url variants (AMP, m., tracking parameters) of one page,
               syndicated copies with another publisher's boilerplate and dateline,
               changed headlines, 70-90 % truncations, light edits, and mixes of these
    negatives  distinct stories on the same topic sharing the topic's cast and stock
               phrases, follow-ups that reuse background paragraphs of an earlier
               story, templated market reports that differ only in their figures,
               and the two real seed articles (same topic, different stories)

``python -m bench.dedup_labelled --write`` writes the set to
``bench/data/dedup/labelled.jsonl`` for inspection; the evaluation regenerates
it from the same seed, so the two are always equal.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.models import EnrichedArticle, article_id

DATA_DIR = Path(__file__).parent / "data" / "dedup"
SEEDS_DIR = DATA_DIR / "seeds"
SEED = 20240601

FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Tomasz",
    "Elena",
    "David",
    "Priya",
    "Kwame",
    "Sofia",
    "Liam",
    "Hannah",
    "Mateo",
    "Grace",
    "Yusuf",
    "Chloe",
    "Daniel",
    "Ingrid",
    "Omar",
    "Kenji",
    "Lucia",
    "Nadia",
    "Pavel",
    "Rosa",
    "Samir",
    "Tariq",
    "Vera",
    "Walter",
    "Zainab",
    "Ahmed",
    "Bianca",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Harrington",
    "Moreau",
    "Castellano",
    "Nakamura",
    "Brennan",
    "Osei",
    "Whitfield",
    "Adeyemi",
    "Kowalski",
    "Farrell",
    "Delgado",
    "Thornton",
    "Quinn",
    "Petrov",
    "Haddad",
    "Silva",
    "Novak",
    "Rahimi",
    "Schmidt",
    "Tanaka",
    "Mendes",
    "Ivanova",
    "Karimi",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

TOPICS: dict[str, dict[str, list[str]]] = {
    "iran-russia": {
        "org": [
            "the foreign ministry in Tehran",
            "the Kremlin",
            "the Iranian parliament",
            "the Russian embassy",
            "the Eurasian Economic Union",
            "the Caspian summit",
        ],
        "place": ["Tehran", "Moscow", "the Caspian Sea", "Damascus", "Astana", "the Gulf"],
        "role": ["ambassador", "deputy foreign minister", "energy minister", "envoy", "lawmaker"],
        "thing": [
            "gas swap deal",
            "arms agreement",
            "rail corridor",
            "nuclear talks",
            "sanctions relief",
            "grain shipment",
            "drone programme",
            "trade route",
        ],
    },
    "rates": {
        "org": [
            "the central bank",
            "the monetary policy committee",
            "the finance ministry",
            "the statistics office",
            "the bond market",
            "the treasury",
        ],
        "place": ["Frankfurt", "London", "the eurozone", "Washington", "Tokyo", "Ottawa"],
        "role": ["governor", "chief economist", "finance minister", "rate setter", "strategist"],
        "thing": [
            "interest rate",
            "inflation target",
            "bond purchase scheme",
            "mortgage costs",
            "wage growth",
            "currency",
            "lending rules",
            "budget deficit",
        ],
    },
    "wildfire": {
        "org": [
            "the fire service",
            "the civil protection agency",
            "the regional government",
            "the weather bureau",
            "the forestry commission",
            "the army",
        ],
        "place": [
            "the northern hills",
            "the coastal towns",
            "the national park",
            "the valley",
            "the island",
            "the southern province",
        ],
        "role": ["fire chief", "mayor", "emergency coordinator", "meteorologist", "governor"],
        "thing": [
            "evacuation order",
            "water bomber",
            "fire line",
            "heatwave",
            "burned area",
            "power cut",
            "smoke plume",
            "relief fund",
        ],
    },
    "football": {
        "org": [
            "the club",
            "the league",
            "the football association",
            "the players union",
            "the supporters trust",
            "the board",
        ],
        "place": ["the stadium", "Madrid", "Manchester", "Milan", "the training ground", "Munich"],
        "role": ["manager", "striker", "captain", "sporting director", "goalkeeper", "chairman"],
        "thing": [
            "transfer fee",
            "contract extension",
            "title race",
            "relegation battle",
            "injury",
            "derby",
            "penalty",
            "loan deal",
        ],
    },
    "tech": {
        "org": [
            "the chipmaker",
            "the software group",
            "the competition regulator",
            "the data protection authority",
            "the start-up",
            "the cloud provider",
        ],
        "place": ["Silicon Valley", "Dublin", "Seoul", "Bangalore", "Berlin", "Shenzhen"],
        "role": ["chief executive", "engineer", "analyst", "regulator", "founder", "investor"],
        "thing": [
            "layoffs",
            "antitrust case",
            "data breach",
            "chip plant",
            "chatbot",
            "subscription price",
            "privacy fine",
            "funding round",
        ],
    },
    "health": {
        "org": [
            "the health ministry",
            "the drug regulator",
            "the hospital trust",
            "the vaccine maker",
            "the research institute",
            "the nurses union",
        ],
        "place": ["the capital", "rural clinics", "the teaching hospital", "the north", "Geneva"],
        "role": [
            "chief medical officer",
            "researcher",
            "epidemiologist",
            "health secretary",
            "nurse",
            "virologist",
        ],
        "thing": [
            "vaccine trial",
            "waiting list",
            "outbreak",
            "drug shortage",
            "strike",
            "screening programme",
            "clinical data",
            "booster campaign",
        ],
    },
    "election": {
        "org": [
            "the electoral commission",
            "the ruling party",
            "the opposition alliance",
            "the supreme court",
            "the parliament",
            "the observers mission",
        ],
        "place": [
            "the capital",
            "the provinces",
            "the border region",
            "polling stations",
            "the southern districts",
            "the diaspora",
        ],
        "role": ["candidate", "party leader", "campaign manager", "pollster", "senator", "mayor"],
        "thing": [
            "runoff",
            "turnout",
            "coalition talks",
            "ballot count",
            "recount",
            "debate",
            "manifesto",
            "vote buying claims",
        ],
    },
}

VERBS = [
    "said",
    "told reporters",
    "warned",
    "insisted",
    "confirmed",
    "argued",
    "noted",
    "announced",
    "acknowledged",
    "suggested",
    "claimed",
    "stressed",
]
CLAUSES = [
    "the {thing} would be reviewed before the end of {month}",
    "{org} had not been consulted about the {thing}",
    "talks on the {thing} could resume as early as {weekday}",
    "{n} people had been affected by the {thing} in {place}",
    "the cost of the {thing} had risen to {big} million",
    "there was no evidence that the {thing} had failed",
    "{org} expected the {thing} to take at least {n} months",
    "officials in {place} were preparing for a second {thing}",
    "the {thing} marked a turning point for {place}",
    "a decision on the {thing} was unlikely before {month}",
    "critics of the {thing} had underestimated public support",
    "the {thing} was part of a wider plan agreed in {place}",
    "about {pct} percent of residents opposed the {thing}",
    "{person} had been asked to lead a review of the {thing}",
    "the {thing} could cost {place} up to {big} jobs",
]
OPENERS = [
    "{person}, the {role}, {verb} on {weekday} that {clause}.",
    "Speaking in {place}, {person} {verb} that {clause}.",
    "{org} {verb} in a statement that {clause}.",
    "According to {org}, {clause}.",
    '"We believe {clause}," the {role} {person} {verb}.',
    "Earlier this week {org} {verb} that {clause}.",
    "In {month}, {person} {verb} that {clause}, a claim {org} disputed.",
    "{person} {verb} that {clause}, adding that {clause2}.",
    "The {thing} came after {org} {verb} that {clause}.",
    "It was not clear whether {clause}.",
    "Analysts {verb} that {clause}, while others expected {clause2}.",
    "By {weekday} evening, {org} had {verb2} that {clause}.",
]
VERB2 = ["conceded", "signalled", "reported", "indicated", "denied"]

BOILERPLATE = [
    "Subscribe to our daily newsletter for the latest headlines.",
    "Follow us on social media for breaking news.",
    "This article was originally published by {wire}.",
    "Copyright {year} {wire}. All rights reserved.",
    "Related coverage: {headline}",
    "Sign up for alerts and never miss a story.",
    "Reporting by {person}; editing by {person2}.",
    "Read more: {headline}",
    "Advertisement",
    "We use cookies to improve your experience on our site.",
]
WIRES = ["Global Wire", "Press Agency", "Newsdesk International", "United Reports"]
PUBLISHERS = [
    "dailyherald.example",
    "morningpost.example",
    "citytimes.example",
    "theobserver.example",
    "newsnow.example",
    "worldreport.example",
    "eveningstar.example",
    "regionalnews.example",
    "metrodaily.example",
]
SYNONYMS = {
    "said": "stated",
    "warned": "cautioned",
    "officials": "authorities",
    "residents": "locals",
    "expected": "anticipated",
    "cost": "price",
    "before": "ahead of",
    "about": "around",
    "people": "individuals",
    "review": "inquiry",
    "claim": "assertion",
    "talks": "negotiations",
}


@dataclass(frozen=True)
class Labelled:
    """One article of the set with its ground truth."""

    story: str
    variant: str
    url: str
    canonical_url: str
    title: str
    text: str
    published_at: datetime
    source: str
    feeds: list[str] = field(default_factory=list)

    def article(self) -> EnrichedArticle:
        return EnrichedArticle(
            id=article_id(self.url),
            url=self.url,
            canonical_url=self.canonical_url,
            title=self.title,
            text=self.text,
            published_at=self.published_at,
            source=self.source,
            feeds=self.feeds,
            fetched_at=self.published_at + timedelta(minutes=5),
        )


class Writer:
    """Seeded prose: a story is a cast (people, org, place, thing) and sentences about it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def fill(self, template: str, cast: dict[str, str], topic: str, *, top: bool = True) -> str:
        rng, bank = self.rng, TOPICS[topic]
        values = {
            "person": rng.choice([cast["person"], cast["person2"], self.person()]),
            "person2": cast["person2"],
            "role": rng.choice(bank["role"]),
            "org": rng.choice([cast["org"], rng.choice(bank["org"])]),
            "place": rng.choice([cast["place"], rng.choice(bank["place"])]),
            "thing": rng.choice([cast["thing"], cast["thing"], rng.choice(bank["thing"])]),
            "verb": rng.choice(VERBS),
            "verb2": rng.choice(VERB2),
            "weekday": rng.choice(WEEKDAYS),
            "month": rng.choice(MONTHS),
            "n": str(rng.randint(2, 98)),
            "big": str(rng.randint(2, 950)),
            "pct": f"{rng.randint(1, 49)}.{rng.randint(0, 9)}",
        }
        if "{clause" in template:
            values["clause"] = self.fill(rng.choice(CLAUSES), cast, topic, top=False)
            values["clause2"] = self.fill(rng.choice(CLAUSES), cast, topic, top=False)
        text = template.format(**values)
        return text[0].upper() + text[1:] if top else text

    def cast(self, topic: str) -> dict[str, str]:
        bank = TOPICS[topic]
        return {
            "person": self.person(),
            "person2": self.person(),
            "org": self.rng.choice(bank["org"]),
            "place": self.rng.choice(bank["place"]),
            "thing": self.rng.choice(bank["thing"]),
        }

    def paragraphs(self, topic: str, cast: dict[str, str], words: int) -> list[str]:
        out: list[str] = []
        count = 0
        while count < words:
            sentences = [
                self.fill(self.rng.choice(OPENERS), cast, topic)
                for _ in range(self.rng.choice((1, 2, 2, 3)))
            ]
            paragraph = " ".join(sentences)
            out.append(paragraph)
            count += len(paragraph.split())
        return out

    def headline(self, topic: str, cast: dict[str, str]) -> str:
        forms = [
            "{place} braces for {thing} as {org} weighs options",
            "{person} defends {thing} amid criticism",
            "What the {thing} means for {place}",
            "{org} under pressure over {thing}",
        ]
        return self.fill(self.rng.choice(forms), cast, topic)


def boilerplate(rng: random.Random, writer: Writer, headline: str) -> tuple[list[str], list[str]]:
    """A publisher's header and footer lines: what survives extraction on some sites."""

    def line() -> str:
        return rng.choice(BOILERPLATE).format(
            wire=rng.choice(WIRES),
            year=rng.randint(2019, 2024),
            headline=headline,
            person=writer.person(),
            person2=writer.person(),
        )

    return [line() for _ in range(rng.randint(0, 2))], [line() for _ in range(rng.randint(1, 3))]


def url_variant(rng: random.Random, url: str) -> str:
    scheme, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    forms = [
        f"{scheme}://m.{host}/{path}",
        f"{scheme}://{host}/{path}/amp",
        f"{scheme}://{host}/{path}?utm_source=rss&utm_medium=feed",
        f"{scheme}://{host.upper()}:443/{path}/?fbclid=abc{rng.randint(1, 999)}",
    ]
    return rng.choice(forms)


def edit_lightly(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """A handful of word swaps and one dropped sentence: what copy desks do to wire copy."""
    words = " \n ".join(paragraphs).split(" ")
    swaps = 0
    for i, word in enumerate(words):
        if word in SYNONYMS and rng.random() < 0.25 and swaps < 6:
            words[i] = SYNONYMS[word]
            swaps += 1
    edited = " ".join(words).split(" \n ")
    if len(edited) > 3:
        victim = rng.randrange(1, len(edited))
        sentences = edited[victim].split(". ")
        if len(sentences) > 1:
            sentences.pop(rng.randrange(len(sentences)))
            edited[victim] = ". ".join(sentences)
    return edited


def truncate(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """Keep the first 70-90 % of the words: a feed excerpt or a paywalled copy."""
    words = "\n".join(paragraphs).split(" ")
    keep = int(len(words) * rng.uniform(0.7, 0.9))
    return " ".join(words[:keep]).split("\n")


def generate(seed: int = SEED, stories: int = 120) -> list[Labelled]:
    """The whole labelled set: deterministic for a seed."""
    rng = random.Random(seed)
    writer = Writer(rng)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    out: list[Labelled] = []
    topics = sorted(TOPICS)
    background: dict[str, list[str]] = {}
    for number in range(stories):
        topic = topics[number % len(topics)]
        cast = writer.cast(topic)
        length = rng.choice((120, 250, 400, 600, 800))
        body = writer.paragraphs(topic, cast, length)
        if topic in background and rng.random() < 0.3:  # a follow-up reusing background
            body = body + background[topic]
        background[topic] = body[-2:]
        story = f"s{number:03d}"
        out.extend(_story(rng, writer, story, topic, cast, body, start + timedelta(hours=number)))
    out.extend(_market_reports(rng, start))
    out.extend(_seed_stories(rng, writer, start))
    return out


def _story(
    rng: random.Random,
    writer: Writer,
    story: str,
    topic: str,
    cast: dict[str, str],
    body: list[str],
    published: datetime,
) -> Iterator[Labelled]:
    title = writer.headline(topic, cast)
    home = rng.choice(PUBLISHERS)
    url = f"https://www.{home}/{topic}/{story}-{rng.randint(1000, 9999)}"
    yield Labelled(story, "original", url, url, title, "\n\n".join(body), published, home, [home])
    copies = rng.choice((0, 0, 1, 2, 3, 4, 5))
    kinds = [
        "url_variant",
        "syndicated",
        "headline",
        "truncated",
        "edited",
        "syndicated_truncated",
        "syndicated_edited",
    ]
    for n in range(copies):
        kind = rng.choice(kinds)
        publisher = rng.choice([p for p in PUBLISHERS if p != home])
        text_body = body
        new_title = title
        if "truncated" in kind:
            text_body = truncate(rng, text_body)
        if "edited" in kind:
            text_body = edit_lightly(rng, text_body)
        if kind == "headline":
            new_title = writer.headline(topic, cast)
        head, foot = boilerplate(rng, writer, writer.headline(topic, writer.cast(topic)))
        if kind.startswith("syndicated"):
            dateline = f"{cast['place'].upper()} ({rng.choice(WIRES)}) - "
            text_body = [dateline + text_body[0], *text_body[1:]]
        if kind != "url_variant":
            text_body = head + text_body + foot
        copy_url = (
            url_variant(rng, url)
            if kind == "url_variant"
            else f"https://{publisher}/news/{story}-{n}-{rng.randint(100, 999)}"
        )
        delay = timedelta(minutes=rng.randint(-90, 600))  # some copies are dated earlier
        yield Labelled(
            story,
            kind,
            copy_url,
            copy_url,
            new_title,
            "\n\n".join(text_body),
            published + delay,
            publisher,
            [publisher],
        )


def _market_reports(rng: random.Random, start: datetime) -> Iterator[Labelled]:
    """Daily reports from one template: same words, different figures, different stories."""
    for day in range(8):
        figures = [f"{rng.randint(1, 9)}.{rng.randint(0, 99):02d}" for _ in range(12)]
        text = (
            f"The benchmark index rose {figures[0]} percent to {figures[1]} points on"
            f" {WEEKDAYS[day % 7]}, led by energy shares that gained {figures[2]} percent."
            f" Banks added {figures[3]} percent while miners fell {figures[4]} percent as metal"
            f" prices slipped {figures[5]} percent. The currency traded at {figures[6]} against"
            f" the dollar, and ten-year bond yields eased {figures[7]} points to {figures[8]}"
            f" percent. Oil was {figures[9]} percent higher at {figures[10]} dollars a barrel,"
            f" and gold added {figures[11]} percent. Trading volume was below its monthly average"
            f" ahead of data on inflation and retail sales due later in the week."
        )
        url = f"https://markets.example/report/day-{day}"
        published = start + timedelta(days=day)
        yield Labelled(
            f"market{day}",
            "original",
            url,
            url,
            f"Markets on day {day}",
            text,
            published,
            "markets.example",
            ["markets.example"],
        )


def _seed_stories(rng: random.Random, writer: Writer, start: datetime) -> Iterator[Labelled]:
    """The two real seed articles (same topic, different stories), each with real copies."""
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        story = f"seed-{path.stem}"
        body = [p.strip() for p in path.read_text(encoding="utf-8").split("\n") if p.strip()]
        url = f"https://seednews.example/{path.stem}"
        title = f"Seed article {path.stem}"
        yield Labelled(story, "seed", url, url, title, "\n\n".join(body), start, "seednews.example")
        head, foot = boilerplate(rng, writer, "Iran and Russia deepen ties")
        copy = "https://syndicate.example/" + path.stem
        yield Labelled(
            story,
            "syndicated",
            copy,
            copy,
            title,
            "\n\n".join(head + body + foot),
            start + timedelta(hours=2),
            "syndicate.example",
        )
        short = "https://digest.example/" + path.stem
        yield Labelled(
            story,
            "truncated",
            short,
            short,
            title,
            "\n\n".join(truncate(rng, body)),
            start + timedelta(hours=3),
            "digest.example",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the set as JSON lines")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    items = generate(args.seed)
    stories = {i.story for i in items}
    print(f"{len(items)} articles, {len(stories)} stories")
    if args.write:
        target = DATA_DIR / "labelled.jsonl"
        with target.open("w", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(asdict(item), default=str) + "\n")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
