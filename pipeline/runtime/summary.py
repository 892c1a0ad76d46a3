"""What a run did, counted from the messages that crossed each hand-off."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.models import DuplicateEvent, EnrichedArticle, Message


@dataclass
class RunSummary:
    feeds_polled: int = 0
    feeds_failed: int = 0
    feeds_not_modified: int = 0
    entries: int = 0
    articles: int = 0
    duplicates: int = 0
    failures: int = 0
    topics: Counter[str] = field(default_factory=Counter)
    stored_total: int | None = None
    duplicates_total: int | None = None

    _seen: set[str] = field(default_factory=set, repr=False)

    def count_stored(self, message: Message) -> None:
        """Count a message on its way into the store, each article once per run."""
        if isinstance(message, DuplicateEvent):
            if message.id not in self._seen:
                self.duplicates += 1
            self._seen.add(message.id)
        elif isinstance(message, EnrichedArticle) and message.id not in self._seen:
            self._seen.add(message.id)
            self.articles += 1
            self.topics.update(t for t in message.topics if "/" not in t)

    def merge(self, other: RunSummary) -> None:
        for name in (
            "feeds_polled",
            "feeds_failed",
            "feeds_not_modified",
            "entries",
            "articles",
            "duplicates",
            "failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.topics.update(other.topics)

    def render(self) -> str:
        top = ", ".join(f"{t} ({n})" for t, n in self.topics.most_common(5)) or "none"
        return "\n".join(
            [
                "newsflow run summary",
                f"  feeds polled:      {self.feeds_polled} ({self.feeds_failed} failed, "
                f"{self.feeds_not_modified} not modified)",
                f"  new entries:       {self.entries}",
                f"  articles stored:   {self.articles}",
                f"  duplicates found:  {self.duplicates}",
                f"  dead letters:      {self.failures}",
                f"  top topics:        {top}",
                *self._totals(),
            ]
        )

    def _totals(self) -> list[str]:
        if self.stored_total is None:
            return []
        return [
            f"  store now holds:   {self.stored_total} articles"
            f" and {self.duplicates_total} duplicates"
        ]
