"""Interim (1xx) responses are skipped: the final response is the one a fetch reads.

A server may send informational responses before the real one: ``103 Early
Hints`` (with ``Link`` headers for browsers to preload), ``102 Processing``.
:mod:`http.client` skips only ``100 Continue`` and would hand a ``103`` to the
fetcher as the answer (a page dead-lettered as ``http_103``, its body left
unread on the connection). :class:`FinalResponse` reads past every 1xx but
``101 Switching Protocols`` (which ends HTTP on the connection, and which we
never ask for), as curl and browsers do. The urllib3 connection classes in
:mod:`connectors.http.deadline` use it as their ``response_class``.
"""

from __future__ import annotations

import http.client
from http import HTTPStatus

MAX_INTERIM = 16
"""Interim responses skipped before the next 1xx is taken as final (an http_1xx error):
a server looping on them cannot keep a fetch reading headers (the deadline would end it
anyway, but later)."""


class FinalResponse(http.client.HTTPResponse):
    """An ``http.client`` response whose status line is the final response's."""

    def _read_status(self) -> tuple[str, int, str]:
        """``HTTPResponse.begin`` reads the status with this, then the headers; skipping
        each interim response here (status line and header block) leaves it the final
        one's."""
        version, status, reason = super()._read_status()  # type: ignore[misc]
        for _ in range(MAX_INTERIM):
            if not _is_interim(status):
                break
            http.client.parse_headers(self.fp)  # its headers (Link: ...) are not the page's
            version, status, reason = super()._read_status()  # type: ignore[misc]
        return version, status, reason


def _is_interim(status: int) -> bool:
    return 100 <= status < 200 and status != HTTPStatus.SWITCHING_PROTOCOLS
