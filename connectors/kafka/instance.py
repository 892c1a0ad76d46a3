"""Stable instance ids for the processes of one consumer group on one host.

A transactional producer needs an id that survives a restart: when a worker
killed mid-transaction comes back under the same id, ``init_transactions``
aborts the transaction it left open at once, instead of the broker waiting
for ``transaction_timeout_ms``, and fences the old process if it still lives.
Two live processes must never share an id (the second fences the first).

Both hold with a slot lock: a process takes the lowest free slot ``N`` by
``flock``-ing ``<lock_dir>/<group>.<N>.lock`` and keeps the file open for its
lifetime. The kernel releases the lock when the process dies, even on
``kill -9``, so a restart on the same host gets the same slot back::

    with InstanceSlot.claim("newsflow.extract") as slot:
        transactional_id = slot.instance_id   # "newsflow.extract.<host>.0"
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from pipeline.errors import TransportError

MAX_SLOTS = 1024


def default_lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / "newsflow-kafka-slots"


class InstanceSlot:
    """A claimed slot; release it with :meth:`release` or by leaving the ``with`` block."""

    def __init__(self, group: str, index: int, handle: IO[str], host: str) -> None:
        self.group = group
        self.index = index
        self.host = host
        self._handle: IO[str] | None = handle

    @property
    def instance_id(self) -> str:
        return f"{self.group}.{self.host}.{self.index}"

    @classmethod
    def claim(
        cls, group: str, *, lock_dir: Path | None = None, host: str | None = None
    ) -> InstanceSlot:
        """Take the lowest free slot of ``group`` on this host."""
        directory = lock_dir or default_lock_dir()
        host = _safe(host or socket.gethostname())
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for index in range(MAX_SLOTS):
                handle = (directory / f"{group}.{index}.lock").open("a+", encoding="utf-8")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                return cls(group, index, handle, host)
        except OSError as exc:
            raise TransportError(f"cannot claim an instance slot in {directory}: {exc}") from exc
        raise TransportError(f"all {MAX_SLOTS} instance slots of {group} are taken on this host")

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None

    def __enter__(self) -> InstanceSlot:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _safe(host: str) -> str:
    """A host name usable inside a Kafka id (letters, digits, ``.``, ``_``, ``-``)."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in host)
    return cleaned or "host"
