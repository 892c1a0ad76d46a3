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
        return [(name, values[name].encode("utf-8")) for name in DEAD_LETTER_HEADERS]

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
            )
        except ValueError as exc:
            raise MessageError(f"not a dead letter: malformed header: {exc}") from None


def header_dict(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers as text (the last value wins for a repeated name; undecodable bytes replaced)."""
    return {name: (value or b"").decode("utf-8", errors="replace") for name, value in headers or ()}


def timestamp(moment: datetime) -> str:
    """UTC with milliseconds and a ``Z``: sorts as text, parses everywhere."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
