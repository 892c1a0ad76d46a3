"""Article prose written offline: sentence templates per language and topic.

Each sentence is a template with named slots filled from small word banks, so
a seeded random generator yields many thousands of distinct sentences without
any download. Paragraphs are returned as lists of sentences, which keeps the
ground truth exact: an evaluation never has to split text back into sentences.

    >>> import random
    >>> article = write_article(random.Random(1), language="en", topic="science")
    >>> len(article.paragraphs) >= 4
    True
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

from corpus.banks import BANKS, LanguageBank

LANGUAGES: tuple[str, ...] = tuple(BANKS)
TOPICS: tuple[str, ...] = ("politics", "economy", "science", "sport", "climate", "technology")


@dataclass(frozen=True)
class Article:
    """The content of one article: what a correct extraction must keep."""

    language: str
    topic: str
    title: str
    standfirst: str
    paragraphs: list[list[str]]  # each paragraph is a list of sentences
    subheadings: dict[int, str]  # paragraph index -> subheading placed before it
    authors: list[str]

    @property
    def lines(self) -> list[str]:
        """The article body as text lines: standfirst, subheadings and paragraphs in order."""
        out = [self.standfirst]
        for index, sentences in enumerate(self.paragraphs):
            if index in self.subheadings:
                out.append(self.subheadings[index])
            out.append(" ".join(sentences))
        return out

    @property
    def sentences(self) -> list[str]:
        """Every sentence and subheading of the body: the units 'sentences kept' counts."""
        out = [self.standfirst]
        for index, sentences in enumerate(self.paragraphs):
            if index in self.subheadings:
                out.append(self.subheadings[index])
            out.extend(sentences)
        return out


def write_article(
    rng: random.Random,
    *,
    language: str,
    topic: str,
    paragraphs: tuple[int, int] = (5, 11),
) -> Article:
    """A whole article: title, standfirst, paragraphs of 1-4 sentences, a few subheadings."""
    bank = BANKS[language]
    count = rng.randint(*paragraphs)
    seen: set[str] = set()
    body = [_paragraph(rng, bank, topic, seen) for _ in range(count)]
    heads = {}
    if count >= 6:
        for index in rng.sample(range(2, count - 1), k=min(2, count - 3)):
            heads[index] = fill(rng, bank, rng.choice(bank.subheadings))
    title = headline(rng, language=language, topic=topic)
    standfirst = _fresh(rng, bank, topic, seen)
    authors = [fill(rng, bank, "{person}") for _ in range(rng.choice((1, 1, 1, 2)))]
    # reporters do not write subheadings about themselves; the name bank is small enough to try
    authors = [a for a in authors if not any(a in head for head in heads.values())] or [
        f"{bank.first_names[0]} {bank.last_names[0]}"
    ]
    return Article(
        language=language,
        topic=topic,
        title=title,
        standfirst=standfirst,
        paragraphs=body,
        subheadings=heads,
        authors=authors,
    )


def headline(rng: random.Random, *, language: str, topic: str) -> str:
    """A headline: title-like, no final full stop."""
    bank = BANKS[language]
    text = fill(rng, bank, rng.choice(bank.headlines[topic]))
    return text[0].upper() + text[1:]


def sentence(rng: random.Random, bank: LanguageBank, topic: str) -> str:
    kind = rng.random()
    if kind < 0.18:
        template = rng.choice(bank.quotes)
    elif kind < 0.3:
        template = rng.choice(bank.general)
    else:
        template = rng.choice(bank.topics[topic])
    text = fill(rng, bank, template)
    return text[0].upper() + text[1:]


def _paragraph(rng: random.Random, bank: LanguageBank, topic: str, seen: set[str]) -> list[str]:
    return [_fresh(rng, bank, topic, seen) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))]


def _fresh(rng: random.Random, bank: LanguageBank, topic: str, seen: set[str]) -> str:
    """A sentence not yet used in this article (real articles do not repeat themselves)."""
    text = sentence(rng, bank, topic)
    for _ in range(20):
        if text not in seen:
            break
        text = sentence(rng, bank, topic)
    seen.add(text)
    return text


_SLOT = re.compile(r"\{(\w+)\}")
_NUMBERS = {
    "n": lambda r: str(r.randint(2, 98)),
    "big": lambda r: f"{r.randint(2, 950)}",
    "pct": lambda r: f"{r.randint(1, 49)}.{r.randint(0, 9)}",
    "year": lambda r: str(r.randint(2009, 2023)),
    "code": lambda r: "".join(r.choice(string.ascii_uppercase) for _ in range(3)),
}


def fill(rng: random.Random, bank: LanguageBank, template: str) -> str:
    """Replace each ``{slot}`` with a random word from the bank (or a number)."""

    def pick(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot in _NUMBERS:
            return _NUMBERS[slot](rng)
        if slot == "person":
            return f"{rng.choice(bank.first_names)} {rng.choice(bank.last_names)}"
        return rng.choice(bank.words[slot])

    return _SLOT.sub(pick, template)
