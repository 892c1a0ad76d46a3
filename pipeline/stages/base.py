"""What a stage is: one message in, zero or more messages out.

A stage knows nothing about transports. It raises a :class:`NewsflowError`
for bad input it can name (the runner dead-letters the message and moves on)
and lets anything else propagate (also dead-lettered, but counted as a bug).
The runner, not the stage, owns consuming, producing, committing, retries,
dead letters and signals, so the same stage runs unchanged in one process or
as a Kafka consumer-group member.

A test of a stage needs no runner at all::

    stage = ExtractStage(...)
    [article] = stage.process(page)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar

from pipeline.models import Message


class Stage(ABC):
    """A named step of the pipeline."""

    name: ClassVar[str]
    accepts: ClassVar[tuple[type[Message], ...]]

    @abstractmethod
    def process(self, message: Message) -> Iterable[Message]:
        """Handle one message and return what it produces (possibly nothing)."""

    def close(self) -> None:  # noqa: B027 - optional hook with a useful default
        """Release what the stage holds (connections, pools)."""


class StageFailed(Exception):
    """Raised by :func:`run_chain`: ``stage`` failed on ``message`` with ``error``."""

    def __init__(self, stage: Stage, message: Message, error: Exception) -> None:
        super().__init__(f"stage {stage.name} failed: {error}")
        self.stage = stage
        self.message = message
        self.error = error


def run_chain(stages: Sequence[Stage], message: Message) -> list[Message]:
    """Push one message through stages in order; what the last stage yields is returned.

    A stage passes on a message it does not accept, so a chain such as
    ``tag → dedup`` lets dedup's output reach the end untouched. A failure is
    raised as :class:`StageFailed`, naming the stage and the message it got.
    """
    current: list[Message] = [message]
    for stage in stages:
        produced: list[Message] = []
        for item in current:
            if not isinstance(item, stage.accepts):
                produced.append(item)
                continue
            try:
                produced.extend(stage.process(item))
            except Exception as exc:
                raise StageFailed(stage, item, exc) from exc
        current = produced
    return current
