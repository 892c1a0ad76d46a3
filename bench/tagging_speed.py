"""Milliseconds per article for the tagger, beside a plain-regex baseline.

    python -m bench.tagging_speed [--rounds 5]

Articles: the labelled set (168 short items, four languages) and, separately,
the two seed articles (real length, ~3.5 kB). Rows:

- ``keyword tagger``: what the tag stage runs: one Aho-Corasick pass over the
  folded text, scoring with evidence, entities, and the people/organisation
  heuristic;
- ``keyword tagger, no people``: the same without the heuristic;
- ``regex baseline``: one compiled alternation of every taxonomy and entity
  term (``\\b(?:t1|t2|...)\\b``, case-insensitive) run over the text, finding
  matches only (no scoring, no entities), the way a regex tagger starts.

Each figure is the best of ``--rounds`` passes over all articles (the machine
is shared; the best pass is the least disturbed one). Compile times are one-off
costs, paid once per process.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.tagging_eval import SEEDS, keyword_tagger, load_items
from pipeline.tagging import KeywordTagger

TARGET_MS = 2.0


def regex_baseline(tagger: KeywordTagger) -> re.Pattern[str]:
    terms = {term.pattern.surface for _, term in tagger.taxonomy.terms()}
    terms |= {name.pattern.surface for name in tagger.lexicon.names}
    alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternation})\b", re.IGNORECASE)


def per_article_ms(
    work: Callable[[str, str], object], texts: list[tuple[str, str]], rounds: int
) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for title, text in texts:
            work(title, text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    tagger = keyword_tagger()
    tagger_compile = time.perf_counter() - started
    no_people = KeywordTagger(tagger.taxonomy, tagger.lexicon, people=False)
    started = time.perf_counter()
    pattern = regex_baseline(tagger)
    regex_compile = time.perf_counter() - started

    labelled = [(item.title, item.text) for item in load_items()]
    seeds = [("", path.read_text(encoding="utf-8")) for path in sorted(Path(SEEDS).glob("*.txt"))]
    sets = [("labelled set", labelled), ("seed articles", seeds)]
    rows: list[tuple[str, Callable[[str, str], object], float]] = [
        ("keyword tagger", lambda t, x: tagger.tag(x, title=t), tagger_compile),
        ("keyword tagger, no people", lambda t, x: no_people.tag(x, title=t), tagger_compile),
        ("regex baseline", lambda t, x: pattern.findall(f"{t}\n\n{x}"), regex_compile),
    ]

    print(f"{'ms per article':28}", end="")
    for name, texts in sets:
        if texts:
            size = sum(len(t) + len(x) for t, x in texts) / len(texts)
            print(f" {name} ({len(texts)}, {size:,.0f} chars)".rjust(34), end="")
    print(f" {'compile (once)':>16}")
    for label, work, compile_seconds in rows:
        print(f"{label:28}", end="")
        for _, texts in sets:
            if texts:
                print(f"{per_article_ms(work, texts, args.rounds):34.3f}", end="")
        print(f" {compile_seconds * 1000:14.0f} ms")
    average = per_article_ms(rows[0][1], labelled, args.rounds)
    verdict = "met" if average < TARGET_MS else "MISSED"
    print(f"target < {TARGET_MS} ms per average article (labelled set): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
