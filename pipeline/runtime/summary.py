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
    failures: int = 0
    stored_total: int | None = None
    duplicates_total: int | None = None
    verdicts: dict[str, tuple[str, ...] | None] = field(default_factory=dict, repr=False)
    """Article id -> its top-level topics, or None for a duplicate; the last word wins,
    so an article later re-pointed to an earlier-published original counts as a duplicate."""

    def count_stored(self, message: Message) -> None:
        """Count a message on its way into the store, each article once per run."""
        if isinstance(message, DuplicateEvent):
            self.verdicts[message.id] = None
        elif isinstance(message, EnrichedArticle):
            self.verdicts[message.id] = tuple(t for t in message.topics if "/" not in t)

    @property
    def articles(self) -> int:
        return sum(1 for v in self.verdicts.values() if v is not None)

    @property
    def duplicates(self) -> int:
        return sum(1 for v in self.verdicts.values() if v is None)

    @property
    def topics(self) -> Counter[str]:
        return Counter(t for v in self.verdicts.values() if v is not None for t in v)

    def merge(self, other: RunSummary) -> None:
        for name in (
            "feeds_polled",
            "feeds_failed",
            "feeds_not_modified",
            "entries",
            "failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.verdicts.update(other.verdicts)

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
