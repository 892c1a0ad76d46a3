"""Translate urllib3, socket, ssl and http.client errors into FetchError.

One place picks the most specific :mod:`pipeline.errors` type for what went
wrong on the wire, names the URL and the innermost cause, and counts it in
``newsflow_fetch_requests_total`` under the error's reason.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from connectors.http.deadline import Deadline
from connectors.http.metrics import REQUESTS
from connectors.http.target import Target
from pipeline.errors import (
    FetchError,
    FetchInterrupted,
    FetchTimeout,
    NewsflowError,
    excerpt,
    one_line,
)


def deadline_error(target: Target, deadline: Deadline) -> FetchTimeout:
    return FetchTimeout(
        f"{excerpt(target.url)!r} did not complete within the {deadline.seconds:g} s deadline "
        "(fetch.deadline)",
        url=target.url,
        reason="deadline",
    )


@contextmanager
def translated(target: Target, deadline: Deadline) -> Iterator[None]:
    """Turn urllib3/socket/ssl/http.client errors into FetchError with URL and cause."""
    try:
        yield
    except NewsflowError:
        raise
    except (Urllib3Error, OSError, http.client.HTTPException) as exc:
        error = _translate(exc, target, deadline)
        REQUESTS.labels(target.host, error.reason).inc()
        raise error from None


def _translate(exc: BaseException, target: Target, deadline: Deadline) -> FetchError:
    url = target.url
    where = excerpt(target.host_header)
    if deadline.expired:
        return deadline_error(target, deadline)
    if isinstance(exc, NewConnectionError):
        return FetchInterrupted(
            f"cannot connect to {where} for {excerpt(url)!r}: {_cause(exc)}",
            url=url,
            reason="connection",
        )
    if isinstance(exc, ConnectTimeoutError):
        return FetchTimeout(
            f"connecting to {where} for {excerpt(url)!r} timed out",
            url=url,
            reason="connect_timeout",
        )
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return FetchTimeout(
            f"{where} stopped sending for {excerpt(url)!r} (read timeout)",
            url=url,
            reason="read_timeout",
        )
    if isinstance(exc, SSLError | ssl.SSLError):
        return FetchError(
            f"TLS failed with {where} for {excerpt(url)!r}: {_cause(exc)}", url=url, reason="tls"
        )
    if isinstance(exc, ProtocolError | http.client.HTTPException):
        return FetchInterrupted(
            f"{where} broke the HTTP exchange for {excerpt(url)!r}: {_cause(exc)}",
            url=url,
            reason="protocol",
        )
    return FetchInterrupted(
        f"network error fetching {excerpt(url)!r}: {_cause(exc)}", url=url, reason="network"
    )


MAX_CAUSE_CHARS = 300
"""http.client quotes a bad status line whole: up to 64 KB the server chose."""


def _cause(exc: BaseException) -> str:
    """The innermost readable cause (urllib3 wraps socket errors several levels deep), as
    one printable line: a bad status line is quoted with its CR LF, or any bytes at all."""
    inner: BaseException = exc
    for _ in range(10):
        nested = inner.args[1] if len(inner.args) > 1 else None
        if isinstance(nested, BaseException):
            inner = nested
            continue
        if inner.__cause__ is not None and inner.__cause__ is not inner:
            inner = inner.__cause__
            continue
        break
    return one_line(str(inner))[:MAX_CAUSE_CHARS] or type(inner).__name__
