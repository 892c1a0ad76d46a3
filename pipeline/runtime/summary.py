"""What a run did, counted from the messages that crossed each hand-off."""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.models import DuplicateEvent, EnrichedArticle, Message

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pipeline.polling.poller import PollResult

MAX_TRACKED = 20_000
"""Articles remembered by id per summary (~300 bytes each): bounds a long run's memory."""


@dataclass
class RunSummary:
    feeds_polled: int = 0
    feeds_failed: int = 0
    feeds_deferred: int = 0
    """Feeds not polled because their host asked (Retry-After) to be left alone: not the
    feed's failure, so counted apart from ``feeds_failed``."""
    feeds_not_modified: int = 0
    feeds_partial: int = 0
    """Feeds read in part: some child sitemaps or WARC files could not be read."""
    entries: int = 0
    listed_again: int = 0
    """New entries whose page another feed listed earlier in the run: one row for both,
    which is why a run stores fewer articles than it found new entries."""
    updated_entries: int = 0
    """Entries seen before, handed on again because their feed listed them as updated."""
    failures: int = 0
    """Messages dead-lettered in this run. A page the service retried by itself and that
    failed again counts again, so over a long run this exceeds the letters still waiting."""
    stored_total: int | None = None
    duplicates_total: int | None = None
    verdicts: dict[str, tuple[str, ...] | None] = field(default_factory=dict, repr=False)
    """Recent article id -> its top-level topics, or None for a duplicate; the last word
    wins, so an article re-pointed to an earlier-published original counts as a duplicate."""
    settled: Counter[str] = field(default_factory=Counter, repr=False)
    """Counts of verdicts folded out of ``verdicts`` (keys: articles, duplicates, topic:*)."""
    listed: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)
    """URLs of the run's recent new entries (the last ``max_tracked``), in age order."""
    max_tracked: int = field(default=MAX_TRACKED, repr=False)

    def count_poll(self, result: PollResult) -> None:
        """One committed poll."""
        self.feeds_polled += 1
        self.feeds_deferred += result.deferred
        self.feeds_failed += result.error is not None and not result.deferred
        self.feeds_not_modified += result.not_modified
        self.feeds_partial += bool(result.child_errors)
        self.entries += result.new_entries
        self.updated_entries += result.updated
        self._remember_urls(entry.url for entry in result.entries[: result.new_entries])

    def _remember_urls(self, urls: Iterable[str]) -> None:
        for url in urls:
            if url in self.listed:
                self.listed_again += 1
                self.listed.move_to_end(url)
                continue
            self.listed[url] = None
            if len(self.listed) > self.max_tracked:
                self.listed.popitem(last=False)

    def count_stored(self, message: Message) -> None:
        """Count a message that changed the store, each article once per run.

        The runtimes call it only for a write that inserted or updated a row
        (:class:`~pipeline.stages.store.StoreWrite`), with the message as stored:
        a replay, or a page fetched again unchanged, stores nothing new.

        Only the last ``max_tracked`` articles are remembered by id, so a service
        running for months keeps a bounded summary: an article whose verdict
        changes after it was folded away is counted again.
        """
        if isinstance(message, DuplicateEvent):
            self._remember(message.id, None)
        elif isinstance(message, EnrichedArticle):
            self._remember(message.id, tuple(t for t in message.topics if "/" not in t))

    def _remember(self, article_id: str, verdict: tuple[str, ...] | None) -> None:
        self.verdicts.pop(article_id, None)  # re-inserted last: the dict stays in age order
        self.verdicts[article_id] = verdict
        while len(self.verdicts) > self.max_tracked:
            self._settle(self.verdicts.pop(next(iter(self.verdicts))))

    def _settle(self, verdict: tuple[str, ...] | None) -> None:
        if verdict is None:
            self.settled["duplicates"] += 1
            return
        self.settled["articles"] += 1
        self.settled.update(f"topic:{t}" for t in verdict)

    @property
    def articles(self) -> int:
        live = sum(1 for v in self.verdicts.values() if v is not None)
        return live + self.settled["articles"]

    @property
    def duplicates(self) -> int:
        return sum(1 for v in self.verdicts.values() if v is None) + self.settled["duplicates"]

    @property
    def topics(self) -> Counter[str]:
        live = Counter(t for v in self.verdicts.values() if v is not None for t in v)
        live.update({k[6:]: n for k, n in self.settled.items() if k.startswith("topic:")})
        return live

    def merge(self, other: RunSummary) -> None:
        for name in (
            "feeds_polled",
            "feeds_failed",
            "feeds_deferred",
            "feeds_not_modified",
            "feeds_partial",
            "entries",
            "listed_again",
            "updated_entries",
            "failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.settled.update(other.settled)
        for article_id, verdict in other.verdicts.items():
            self._remember(article_id, verdict)
        self.listed.update(other.listed)
        while len(self.listed) > self.max_tracked:
            self.listed.popitem(last=False)

    def render(self) -> str:
        top = ", ".join(f"{t} ({n})" for t, n in self.topics.most_common(5)) or "none"
        return "\n".join(
            [
                "newsflow run summary",
                f"  feeds polled:      {self.feeds_polled} ({self._feed_outcomes()})",
                f"  new entries:       {self.entries}{self._entry_notes()}",
                f"  articles stored:   {self.articles}",
                f"  duplicates found:  {self.duplicates}",
                f"  dead-lettered:     {self.failures}{self._failures_note()}",
                f"  top topics:        {top}",
                *self._totals(),
            ]
        )

    def _feed_outcomes(self) -> str:
        """The polls' outcomes; deferred and partial ones only when there are any, so the
        usual line stays short."""
        parts = [f"{self.feeds_failed} failed"]
        if self.feeds_deferred:
            parts.append(f"{self.feeds_deferred} deferred")
        parts.append(f"{self.feeds_not_modified} not modified")
        if self.feeds_partial:
            parts.append(f"{self.feeds_partial} read in part")
        return ", ".join(parts)

    def _failures_note(self) -> str:
        return " (failures, retries that failed again included)" if self.failures else ""

    def _entry_notes(self) -> str:
        """Updated entries, and new ones whose page another feed listed too, when there are any."""
        notes = []
        if self.updated_entries:
            notes.append(f"and {self.updated_entries} updated")
        if self.listed_again:
            notes.append(f"{self.listed_again} listed by another feed too")
        return f" ({'; '.join(notes)})" if notes else ""

    def _totals(self) -> list[str]:
        if self.stored_total is None:
            return []
        return [
            f"  store now holds:   {self.stored_total} articles"
            f" and {self.duplicates_total} duplicates"
        ]
