"""Keys rows are found by: bounded, so that every store can index them.

A PostgreSQL B-tree entry holds at most 2,704 bytes, but a URL may have 8,192
characters (:func:`pipeline.urls.canonicalize_url`) and a paragraph or a name
found in one far more: one such key made every write of its transaction fail,
on PostgreSQL only. A key past :data:`KEY_BYTES` keeps its readable start and
ends with a digest of the whole text, so two keys still differ exactly when
their texts do, on both engines.
"""

from __future__ import annotations

import hashlib

KEY_BYTES = 1000
"""Longest key kept as it is; with a second column, still well inside one B-tree entry."""
_DIGEST_CHARS = 32


def bounded_key(text: str) -> str:
    """``text`` itself when short enough, else its first bytes and a digest of all of it.

    >>> bounded_key("https://example.com/a")
    'https://example.com/a'
    >>> len(bounded_key("x" * 5000).encode())
    1000
    """
    if len(text) <= KEY_BYTES // 4:
        return text  # at most 4 bytes per character: short enough without encoding it
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= KEY_BYTES:
        return text
    digest = hashlib.sha256(data).hexdigest()[:_DIGEST_CHARS]
    head = data[: KEY_BYTES - _DIGEST_CHARS - 2].decode("utf-8", "ignore")
    return f"{head} #{digest}"
