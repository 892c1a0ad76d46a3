"""Record headers: what a dead letter carries about the message it holds.

A dead letter's value is the original record's bytes, untouched, and its key
the original key, so replaying it is re-sending value and key to the source
topic. The headers say where it came from and why it failed; every value is
UTF-8 text so any Kafka client (or ``kcat -J``) can read them::

    source_topic      news.pages
    source_partition  3
    source_offset     1207
    worker            extract
    stage             extract
    error_class       ExtractionError
    error_message     no article text found in https://...
    reason            no_text
    retryable         false
    failed_at         2026-11-18T09:12:44.120Z

and, on a fetch that failed transiently (a timeout, 429, 5xx), when the
service will fetch it again by itself (``fetch.retry_later_*``)::

    attempts          2
    retry_at          2026-11-18T09:22:44.120Z

``attempts`` counts the times the message failed and was dead-lettered; a
replay sends it back with a ``letter_attempts`` header, so the next letter
of the same message counts on. Letters without these headers (from before
they existed) read as one attempt, waiting for ``newsflow dlq replay``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import MessageError

Headers = list[tuple[str, bytes]]

MAX_ERROR_CHARS = 2000
DEAD_LETTER_HEADERS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "worker",
    "stage",
    "error_class",
    "error_message",
    "reason",
    "retryable",
    "failed_at",
)
LETTER_ATTEMPTS = "letter_attempts"
"""On a replayed record: the attempts of the letter it came from."""


@dataclass(frozen=True)
class DeadLetterInfo:
    """The facts a dead letter's headers carry."""

    source_topic: str
    source_partition: int
    source_offset: int
    worker: str
    stage: str
    error_class: str
    error_message: str
    reason: str
    retryable: bool
    failed_at: str
    attempts: int = 1
    retry_at: str | None = None
    """When the service sends the letter back by itself (:func:`timestamp` text); None
    leaves it to ``newsflow dlq replay``."""

    @property
    def last_failed_at(self) -> str:
        """Each record of a letter topic is one failure: its own."""
        return self.failed_at

    @property
    def source(self) -> str:
        """Where the failed record was: ``news.pages[3]@1207``."""
        return record_place(self.source_topic, self.source_partition, self.source_offset)

    def to_headers(self) -> Headers:
        values = {
            "source_topic": self.source_topic,
            "source_partition": str(self.source_partition),
            "source_offset": str(self.source_offset),
            "worker": self.worker,
            "stage": self.stage,
            "error_class": self.error_class,
            "error_message": self.error_message[:MAX_ERROR_CHARS],
            "reason": self.reason,
            "retryable": "true" if self.retryable else "false",
            "failed_at": self.failed_at,
        }
        headers = [(name, values[name].encode("utf-8")) for name in DEAD_LETTER_HEADERS]
        headers.append(("attempts", str(self.attempts).encode()))
        if self.retry_at is not None:
            headers.append(("retry_at", self.retry_at.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes | None]]) -> DeadLetterInfo:
        """Read a dead letter's headers; :class:`MessageError` when one is missing or malformed."""
        values = header_dict(headers)
        missing = [name for name in DEAD_LETTER_HEADERS if name not in values]
        if missing:
            raise MessageError(f"not a dead letter: missing headers {', '.join(missing)}")
        try:
            return cls(
                source_topic=values["source_topic"],
                source_partition=int(values["source_partition"]),
                source_offset=int(values["source_offset"]),
                worker=values["worker"],
                stage=values["stage"],
                error_class=values["error_class"],
                error_message=values["error_message"],
                reason=values["reason"],
                retryable=values["retryable"] == "true",
                failed_at=values["failed_at"],
                attempts=int(values.get("attempts", "1")),
                retry_at=_moment(values.get("retry_at")),
            )
        except ValueError as exc:
            raise MessageError(f"not a dead letter: malformed header: {exc}") from None


def header_dict(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers as text (the last value wins for a repeated name; undecodable bytes replaced)."""
    return {name: (value or b"").decode("utf-8", errors="replace") for name, value in headers or ()}


def _moment(value: str | None) -> str | None:
    """A :func:`timestamp` header as it is; ValueError when it is not one."""
    if not value:
        return None
    datetime.fromisoformat(value)
    return value


def letter_attempts(headers: Iterable[tuple[str, bytes | None]] | None) -> int:
    """The attempts of the letter a replayed record came from; 0 for any other record."""
    try:
        return max(0, int(header_dict(headers).get(LETTER_ATTEMPTS, "0")))
    except ValueError:
        return 0


def record_place(topic: str, partition: int, offset: int) -> str:
    """A record's place as listings and the ``replayed_from`` header write it."""
    return f"{topic}[{partition}]@{offset}"


def timestamp(moment: datetime) -> str:
    """UTC with milliseconds and a ``Z``: sorts as text, parses everywhere."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
