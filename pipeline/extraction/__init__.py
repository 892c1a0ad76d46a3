"""Article extraction that beats trafilatura alone: residue removal and trustworthy metadata.

trafilatura finds the main content; what sits inside the article container
survives it (promos, programme teasers, "Share your story", photo credits).
This package removes those lines in three explainable layers (generic rules
as data, per-source learned boilerplate, guard rails) and cross-checks the
metadata (dates from feed, sitemap and page; language; canonical URL)::

    from pipeline.extraction import extract_article, load_rules
    rules = load_rules(SHIPPED_RESIDUE_RULES)   # from pipeline.config
    result = extract_article(html, url=url, entry=None, rules=rules,
                             learned=None, config=ExtractConfig())
    for line in result.removed:
        print(line.reason, line.text)
"""

from pipeline.extraction.article import ExtractionResult, extract_article
from pipeline.extraction.learned import (
    DeferredLines,
    LearnedBoilerplate,
    LineCounter,
    LineObservation,
    template_threshold,
)
from pipeline.extraction.lines import Line, is_sentence_like, line_key, split_lines
from pipeline.extraction.residue import FilterResult, MetadataHints, filter_residue
from pipeline.extraction.rules import ResidueRules, load_rules, parse_rules
from pipeline.extraction.urls import choose_canonical, source_of

__all__ = [
    "DeferredLines",
    "ExtractionResult",
    "FilterResult",
    "LearnedBoilerplate",
    "Line",
    "LineCounter",
    "LineObservation",
    "MetadataHints",
    "ResidueRules",
    "choose_canonical",
    "extract_article",
    "filter_residue",
    "is_sentence_like",
    "line_key",
    "load_rules",
    "parse_rules",
    "source_of",
    "split_lines",
    "template_threshold",
]
