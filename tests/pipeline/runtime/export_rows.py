"""Two runs' exports compared without what depends on the order articles arrived in.

Runs that store the same articles can still hand them to dedup in another order:
on Kafka the partitions interleave, and even embedded a poll held up past
``polls.HOLD_SECONDS`` (a loaded machine) no longer holds up the feeds listed after
it. Which copy is canonical does not depend on that order (the earliest published
one is); two fields of a row do, so they are compared another way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

ARRIVAL_ORDER = frozenset({"verdict_version", "cluster_id"})
"""``verdict_version`` is a stamp from the dedup index's counter, taken in arrival order;
what it ranks is checked by the dedup index and scale-out tests. ``cluster_id`` is the id of
the cluster's first member to arrive (it stays when an earlier copy becomes canonical), so
:func:`clusters` gives which articles share a cluster instead."""


def without(rows: Iterable[dict[str, Any]], fields: Collection[str]) -> list[dict[str, Any]]:
    """Each row without ``fields``, in the same order."""
    return [{k: v for k, v in row.items() if k not in fields} for row in rows]


def clusters(rows: Iterable[dict[str, Any]]) -> set[frozenset[str]]:
    """The exported clusters as sets of article ids, whatever their ids."""
    members: dict[str, set[str]] = {}
    for row in rows:
        members.setdefault(row["cluster_id"], set()).add(row["id"])
    return {frozenset(ids) for ids in members.values()}
