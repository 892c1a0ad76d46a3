"""Prometheus metrics of tagging (defined once, here)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TAGS_ASSIGNED = Counter(
    "newsflow_tags_assigned_total", "Topic tags assigned to articles, by topic label.", ["topic"]
)
ENTITIES_ASSIGNED = Counter(
    "newsflow_entities_assigned_total", "Entities found in articles, by entity type.", ["type"]
)
ARTICLES_TAGGED = Counter(
    "newsflow_articles_tagged_total",
    "Articles through the tag stage: tagged (>= 1 topic) or untagged.",
    ["outcome"],
)
TEXT_TRUNCATED = Counter(
    "newsflow_tagging_truncated_total", "Articles longer than tagging.max_chars (tail not read)."
)
TAGGING_SECONDS = Histogram(
    "newsflow_tagging_seconds",
    "Time to tag one article.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
CONFIG_ERRORS = Counter(
    "newsflow_tagging_config_errors_total",
    "Taxonomy, lexicon or semantic-model problems found when building a tagger.",
    ["reason"],
)
