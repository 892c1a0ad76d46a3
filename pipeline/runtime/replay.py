"""Dead letters of the embedded transport, sent back through the workers after a fix.

On Kafka a replay sends each letter back to its source topic
(:mod:`connectors.kafka.dlq`). Embedded there are no topics: each letter's
message runs here, through the stage that failed on it and every stage after
it, and is stored as the service would store it::

    result = replay_letters(resources, LetterFilter(stage="fetch"))
    result.through, result.failed_again, result.kept

A letter goes once its message is through (stored, or found to need no
row), in the same transaction as the article's dedup and storage, so a crash
leaves either the letter or the stored article, never both and never
neither. A message that fails again keeps one letter: the same letter
updated (``attempts`` + 1, newest error) when it fails at the same stage, or
a letter of the stage it failed at instead. Fetching and extraction run
outside the transaction, as in the service: the store's write lock is not
held across a network fetch. Two replays at once take each letter in turn
(:meth:`~connectors.storage.dead_letters.DeadLetterRepository.claim`): the
second finds it settled by the first and leaves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from connectors.storage.dead_letters import DeadLetter
from pipeline.errors import MessageError
from pipeline.models import MESSAGE_BY_TOPIC, Message, decode
from pipeline.runtime.outcome import Failure, LetterFilter, process_safely
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.stages.base import Stage
from pipeline.topology import WORKERS

log = logging.getLogger(__name__)

STORING_STAGES = ("dedup", "store")
"""Stages whose writes commit with the letter's removal."""

Settled = Literal["through", "failed_again", "elsewhere"]
"""What became of a replayed letter."""


@dataclass
class ReplayResult:
    through: int = 0
    """Letters whose message went through: removed."""
    failed_again: int = 0
    """Letters whose message failed again: still (or newly) a letter."""
    kept: int = 0
    """Letters not matching the filter: left as they were."""
    elsewhere: int = 0
    """Letters another replay settled while this one ran their message: left to it."""

    def count(self, settled: Settled) -> None:
        if settled == "through":
            self.through += 1
        elif settled == "failed_again":
            self.failed_again += 1
        else:
            self.elsewhere += 1


class LetterReplay:
    """Runs letters' messages through the rest of the pipeline; builds each stage once."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._stages: dict[str, Stage] = {}

    def replay(self, letter: DeadLetter) -> Settled:
        """Run one letter's message on, and settle the letter (see the module docstring)."""
        try:
            message = decode(MESSAGE_BY_TOPIC[letter.topic], letter.payload)
        except (KeyError, MessageError) as exc:
            log.warning("dead letter %d cannot be replayed: %s", letter.id, exc)
            return "failed_again"
        before, storing = self._chain(letter, message)
        outcome = process_safely(before, message)
        failure = outcome.failure
        with self.resources.store.db.transaction():
            if not self.resources.dead_letters.claim(letter.id):
                log.info("dead letter %d was settled by another replay meanwhile", letter.id)
                return "elsewhere"
            for produced in outcome.produced if failure is None else []:
                failure = self._store(storing, produced)
                if failure is not None:
                    break
            self._settle(letter, failure)
        return "through" if failure is None else "failed_again"

    def close(self) -> None:
        for stage in self._stages.values():
            stage.close()

    def _store(self, storing: list[Stage], message: Message) -> Failure | None:
        """Dedup and store one message in a savepoint: a failure undoes all of its writes
        (an index entry for an article that was not stored, too)."""
        try:
            with self.resources.store.db.transaction():
                failure = process_safely(storing, message).failure
                if failure is not None:
                    raise _Undo(failure)
        except _Undo as undo:
            return undo.failure
        return None

    def _settle(self, letter: DeadLetter, failure: Failure | None) -> None:
        """Remove the letter, or keep one letter for the new failure.

        A failure of the same message replaces the letter itself, at whatever
        stage (:meth:`~connectors.storage.dead_letters.DeadLetterRepository.add`);
        one of another message (an article keyed by its canonical URL) comes
        instead of it.
        """
        if failure is None or letter.letter_key is None or failure.letter_key != letter.letter_key:
            self.resources.dead_letters.remove(letter.id)
        if failure is not None:
            log.warning("%s failed again: %s", failure.stage, failure.error)
            self.resources.dead_letters.keep(failure)

    def _chain(self, letter: DeadLetter, message: Message) -> tuple[list[Stage], list[Stage]]:
        """The stages from the one that failed to the end: (before storage, storing).

        The letter holds the failed stage's input, except when an extraction
        process died under a page: its letter holds the entry, which must be
        fetched again. So the chain starts at the failed stage if it takes
        the message, else at the first stage that does.
        """
        stages = [self._stage(name) for name in STAGE_ORDER]
        takes = [isinstance(message, stage.accepts) for stage in stages]
        failed = STAGE_ORDER.index(letter.stage) if letter.stage in STAGE_ORDER else -1
        first = failed if failed >= 0 and takes[failed] else takes.index(True)
        chain = stages[first:]
        before = [s for s in chain if s.name not in STORING_STAGES]
        return before, [s for s in chain if s.name in STORING_STAGES]

    def _stage(self, name: str) -> Stage:
        if name not in self._stages:
            self._stages[name] = build_stage(name, self.resources)
        return self._stages[name]


class _Undo(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure


STAGE_ORDER = tuple(stage for worker in WORKERS for stage in worker.stages)
"""Every stage, in the order a message meets them: fetch, extract, tag, dedup, store."""


def replay_letters(resources: Resources, letters: LetterFilter) -> ReplayResult:
    """Replay the store's letters that match, oldest first; see the module docstring.

    The letters are those in the store when the replay begins: a letter a
    replay updates or adds is not replayed again by the same call.
    """
    result = ReplayResult()
    replay = LetterReplay(resources)
    repository = resources.dead_letters
    try:
        for letter_id in repository.ids():
            letter = repository.get(letter_id)
            if letter is None:  # removed meanwhile (a replay elsewhere)
                continue
            if not letters.matches(letter):
                result.kept += 1
            else:
                result.count(replay.replay(letter))
    finally:
        replay.close()
    return result
