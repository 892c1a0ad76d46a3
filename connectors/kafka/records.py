"""Plain records crossing the Kafka boundary, free of kafka-python types.

The runtime reads :class:`InRecord` and writes :class:`OutRecord`; only
``connectors.kafka`` converts them to and from the client's own types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.kafka.headers import Headers

Partition = tuple[str, int]
"""(topic, partition)"""


@dataclass(frozen=True)
class InRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)

    @property
    def where(self) -> Partition:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes the record takes before compression (value, key and headers)."""
        header_bytes = sum(len(n) + len(v) for n, v in self.headers)
        return len(self.value) + len(self.key or b"") + header_bytes
