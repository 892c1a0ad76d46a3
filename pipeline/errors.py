"""The exception tree of newsflow.

Every error the pipeline raises on purpose is a :class:`NewsflowError`. Library
exceptions (urllib3, lxml, feedparser, kafka-python, sqlite3, psycopg) are
translated into one of these at the boundary that calls the library, so the
runtime can decide what to do from the type alone and the user reads one line
that says what to fix::

    NewsflowError
    ├── ConfigError          invalid configuration (exit status 2)
    ├── InputError           a file or argument given on the command line is unusable
    ├── FetchError           an HTTP or file fetch failed
    │   ├── FetchRefused     refused before sending: scheme, SSRF guard, robots.txt
    │   ├── FetchTimeout     connect/read timeout or total deadline exceeded
    │   ├── FetchInterrupted the exchange broke off: refused, reset, cut short, empty
    │   ├── BodyTooLarge     the body passed the configured cap
    │   ├── HttpStatusError  a 4xx/5xx answer (carries the status and Retry-After)
    │   └── RateLimited      the host asked us to wait (429/503 with Retry-After)
    │       └── HostBlocked  not requested: the host's wait is not over
    ├── FeedError            a feed body could not be parsed into entries
    ├── ExtractionError      no article text could be extracted from a page
    ├── MessageError         a message could not be decoded against its schema
    ├── StorageError         the database refused or failed an operation
    │   ├── StoreUnavailable the database cannot be reached (refused, connection lost)
    │   ├── StoreReadOnly    a command that writes was given a database it cannot write
    │   └── SchemaMismatch   the database's schema is not the one this newsflow reads
    ├── TransportError       the message broker failed or is unreachable
    └── StoppedWhileWaiting  not a failure: a stop came while a service had not answered yet
        └── StoppedWhileStarting  ... or while the process itself was still starting

``reason`` is a short stable code used as a metric label and in dead-letter
headers; ``str(error)`` is the sentence shown to the user.
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""

    default_reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason


class ConfigError(NewsflowError):
    """The configuration is invalid; ``problems`` holds one readable line per problem.

    ``source`` is where the problems come from (a file); ``sources``, when given, names
    it per problem, so a bad ``NEWSFLOW_*`` variable is not blamed on the file.
    """

    default_reason = "config"

    def __init__(
        self, problems: list[str], *, source: str = "config", sources: list[str] | None = None
    ) -> None:
        self.problems = problems
        self.source = source
        self.sources = sources if sources is not None else [source] * len(problems)
        super().__init__("; ".join(problems))

    def lines(self) -> list[str]:
        """``SOURCE: PROBLEM``, one per problem, as the user reads them."""
        return [
            f"{where}: {problem}"
            for where, problem in zip(self.sources, self.problems, strict=True)
        ]


class InputError(NewsflowError):
    default_reason = "input"


class FetchError(NewsflowError):
    """A fetch failed; ``url`` is the URL that was being fetched."""

    default_reason = "fetch"

    def __init__(self, message: str, *, url: str, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.url = url


class FetchRefused(FetchError):
    default_reason = "refused"


class FetchTimeout(FetchError):
    default_reason = "timeout"


class FetchInterrupted(FetchError):
    """The exchange broke off (connection refused or reset, a body cut short, an empty
    200): the server or the network may be back in a moment, unlike a 404 or a TLS error."""

    default_reason = "interrupted"


class BodyTooLarge(FetchError):
    default_reason = "too_large"


class HttpStatusError(FetchError):
    default_reason = "http_status"

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url, reason=f"http_{status}")
        self.status = status
        self.retry_after = retry_after


class RateLimited(HttpStatusError):
    default_reason = "rate_limited"


class HostBlocked(RateLimited):
    """Not requested at all: the host's Retry-After window, opened by an earlier answer to
    another URL, is still open. Reason ``host_blocked``, not that answer's ``http_503``:
    these URLs are fine, and are replayed once the window has passed."""

    default_reason = "host_blocked"

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url, status=status, retry_after=retry_after)
        self.reason = self.default_reason


class FeedError(NewsflowError):
    default_reason = "feed"

    def __init__(self, message: str, *, feed: str, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.feed = feed


class ExtractionError(NewsflowError):
    default_reason = "extraction"

    def __init__(self, message: str, *, url: str, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.url = url


class MessageError(NewsflowError):
    default_reason = "undecodable"


class StorageError(NewsflowError):
    default_reason = "storage"


class StoreUnavailable(StorageError):
    """The database cannot be reached (refused, or the connection was lost).

    Not the message's fault: the work in hand waits and is tried again once the
    store answers, rather than being dead-lettered.
    """

    default_reason = "store_unavailable"


class StoreReadOnly(StorageError):
    """The database (its file, its directory, or the file system) cannot be written by
    this user; nothing was written. Retrying will not help: the user must act."""

    default_reason = "store_read_only"


class SchemaMismatch(StorageError):
    """A store opened read-only holds an older (or newer) schema than this newsflow's.

    A read-only open never migrates, so it says which versions it found and needed
    rather than failing later on a missing table or column.
    """

    default_reason = "schema_mismatch"


class TransportError(NewsflowError):
    default_reason = "transport"


class StoppedWhileWaiting(NewsflowError):
    """SIGTERM/SIGINT came while the process still waited for a service to answer (the
    Kafka broker at start). Not a failure: the process was asked to stop, and stops
    (exit status 0, as for any stop) instead of waiting out a connection timeout."""

    default_reason = "stopped"


class StoppedWhileStarting(StoppedWhileWaiting):
    """SIGTERM/SIGINT came while the process was still starting (importing its modules,
    reading its config), before its runtime's own handlers were in place. A supervisor
    stopping a service it has just started must see the same clean stop as later: one
    line, exit status 0, and nothing started or written."""


def one_line(text: str) -> str:
    """``text`` as one printable line: runs of whitespace as one space, control
    characters as a space. For messages quoting what a server, a file or a library
    said (a status line, libxml2's message): they carry newlines and terminal escapes."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(text.split()))


def excerpt(text: str, limit: int = 120) -> str:
    """``text`` as :func:`one_line`, cut at ``limit`` characters: a URL or a host quoted in a
    message, where a feed may put megabytes and line breaks."""
    line = one_line(text)
    return line if len(line) <= limit else line[:limit] + "..."
