"""Read a response body with a hard cap on its decoded size.

The cap applies AFTER decompression and is enforced while streaming: each
wire chunk is inflated with ``max_length`` set to the room left under the cap,
so a gzip bomb produces at most ``limit + 1`` bytes before it is stopped and
peak memory stays near the cap, never a multiple of it. Decoding is done here
rather than by urllib3 so the count is exact and the encodings are known
(``gzip``, ``x-gzip``, ``deflate`` raw or zlib-wrapped, ``identity``).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Mapping

from pipeline.errors import BodyTooLarge, FetchError, excerpt

ACCEPT_ENCODING = "gzip, deflate"
_PIECE = 256 * 1024
"""Most bytes inflated per step: one 64 KiB wire chunk of a bomb can hold megabytes."""


class _Inflater:
    """Incremental gzip/deflate decoder, including multi-member gzip streams."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._decoder: zlib._Decompress | None = None

    def _start(self, data: bytes) -> zlib._Decompress:
        if self._encoding == "deflate" and not _has_zlib_header(data):
            return zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # auto-detect gzip or zlib header

    def inflate(self, data: bytes, room: int) -> Iterable[bytes]:
        """Yield decoded pieces of ``data``; never more than ``room + 1`` bytes in all."""
        while True:
            if self._decoder is None:
                if not data:
                    return
                self._decoder = self._start(data)
            piece = self._decoder.decompress(data, min(room + 1, _PIECE))
            room -= len(piece)
            if piece:
                yield piece
            if room < 0:
                return
            if self._decoder.eof:
                data = self._decoder.unused_data
                self._decoder = None
                if data and not data.startswith(b"\x1f\x8b"):
                    return  # trailing garbage after the last gzip member
                continue
            if not piece:
                return  # zlib took all the input and has nothing pending: next chunk
            data = self._decoder.unconsumed_tail  # may be b"": drains pending output

    def finish(self) -> None:
        """Check the stream ended cleanly; one that stopped mid-member is corrupt."""
        if self._decoder is not None:
            raise zlib.error("the compressed stream ends before its end marker")


def _has_zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _codings(content_encoding: str, url: str) -> str | None:
    """The one compression to undo, or None for identity; refuse stacked/unknown codings."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return "deflate" if codings[0] == "deflate" else "gzip"
    raise FetchError(
        f"cannot decode {excerpt(url)!r}: unsupported Content-Encoding"
        f" {excerpt(content_encoding, 60)!r}",
        url=url,
        reason="content_encoding",
    )


def read_capped(
    chunks: Iterable[bytes],
    *,
    content_encoding: str,
    limit: int,
    url: str,
    truncate: bool = False,
    setting: str = "fetch.max_body_bytes",
) -> bytes:
    """Join and decode wire ``chunks``; raise BodyTooLarge past ``limit`` decoded bytes.

    With ``truncate`` the first ``limit`` bytes are returned instead (robots.txt,
    where RFC 9309 lets a crawler ignore what follows 500 KiB). ``setting`` is
    the configuration key a user raises to accept a larger body.
    """
    coding = _codings(content_encoding, url)
    inflater = _Inflater(coding) if coding else None
    out = io.BytesIO()
    try:
        for chunk in chunks:
            pieces = inflater.inflate(chunk, limit - out.tell()) if inflater else (chunk,)
            for piece in pieces:
                out.write(piece[: limit + 1 - out.tell()])
                if out.tell() > limit:
                    return _overflow(out, limit, url, truncate, setting)
        if inflater:
            inflater.finish()
    except zlib.error as exc:
        raise FetchError(
            f"cannot decode {excerpt(url)!r}: corrupt or truncated {coding} body ({exc})",
            url=url,
            reason="content_encoding",
        ) from None
    if out.tell() > limit:
        return _overflow(out, limit, url, truncate, setting)
    return out.getvalue()


def refuse_announced_oversize(
    headers: Mapping[str, str], limit: int, *, url: str, setting: str = "fetch.max_body_bytes"
) -> None:
    """Raise BodyTooLarge before reading when an uncompressed body announces its excess."""
    announced = _announced_length(headers.get("content-length", ""))
    identity = _codings(headers.get("content-encoding", ""), url) is None
    if identity and announced is not None and announced > limit:
        raise _too_large(url, limit, setting, announced=announced)


_MAX_LENGTH_DIGITS = 18
"""More digits than this announce more than any cap (and past 4,300 int() refuses them)."""


def _announced_length(text: str) -> int | None:
    """A Content-Length as a number, None when it is not one (the body is then read to its
    end or the cap). ASCII digits only: ``²`` (a Latin-1 byte) is a digit to isdigit() and
    made int() raise ValueError out of the fetcher, as did 5,000 digits."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= _MAX_LENGTH_DIGITS else 10**_MAX_LENGTH_DIGITS


def _overflow(out: io.BytesIO, limit: int, url: str, truncate: bool, setting: str) -> bytes:
    if truncate:
        out.truncate(limit)
        return out.getvalue()
    raise _too_large(url, limit, setting)


def _too_large(url: str, limit: int, setting: str, *, announced: int | None = None) -> BodyTooLarge:
    size = f"announces {announced} bytes, more" if announced else "is larger"
    return BodyTooLarge(
        f"body of {excerpt(url)!r} {size} than the cap of {limit} bytes (after decompression); "
        f"raise {setting} to accept it",
        url=url,
    )
