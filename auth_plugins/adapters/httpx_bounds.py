"""A login's bounds while httpcore reads it: each network wait within the time left, and
the bytes off the wire counted.

httpx's timeouts are per network operation. A login has one deadline for the whole
call, and a server sending a byte now and then, each just within the read timeout,
would otherwise hold it for as long as it liked: while the head drips in, while
chunk-size lines or trailers do, or while gzip data inflates to nothing (httpx's
decoded stream then yields nothing, so no check between its pieces ever runs).
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Optional

import httpcore
import httpx

from ..core.messages import MAX_WIRE_BYTES
from .deadline_socket import DeadlineSocket

try:  # httpcore's stream for TLS in TLS (private: without it, such reads are not held)
    from httpcore._backends.sync import TLSinTLSStream
except ImportError:  # pragma: no cover - another httpcore
    TLSinTLSStream = None  # type: ignore[assignment,misc]

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
        #: When the wait for a pooled connection the pool is in ends (``None``: not waiting).
        self.pool_wait_ends: Optional[float] = None

    def get(self, key: Any, default: Any = None) -> Any:
        """The phase's limit, or the time left if that is shorter."""
        limit = super().get(key, default)
        if not isinstance(limit, (int, float)):
            return limit
        now = time.monotonic()
        wait = min(float(limit), max(self.ends - now, _NO_TIME))
        if key == "pool":  # asked once, as the pool starts waiting for a connection
            self.pool_wait_ends = now + wait
        return wait

    def pool_timed_out(self) -> bool:
        """True when the pool was still waiting for a connection and its time is over.

        httpcore traces nothing of that wait: a send that failed with no traced failure,
        once this time passed, is an ``httpx.PoolTimeout``.
        """
        return self.pool_wait_ends is not None and time.monotonic() >= self.pool_wait_ends


def _within(timeout: Optional[float], ends: float, expired: type[Exception]) -> float:
    """``timeout`` clipped to the time left until ``ends``; ``expired`` once none is left
    (a short wait would not do: a server that always has a byte ready never lets it end)."""
    left = ends - time.monotonic()
    if left <= 0:
        raise expired("the login's time is over")
    return left if timeout is None else min(timeout, left)


class HeldStreams:
    """The network streams of a login's HTTP/1.1 connection, each of their reads, writes and
    TLS handshakes held within the time left until ``ends``.

    httpcore's HTTP/1.1 connection asks ``extensions["timeout"]`` once for the whole head
    and once for the whole body, then waits that long on every socket read within: a head
    dripped a byte at a time, endless ``1xx`` answers, a chunk-size line or trailers that
    drip in each kept the login for as long as the server liked (:class:`TimeLeft` alone
    bounds only the first wait). Nothing per read can be hooked but the stream itself,
    and only the connection knows its stream (one from the pool may be reused), so
    :meth:`hold` is called from httpcore's trace, with the connection up the stack.
    The stream's methods are shadowed on the instance and put back by :meth:`release`,
    before the connection serves anyone else.
    """

    def __init__(self, ends: float) -> None:
        self.ends = ends
        self._held: list[Any] = []

    def hold(self, *, asynchronous: bool) -> None:
        """Hold the stream of the httpcore connection that is tracing (if one is found)."""
        stream = _tracing_connection_stream(sys._getframe(1))
        if stream is None or any(held is stream for held in self._held):
            return
        try:
            for name, method in _bounded_methods(stream, self.ends, asynchronous).items():
                setattr(stream, name, method)
        except AttributeError:  # a stream with __slots__: left as it is
            return
        if TLSinTLSStream is not None and isinstance(stream, TLSinTLSStream):
            # TLS in TLS (an HTTPS proxy): one read of it is as many reads of the proxy's
            # socket as a record takes, each waiting the timeout set once: a record whose
            # bytes dripped in kept the login for as long as the server liked.
            stream._sock = DeadlineSocket(stream._sock, self.ends)  # type: ignore[assignment]
        self._held.append(stream)

    def release(self) -> None:
        """Give every held stream its own methods back (its connection may serve others)."""
        for stream in self._held:
            for name in ("read", "write", "start_tls"):
                vars(stream).pop(name, None)
            if isinstance(getattr(stream, "_sock", None), DeadlineSocket):
                stream._sock = stream._sock.sock
        self._held.clear()


#: How far up from the trace callback the connection is looked for: httpcore's own
#: frames put it 3 or 4 up; wrappers around the callback or httpcore (instrumentation,
#: mutmut's trampolines) add more.
_FRAMES_UP = 16


def _tracing_connection_stream(frame: Any) -> Any:
    """The network stream of the httpcore HTTP/1.1 connection a few frames up, or ``None``
    (HTTP/2 asks for its timeout before each read: it needs no holding)."""
    for _ in range(_FRAMES_UP):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, (httpcore.HTTP11Connection, httpcore.AsyncHTTP11Connection)):
            return getattr(owner, "_network_stream", None)
        frame = frame.f_back
    return None


def _bounded_methods(stream: Any, ends: float, asynchronous: bool) -> dict[str, Any]:
    """``read``, ``write`` and ``start_tls`` of ``stream``, each wait within ``ends``."""
    read, write, start_tls = stream.read, stream.write, stream.start_tls
    if asynchronous:

        async def aread(max_bytes: int, timeout: Optional[float] = None) -> bytes:
            data: bytes = await read(max_bytes, _within(timeout, ends, httpcore.ReadTimeout))
            return data

        async def awrite(buffer: bytes, timeout: Optional[float] = None) -> None:
            await write(buffer, _within(timeout, ends, httpcore.WriteTimeout))

        async def astart_tls(context: Any, hostname: Any = None, timeout: Any = None) -> Any:
            # Through a proxy the handshake follows the CONNECT, on a connect timeout
            # httpcore took before it.
            return await start_tls(
                context, hostname, _within(timeout, ends, httpcore.ConnectTimeout)
            )

        return {"read": aread, "write": awrite, "start_tls": astart_tls}

    def sread(max_bytes: int, timeout: Optional[float] = None) -> bytes:
        data: bytes = read(max_bytes, _within(timeout, ends, httpcore.ReadTimeout))
        return data

    def swrite(buffer: bytes, timeout: Optional[float] = None) -> None:
        write(buffer, _within(timeout, ends, httpcore.WriteTimeout))

    def sstart_tls(context: Any, hostname: Any = None, timeout: Any = None) -> Any:
        return start_tls(context, hostname, _within(timeout, ends, httpcore.ConnectTimeout))

    return {"read": sread, "write": swrite, "start_tls": sstart_tls}


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
