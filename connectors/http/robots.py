"""robots.txt for article fetches, per RFC 9309, cached per origin.

The fetcher supplies how to download ``/robots.txt`` (through the same SSRF
guard, host limiter and body cap as any request); this module decides what
the answer means and remembers it:

* 2xx: the rules, parsed by :mod:`urllib.robotparser`, kept up to 24 h;
* 4xx: no usable robots.txt, every path is allowed;
* 5xx, timeouts, connection errors: the site is unreachable, every path is
  disallowed, asked again after ``failure_ttl``;
* a refusal (SSRF guard) or a rate limit is not an answer: it is raised to the
  caller and nothing is cached.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

from connectors.http.base import FetchResponse
from connectors.http.clock import Clock
from pipeline.errors import FetchError, FetchRefused, HttpStatusError, RateLimited, excerpt

MAX_ROBOTS_BYTES = 500 * 1024
"""RFC 9309 2.5: crawlers must parse at least 500 KiB and may ignore the rest."""
_MAX_ORIGINS = 10_000


@dataclass(frozen=True)
class RobotsRules:
    """What one origin's robots.txt allows; ``parser`` is None for allow/deny-all."""

    allow_all: bool
    parser: RobotFileParser | None = None
    why: str = ""

    def allows(self, url: str, agent: str) -> bool:
        if self.parser is not None:
            return self.parser.can_fetch(agent, url)
        return self.allow_all


_UNUSED_NUMBERS = re.compile(r"^(\s*(?:crawl-delay|request-rate)\s*:).*", re.IGNORECASE)


def rules_from_response(response: FetchResponse) -> RobotsRules:
    """The rules of a robots.txt body.

    ``Crawl-delay`` and ``Request-rate`` values are blanked first: they are not
    used (politeness has its own interval), and RobotFileParser converts any that
    ``isdigit()`` with ``int()``, which raised ValueError on ``Crawl-delay: ²`` or
    5,000 digits: every article fetch from that site failed as an internal error.
    The lines stay, as they end a group of rules for the parser.
    """
    text = response.body.decode("utf-8", errors="replace")
    parser = RobotFileParser()
    parser.parse([_UNUSED_NUMBERS.sub(r"\1 unused", line) for line in text.splitlines()])
    return RobotsRules(allow_all=False, parser=parser, why="robots.txt rules")


class RobotsCache:
    """Answer "may this agent fetch this URL?" with one robots.txt download per origin."""

    def __init__(
        self,
        download: Callable[[str], FetchResponse],
        *,
        agent: str,
        clock: Clock,
        ttl: float,
        failure_ttl: float,
    ) -> None:
        self._download = download
        self._agent = agent
        self._clock = clock
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, RobotsRules]] = OrderedDict()
        self._origin_locks: dict[str, threading.Lock] = {}

    def check(self, origin: str, url: str) -> None:
        """Raise FetchRefused (reason ``robots``) unless robots.txt allows ``url``."""
        rules = self.rules(origin)
        if not rules.allows(url, self._agent):
            raise FetchRefused(
                f"refused {excerpt(url)!r}: disallowed for {self._agent!r} by"
                f" {excerpt(origin)}/robots.txt ({rules.why})",
                url=url,
                reason="robots",
            )

    def rules(self, origin: str) -> RobotsRules:
        cached = self._cached(origin)
        if cached is not None:
            return cached
        with self._lock_for(origin):
            cached = self._cached(origin)  # another thread may have fetched it meanwhile
            if cached is not None:
                return cached
            rules, ttl = self._fetch(origin)
            with self._lock:
                self._entries[origin] = (self._clock.monotonic() + ttl, rules)
                self._entries.move_to_end(origin)
                while len(self._entries) > _MAX_ORIGINS:
                    old, _ = self._entries.popitem(last=False)
                    self._origin_locks.pop(old, None)
            return rules

    def _cached(self, origin: str) -> RobotsRules | None:
        with self._lock:
            entry = self._entries.get(origin)
            if entry is None or entry[0] <= self._clock.monotonic():
                return None
            self._entries.move_to_end(origin)
            return entry[1]

    def _lock_for(self, origin: str) -> threading.Lock:
        with self._lock:
            return self._origin_locks.setdefault(origin, threading.Lock())

    def _fetch(self, origin: str) -> tuple[RobotsRules, float]:
        try:
            response = self._download(f"{origin}/robots.txt")
        except (FetchRefused, RateLimited):
            raise
        except HttpStatusError as exc:
            if 400 <= exc.status < 500:
                return RobotsRules(allow_all=True, why=f"HTTP {exc.status}: allow all"), self._ttl
            return self._unreachable(f"HTTP {exc.status}")
        except FetchError as exc:
            if exc.reason == "too_many_redirects":  # RFC 9309 2.3.1.2: treat as unavailable
                return RobotsRules(allow_all=True, why="redirect limit: allow all"), self._ttl
            return self._unreachable(exc.reason)
        return rules_from_response(response), self._ttl

    def _unreachable(self, why: str) -> tuple[RobotsRules, float]:
        rules = RobotsRules(allow_all=False, why=f"robots.txt unreachable ({why}): disallow all")
        return rules, self._failure_ttl
