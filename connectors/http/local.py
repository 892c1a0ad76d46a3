"""Local sources: configured feed files and URL-prefix mirrors of whole sites.

Two doors to the file system, both narrow on purpose:

* :class:`LocalFeedReader` reads a file only when its path is one of the
  configured feed paths, through its own method (``fetch_local_feed``), so a
  link found inside a feed, which always goes through ``fetch(url)``, can never
  name a file;
* :class:`MirrorFetcher` serves ``http://site.example/a/b.html`` from
  ``<dir>/a/b.html`` (``index.html`` for directory URLs) for the offline demo
  and replays; a path that would leave ``<dir>`` (``..``, symlinks) is refused.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote

from connectors.http.base import FetchResponse, Purpose
from connectors.http.content_types import (
    Verdict,
    judge_content_type,
    looks_like_feed,
    refuse_content_type,
)
from connectors.http.metrics import counting_refusals
from pipeline.errors import BodyTooLarge, FetchError, FetchRefused, HttpStatusError, excerpt

_EXTRA_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}


def read_local_file(
    path: Path,
    *,
    url: str,
    limit: int,
    last_modified: str | None = None,
    setting: str = "fetch.max_body_bytes",
) -> FetchResponse:
    """Read ``path`` as a 200 response (304 when ``last_modified`` still matches).

    Raises FileNotFoundError for a missing file so callers can word it their
    way, BodyTooLarge past ``limit`` bytes, FetchError for what is not a regular
    file and for other I/O errors.
    """
    try:
        stat = path.stat()
        if not path.is_file():  # a directory, a device (/dev/zero), a FIFO: exists, not a feed
            raise FetchError(
                f"local feed {excerpt(url)!r} is not a regular file", url=url, reason="not_a_file"
            )
        modified = formatdate(stat.st_mtime, usegmt=True)
        headers = {"content-type": _media_type(path), "last-modified": modified}
        if last_modified and last_modified.strip() == modified:
            return FetchResponse(url=url, status=304, body=b"", headers=headers)
        with path.open("rb") as handle:
            body = handle.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FetchError(
            f"cannot read {excerpt(str(path))} for {excerpt(url)!r}: {excerpt(str(exc))}",
            url=url,
            reason="local_io",
        ) from None
    if len(body) > limit:
        raise BodyTooLarge(
            f"{excerpt(str(path))} is larger than the cap of {limit} bytes; raise {setting}",
            url=url,
        )
    return FetchResponse(url=url, status=200, body=body, headers=headers)


def _media_type(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        return "application/gzip"
    return _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(name)[0] or ""


class LocalFeedReader:
    """Read feed files, but only those whose path is configured as a feed ``url``."""

    def __init__(
        self,
        paths: Iterable[str | Path],
        *,
        max_body_bytes: int,
        setting: str = "schedule.max_feed_bytes",
    ) -> None:
        self._allowed = {Path(p).expanduser().resolve() for p in paths}
        self._limit = max_body_bytes
        self._setting = setting

    def fetch_local_feed(
        self, path: str | Path, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResponse:
        """The file at ``path`` as a response; ``etag`` is accepted and ignored (no ETags)."""
        with counting_refusals():
            return self._read(str(path), last_modified)

    def _read(self, shown: str, last_modified: str | None) -> FetchResponse:
        resolved = Path(shown).expanduser().resolve()
        if resolved not in self._allowed:
            raise FetchRefused(
                f"refused local file {excerpt(shown)!r}: only paths configured as a feed url"
                " are read",
                url=shown,
                reason="local_path",
            )
        try:
            return read_local_file(
                resolved,
                url=shown,
                limit=self._limit,
                last_modified=last_modified,
                setting=self._setting,
            )
        except FileNotFoundError:
            raise FetchError(
                f"local feed file {excerpt(shown)!r} does not exist",
                url=shown,
                reason="file_not_found",
            ) from None


class MirrorFetcher:
    """Serve URLs under configured prefixes from local directories."""

    def __init__(self, mirrors: Mapping[str, Path], *, max_body_bytes: int) -> None:
        by_length = sorted(mirrors.items(), key=lambda item: len(item[0]), reverse=True)
        self._mirrors = [(prefix, Path(root).resolve()) for prefix, root in by_length]
        self._limit = max_body_bytes

    def serves(self, url: str) -> bool:
        return self._match(url) is not None

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        with counting_refusals():
            return self._serve(url, purpose, last_modified)

    def _serve(self, url: str, purpose: Purpose, last_modified: str | None) -> FetchResponse:
        match = self._match(url)
        if match is None:
            raise FetchError(
                f"no local mirror serves {excerpt(url)!r}", url=url, reason="no_mirror"
            )
        prefix, root = match
        path = self._file_for(url[len(prefix) :], root, url)
        try:
            response = read_local_file(
                path, url=url, limit=self._limit, last_modified=last_modified
            )
        except FileNotFoundError:
            raise HttpStatusError(
                f"{excerpt(url)!r} is not in the local mirror {root} (HTTP 404)",
                url=url,
                status=404,
            ) from None
        if response.status == 200:
            verdict = judge_content_type(purpose, response.content_type, url=url)
            if verdict is Verdict.SNIFF and not looks_like_feed(response.body):
                raise refuse_content_type(purpose, response.content_type, url)
        return response

    def close(self) -> None:
        """Nothing to release; present so a mirror can stand in for any fetcher."""

    def _match(self, url: str) -> tuple[str, Path] | None:
        for prefix, root in self._mirrors:
            if not url.startswith(prefix):
                continue
            rest = url[len(prefix) :]
            if prefix.endswith("/") or not rest or rest[0] in "/?#":
                return prefix, root
        return None

    def _file_for(self, rest: str, root: Path, url: str) -> Path:
        """Map the URL path below the prefix to a file inside ``root``, or refuse."""
        relative = unquote(rest.split("#", 1)[0].split("?", 1)[0])
        segments = relative.split("/")
        if any(s in ("..", ".") for s in segments) or "\\" in relative or "\0" in relative:
            raise FetchRefused(
                f"refused {excerpt(url)!r}: the path leaves the mirror directory",
                url=url,
                reason="mirror_path",
            )
        path = root.joinpath(*[s for s in segments if s])
        if not relative or relative.endswith("/") or _is_dir(path):
            path = path / "index.html"
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise FetchRefused(
                f"refused {excerpt(url)!r}: {excerpt(str(path))} resolves outside the mirror"
                f" directory {root}",
                url=url,
                reason="mirror_path",
            )
        return resolved


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, False where the file system cannot even look the name up: a URL
    segment over the name limit (ENAMETOOLONG) raised OSError out of the fetcher."""
    try:
        return path.is_dir()
    except OSError:
        return False
