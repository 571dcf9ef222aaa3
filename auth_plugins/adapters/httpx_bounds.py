"""A login's bounds while httpcore reads it: each network wait within the time left, and
the bytes off the wire counted.

httpx's timeouts are per network operation. A login has one deadline for the whole
call, and a server sending a byte now and then, each just within the read timeout,
would otherwise hold it for as long as it liked: while the head drips in, while
chunk-size lines or trailers do, or while gzip data inflates to nothing (httpx's
decoded stream then yields nothing, so no check between its pieces ever runs).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from ..core.messages import MAX_WIRE_BYTES

#: The shortest wait given once the time is over: a read then times out at once
#: (0 would make the socket non-blocking instead of timing out).
_NO_TIME = 0.001


class TimeLeft(dict):  # type: ignore[type-arg]  # httpcore reads a plain dict's .get()
    """A login request's ``timeout`` extension: each phase's limit, never past ``ends``.

    httpcore asks ``extensions["timeout"].get(phase)`` before every network
    operation (connect, each read and write, waiting for the pool), so each gets
    only what is left of the login's time.
    """

    def __init__(self, limits: dict[str, float], ends: float) -> None:
        super().__init__(limits)
        self.ends = ends

    def get(self, key: Any, default: Any = None) -> Any:
        """The phase's limit, or the time left if that is shorter."""
        limit = super().get(key, default)
        if not isinstance(limit, (int, float)):
            return limit
        return min(float(limit), max(self.ends - time.monotonic(), _NO_TIME))


class WireLimit(Exception):
    """More than ``MAX_WIRE_BYTES`` of a login answer came off the wire."""


class WireCounted(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A login answer's raw stream (before decoding), stopped past ``MAX_WIRE_BYTES`` or
    once ``ends`` has passed (``too_slow()`` is raised).

    Checked on each raw piece: decoded, pieces may be empty and never seen.
    """

    def __init__(self, stream: Any, ends: float, too_slow: Callable[[], Exception]) -> None:
        self._stream = stream
        self._ends = ends
        self._too_slow = too_slow
        self._received = 0

    def _count(self, chunk: bytes) -> bytes:
        self._received += len(chunk)
        if self._received > MAX_WIRE_BYTES:
            raise WireLimit
        if time.monotonic() > self._ends:
            raise self._too_slow()
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            yield self._count(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield self._count(chunk)

    def close(self) -> None:
        """Close the stream underneath (the connection goes back or away)."""
        self._stream.close()

    async def aclose(self) -> None:
        """Close the stream underneath (async)."""
        await self._stream.aclose()
