"""The login's bounds piece by piece: each network wait within the time left, the bytes
off the wire counted (``adapters/httpx_bounds.py``, ``adapters/deadline_socket.py``).

The end-to-end tests (``test_httpx_details.py``, ``test_requests_details.py``) show
that a dripping server cannot hold a login; these pin down the figures each wait is
given, against a clock the test sets, so a wait that is a little too long or a limit
off by one byte is seen too.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional

import httpcore
import httpx
import pytest
from httpcore._backends.sync import TLSinTLSStream

from auth_plugins.adapters import deadline_socket, httpx_bounds, httpx_login
from auth_plugins.adapters.deadline_socket import DeadlineSocket
from auth_plugins.adapters.httpx_bounds import (
    HeldStreams,
    TimeLeft,
    WireCounted,
    WireLimit,
    _within,
)
from auth_plugins.adapters.httpx_login import Bounded, LoginRequest, _status_of, transport_error
from auth_plugins.adapters.requests_send import _answer_file, _TimedSocket, _WireLimit
from auth_plugins.core.errors import LoginError
from auth_plugins.core.messages import MAX_ANSWER_BYTES, MAX_WIRE_BYTES, json_call


class Clock:
    """A monotonic clock the test moves (stands in for the modules' ``time``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(httpx_bounds, "time", fake)
    monkeypatch.setattr(deadline_socket, "time", fake)
    monkeypatch.setattr(httpx_login, "time", fake)
    return fake


# --- TimeLeft: the timeout extension httpcore reads ---------------------------------


def test_each_phase_gets_its_own_limit_while_more_time_is_left(clock: Clock) -> None:
    limits = TimeLeft({"connect": 2.0, "read": 3, "write": 4.5}, ends=clock.now + 10)
    assert limits.get("connect") == 2.0
    assert limits.get("read") == 3.0
    assert isinstance(limits.get("read"), float)
    assert limits.get("write") == 4.5


def test_a_phase_gets_only_the_time_left_when_that_is_shorter(clock: Clock) -> None:
    limits = TimeLeft({"read": 3.0}, ends=clock.now + 1.25)
    assert limits.get("read") == 1.25
    clock.now += 1.0
    assert limits.get("read") == pytest.approx(0.25)


def test_once_the_time_is_over_a_phase_gets_the_shortest_wait_not_zero(clock: Clock) -> None:
    # 0 would make the socket non-blocking; a negative timeout is refused by sockets.
    limits = TimeLeft({"read": 3.0}, ends=clock.now)
    assert limits.get("read") == 0.001
    clock.now += 50
    assert limits.get("read") == 0.001


def test_a_phase_without_a_limit_is_given_as_it_is(clock: Clock) -> None:
    limits = TimeLeft({"read": 1.0}, ends=clock.now + 1)
    assert limits.get("pool") is None
    assert limits.get("pool", "given default") == "given default"
    assert limits.pool_wait_ends is None  # no limit: no wait that can time out


def test_the_pool_wait_is_remembered_and_times_out_when_its_time_passes(clock: Clock) -> None:
    limits = TimeLeft({"pool": 2.0, "read": 1.0}, ends=clock.now + 5)
    assert limits.pool_wait_ends is None
    assert limits.pool_timed_out() is False  # not waiting: nothing timed out
    assert limits.get("read") == 1.0
    assert limits.pool_wait_ends is None  # only the pool's phase is a pool wait
    assert limits.get("pool") == 2.0
    assert limits.pool_wait_ends == clock.now + 2.0
    clock.now += 1.999
    assert limits.pool_timed_out() is False
    clock.now += 0.001
    assert limits.pool_timed_out() is True  # exactly at its end: over


def test_the_pool_wait_ends_with_the_login_when_that_comes_first(clock: Clock) -> None:
    limits = TimeLeft({"pool": 9.0}, ends=clock.now + 0.5)
    assert limits.get("pool") == 0.5
    assert limits.pool_wait_ends == clock.now + 0.5


def test_time_left_is_still_a_plain_mapping_for_httpcore() -> None:
    limits = TimeLeft({"read": 1.0}, ends=0.0)
    assert isinstance(limits, dict)
    assert dict(limits) == {"read": 1.0}
    assert limits.ends == 0.0


# --- _within: one network operation's wait --------------------------------------------


class Expired(Exception):
    pass


def test_within_clips_a_wait_to_the_time_left(clock: Clock) -> None:
    ends = clock.now + 2.0
    assert _within(5.0, ends, Expired) == 2.0
    assert _within(0.5, ends, Expired) == 0.5
    assert _within(None, ends, Expired) == 2.0  # no timeout of its own: still the deadline


def test_within_raises_the_phases_timeout_once_no_time_is_left(clock: Clock) -> None:
    with pytest.raises(Expired, match=r"^the login's time is over$"):
        _within(5.0, clock.now, Expired)  # exactly at the end: none left
    with pytest.raises(Expired):
        _within(None, clock.now - 1, Expired)
    assert _within(5.0, clock.now + 0.001, Expired) == pytest.approx(0.001)


# --- HeldStreams: the connection's stream held read by read ---------------------------


class RecordingStream:
    """A network stream that records the timeout each call was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Optional[float]]] = []

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        self.calls.append(("read", max_bytes, timeout))
        return b"data"

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        self.calls.append(("write", buffer, timeout))

    def start_tls(self, context: Any, server_hostname: Any = None, timeout: Any = None) -> Any:
        self.calls.append(("start_tls", (context, server_hostname), timeout))
        return "tls stream"


class AsyncRecordingStream:
    """The same, async (as httpcore's AnyIO stream)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Optional[float]]] = []

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        self.calls.append(("read", max_bytes, timeout))
        return b"data"

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        self.calls.append(("write", buffer, timeout))

    async def start_tls(
        self, context: Any, server_hostname: Any = None, timeout: Any = None
    ) -> Any:
        self.calls.append(("start_tls", (context, server_hostname), timeout))
        return "tls stream"


class SlottedStream:
    """A stream whose methods cannot be shadowed on the instance."""

    __slots__ = ()

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return b""

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        return None

    def start_tls(self, context: Any, server_hostname: Any = None, timeout: Any = None) -> Any:
        return None


ORIGIN = httpcore.Origin(b"http", b"127.0.0.1", 80)


def connection_to(stream: Any) -> httpcore.HTTP11Connection:
    """An httpcore HTTP/1.1 connection over ``stream`` (nothing is sent)."""
    return httpcore.HTTP11Connection(ORIGIN, stream)


def hold_from_connection(held: HeldStreams, connection: Any, *, asynchronous: bool) -> None:
    """Call ``hold`` as httpcore's trace does: with the connection as ``self`` up the stack."""
    self = connection  # noqa: F841  # what the frame walk looks for
    held.hold(asynchronous=asynchronous)


def nested(depth: int, call: Any) -> None:
    """Call ``call`` ``depth`` frames further down."""
    if depth == 0:
        call()
    else:
        nested(depth - 1, call)


def test_a_held_stream_waits_only_the_time_left_on_every_read_and_write(clock: Clock) -> None:
    stream = RecordingStream()
    held = HeldStreams(ends=clock.now + 2.0)
    hold_from_connection(held, connection_to(stream), asynchronous=False)

    assert stream.read(100, 5.0) == b"data"
    assert stream.read(100, 0.5) == b"data"
    assert stream.read(100) == b"data"  # no timeout of its own: still the deadline
    stream.write(b"body", 5.0)
    assert stream.start_tls("ctx", "host", 9.0) == "tls stream"
    clock.now += 1.5
    stream.read(7, 5.0)
    assert stream.calls == [
        ("read", 100, 2.0),
        ("read", 100, 0.5),
        ("read", 100, 2.0),
        ("write", b"body", 2.0),
        ("start_tls", ("ctx", "host"), 2.0),
        ("read", 7, 0.5),
    ]


def test_each_held_call_raises_its_own_timeout_once_the_time_is_over(clock: Clock) -> None:
    stream = RecordingStream()
    held = HeldStreams(ends=clock.now + 1.0)
    hold_from_connection(held, connection_to(stream), asynchronous=False)
    clock.now += 1.0
    with pytest.raises(httpcore.ReadTimeout, match="login's time is over"):
        stream.read(10, 5.0)
    with pytest.raises(httpcore.WriteTimeout, match="login's time is over"):
        stream.write(b"x", 5.0)
    with pytest.raises(httpcore.ConnectTimeout, match="login's time is over"):
        stream.start_tls("ctx", "host", 5.0)
    assert stream.calls == []  # nothing waited on the network


def test_an_async_held_stream_waits_only_the_time_left(clock: Clock) -> None:
    stream = AsyncRecordingStream()
    held = HeldStreams(ends=clock.now + 2.0)
    connection = httpcore.AsyncHTTP11Connection(ORIGIN, stream)  # type: ignore[arg-type]
    hold_from_connection(held, connection, asynchronous=True)

    async def use() -> None:
        assert await stream.read(100, 5.0) == b"data"
        assert await stream.read(100) == b"data"
        await stream.write(b"body", 0.25)
        await stream.write(b"more")
        assert await stream.start_tls("ctx", "host", 9.0) == "tls stream"
        assert await stream.start_tls("ctx") == "tls stream"
        clock.now += 2.0
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1, 5.0)
        with pytest.raises(httpcore.WriteTimeout):
            await stream.write(b"x", 5.0)
        with pytest.raises(httpcore.ConnectTimeout):
            await stream.start_tls("ctx", "host", 5.0)

    asyncio.run(use())
    assert stream.calls == [
        ("read", 100, 2.0),
        ("read", 100, 2.0),
        ("write", b"body", 0.25),
        ("write", b"more", 2.0),
        ("start_tls", ("ctx", "host"), 2.0),
        ("start_tls", ("ctx", None), 2.0),
    ]


def test_a_sync_held_stream_passes_start_tls_defaults_through(clock: Clock) -> None:
    stream = RecordingStream()
    held = HeldStreams(ends=clock.now + 3.0)
    hold_from_connection(held, connection_to(stream), asynchronous=False)
    stream.start_tls("ctx")
    stream.write(b"w")
    assert stream.calls == [("start_tls", ("ctx", None), 3.0), ("write", b"w", 3.0)]


def test_a_held_stream_keeps_a_wait_shorter_than_the_time_left(clock: Clock) -> None:
    for asynchronous in (False, True):
        stream = AsyncRecordingStream() if asynchronous else RecordingStream()
        held = HeldStreams(ends=clock.now + 3.0)
        hold_from_connection(held, connection_to(stream), asynchronous=asynchronous)

        async def use_async(stream: Any = stream) -> None:
            await stream.read(1, 0.5)
            await stream.write(b"w", 0.25)
            await stream.start_tls("ctx", "host", 0.75)

        if asynchronous:
            asyncio.run(use_async())
        else:
            stream.read(1, 0.5)
            stream.write(b"w", 0.25)
            stream.start_tls("ctx", "host", 0.75)
        assert [call[2] for call in stream.calls] == [0.5, 0.25, 0.75], asynchronous


def test_release_gives_the_stream_its_own_methods_back(clock: Clock) -> None:
    stream = RecordingStream()
    held = HeldStreams(ends=clock.now + 1.0)
    hold_from_connection(held, connection_to(stream), asynchronous=False)
    assert {"read", "write", "start_tls"} <= set(vars(stream))
    held.release()
    assert not {"read", "write", "start_tls"} & set(vars(stream))
    clock.now += 10  # long past the login's end: the connection serves others as before
    assert stream.read(5, 7.0) == b"data"
    stream.write(b"x", 8.0)
    stream.start_tls("ctx", "h", 9.0)
    assert [call[2] for call in stream.calls] == [7.0, 8.0, 9.0]
    held.release()  # twice is harmless


def test_a_stream_is_held_once_however_often_the_trace_calls(clock: Clock) -> None:
    stream = RecordingStream()
    held = HeldStreams(ends=clock.now + 1.0)
    connection = connection_to(stream)
    hold_from_connection(held, connection, asynchronous=False)
    first = vars(stream)["read"]
    for _ in range(2):
        hold_from_connection(held, connection, asynchronous=False)
    assert vars(stream)["read"] is first
    assert held._held == [stream]
    stream.read(1, 5.0)
    assert stream.calls == [("read", 1, 1.0)]  # one wrapper, not three
    held.release()
    assert "read" not in vars(stream)


def frames_added_by_wrappers(held: HeldStreams) -> int:
    """How many frames lie between ``hold``'s caller and the frame it starts its walk from:
    0, unless something wraps ``hold`` (mutmut's trampolines do)."""
    started: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_bounds, "_tracing_connection_stream", started.append)
        caller = sys._getframe()
        held.hold(asynchronous=False)
    frame, added = started[0], 0
    while frame is not caller:
        frame, added = frame.f_back, added + 1
    return added


def test_the_connection_is_found_up_to_sixteen_frames_up_and_no_further(clock: Clock) -> None:
    near, far = RecordingStream(), RecordingStream()
    held = HeldStreams(ends=clock.now + 1.0)
    added = frames_added_by_wrappers(held)
    # From hold's caller up: the lambda, 1 + depth calls of nested, then the connection's
    # frame: the 16th frame with depth 13, the 17th with depth 14.
    hold_below_connection(held, near, depth=13 - added)
    assert "read" in vars(near)
    hold_below_connection(held, far, depth=14 - added)
    assert "read" not in vars(far)


def hold_below_connection(held: HeldStreams, stream: Any, depth: int) -> None:
    """This frame is the connection's; ``hold`` is called ``depth`` + 2 frames below it."""
    self = connection_to(stream)  # noqa: F841
    nested(depth, lambda: held.hold(asynchronous=False))


def test_without_a_connection_up_the_stack_nothing_is_held(clock: Clock) -> None:
    held = HeldStreams(ends=clock.now + 1.0)
    held.hold(asynchronous=False)  # a test's frames: no httpcore connection
    assert held._held == []
    stream = RecordingStream()

    def not_a_connection() -> None:
        self = stream  # noqa: F841  # a "self" that is no HTTP/1.1 connection
        held.hold(asynchronous=False)

    not_a_connection()
    assert "read" not in vars(stream)
    assert held._held == []


def test_a_connection_without_a_stream_yet_is_left_alone(clock: Clock) -> None:
    held = HeldStreams(ends=clock.now + 1.0)
    connection = connection_to(RecordingStream())
    del connection._network_stream
    hold_from_connection(held, connection, asynchronous=False)
    assert held._held == []


def test_a_stream_whose_methods_cannot_be_shadowed_is_left_as_it_is(clock: Clock) -> None:
    held = HeldStreams(ends=clock.now + 1.0)
    stream = SlottedStream()
    hold_from_connection(held, connection_to(stream), asynchronous=False)
    assert held._held == []
    held.release()


def test_tls_in_tls_has_the_proxys_socket_held_too_and_given_back(clock: Clock) -> None:
    proxy_side, server_side = socket.socketpair()
    try:
        stream = TLSinTLSStream.__new__(TLSinTLSStream)
        stream._sock = proxy_side
        held = HeldStreams(ends=clock.now + 1.0)
        connection = connection_to(stream)
        for _ in range(3):  # the trace calls at each request head
            hold_from_connection(held, connection, asynchronous=False)
        assert isinstance(stream._sock, DeadlineSocket)
        assert stream._sock.sock is proxy_side  # held once: one release gives it back
        held.release()
        assert stream._sock is proxy_side
        assert "read" not in vars(stream)
    finally:
        proxy_side.close()
        server_side.close()


def test_a_plain_stream_keeps_its_socket(clock: Clock) -> None:
    proxy_side, server_side = socket.socketpair()
    try:
        stream = RecordingStream()
        stream._sock = proxy_side  # type: ignore[attr-defined]
        held = HeldStreams(ends=clock.now + 1.0)
        hold_from_connection(held, connection_to(stream), asynchronous=False)
        assert stream._sock is proxy_side  # type: ignore[attr-defined]
        held.release()
        assert stream._sock is proxy_side  # type: ignore[attr-defined]
    finally:
        proxy_side.close()
        server_side.close()


# --- WireCounted: the raw answer's bytes and time ------------------------------------


class Pieces:
    """A raw answer stream of given pieces that records being closed."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


class TooSlow(Exception):
    pass


def test_an_answer_of_exactly_the_wire_limit_is_read_whole(clock: Clock) -> None:
    pieces = [b"x" * (MAX_WIRE_BYTES - 10), b"y" * 10]
    counted = WireCounted(Pieces(pieces), clock.now + 1, TooSlow)
    assert list(counted) == pieces


def test_one_byte_past_the_wire_limit_stops_the_answer(clock: Clock) -> None:
    pieces = [b"x" * (MAX_WIRE_BYTES - 10), b"y" * 11, b"never read"]
    counted = WireCounted(Pieces(pieces), clock.now + 1, TooSlow)
    pieces_read = iter(counted)
    assert next(pieces_read) == pieces[0]
    with pytest.raises(WireLimit):
        next(pieces_read)


def test_empty_pieces_do_not_count_but_their_time_does(clock: Clock) -> None:
    class Slow(Pieces):
        def __iter__(self) -> Iterator[bytes]:
            yield b""
            clock.now += 0.5
            yield b""
            clock.now += 0.5
            yield b"late"  # exactly at the end: still in time
            clock.now += 0.001
            yield b""  # past it
            yield b"never"

    counted = WireCounted(Slow([]), clock.now + 1.0, TooSlow)
    pieces_read = iter(counted)
    assert [next(pieces_read) for _ in range(3)] == [b"", b"", b"late"]
    with pytest.raises(TooSlow):
        next(pieces_read)


def test_the_wire_count_goes_across_pieces_async(clock: Clock) -> None:
    half = MAX_WIRE_BYTES // 2
    fits = Pieces([b"a" * half, b"b" * (MAX_WIRE_BYTES - half)])
    over = Pieces([b"a" * half, b"b" * half, b"c"])

    async def read(stream: Pieces) -> list[bytes]:
        return [piece async for piece in WireCounted(stream, clock.now + 1, TooSlow)]

    assert asyncio.run(read(fits)) == fits.pieces
    with pytest.raises(WireLimit):
        asyncio.run(read(over))


def test_an_async_answer_past_its_time_is_too_slow(clock: Clock) -> None:
    async def read() -> list[bytes]:
        counted = WireCounted(Pieces([b"a"]), clock.now - 0.001, TooSlow)
        return [piece async for piece in counted]

    with pytest.raises(TooSlow):
        asyncio.run(read())


def test_closing_the_counted_stream_closes_the_one_underneath(clock: Clock) -> None:
    raw = Pieces([b"a"])
    counted = WireCounted(raw, clock.now + 1, TooSlow)
    counted.close()
    assert raw.closed == 1
    asyncio.run(counted.aclose())
    assert raw.closed == 2


# --- DeadlineSocket -------------------------------------------------------------------


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_each_recv_waits_only_the_time_left(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = socket_pair
    ours.settimeout(30.0)
    held = DeadlineSocket(ours, ends=clock.now + 2.5)
    theirs.sendall(b"hello")
    assert held.recv(3) == b"hel"
    assert ours.gettimeout() == 2.5
    clock.now += 2.0
    assert held.recv(10) == b"lo"
    assert ours.gettimeout() == pytest.approx(0.5)


def test_a_recv_with_no_time_left_times_out_without_reading(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = socket_pair
    ours.settimeout(30.0)
    held = DeadlineSocket(ours, ends=clock.now)
    theirs.sendall(b"ready")
    with pytest.raises(socket.timeout, match=r"^timed out$"):
        held.recv(5)
    assert ours.gettimeout() == 30.0  # untouched
    assert ours.recv(5) == b"ready"  # and nothing was read


def test_a_real_wait_ends_with_the_login(socket_pair: tuple[socket.socket, socket.socket]) -> None:
    import time

    ours, _ = socket_pair
    ours.settimeout(30.0)
    held = DeadlineSocket(ours, ends=time.monotonic() + 0.2)
    with pytest.raises(socket.timeout):
        held.recv(1)  # nothing is sent: the 30 s timeout would have waited on
    timeout = ours.gettimeout()
    assert timeout is not None
    assert timeout <= 0.2


def test_the_rest_is_the_sockets_own(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, _ = socket_pair
    held = DeadlineSocket(ours, ends=clock.now + 1)
    assert held.sock is ours
    assert held.fileno() == ours.fileno()
    held.settimeout(4.0)
    assert ours.gettimeout() == 4.0
    with pytest.raises(AttributeError):
        held.no_such_attribute


# --- requests: the answer's socket while a login reads it ----------------------------


def test_the_answer_socket_reads_an_answer_of_exactly_the_wire_limit(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = socket_pair
    timed = _TimedSocket(ours, ends=clock.now + 1.0)
    body = b"z" * MAX_WIRE_BYTES

    def send_all_then_end() -> None:
        theirs.sendall(body)
        theirs.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send_all_then_end)
    sender.start()
    buffer = bytearray(65536)
    received = 0
    while True:
        count = timed.recv_into(buffer)
        if not count:
            break
        received += count
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert received == MAX_WIRE_BYTES
    assert ours.gettimeout() == 1.0  # each read waited the time left, not the socket's own


def test_the_answer_socket_stops_once_past_the_wire_limit(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = socket_pair
    timed = _TimedSocket(ours, ends=clock.now + 1.0)
    sender = threading.Thread(target=theirs.sendall, args=(b"z" * (MAX_WIRE_BYTES + 2),))
    sender.start()
    buffer = bytearray(65536)
    received = 0
    with pytest.raises(_WireLimit):  # noqa: PT012  # reads until the limit stops them
        while True:
            received += timed.recv_into(buffer)
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert MAX_WIRE_BYTES < received <= MAX_WIRE_BYTES + 2


def test_the_answer_socket_reads_within_the_time_left(
    clock: Clock, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = socket_pair
    ours.settimeout(30.0)
    timed = _TimedSocket(ours, ends=clock.now + 0.75)
    theirs.sendall(b"abc")
    buffer = bytearray(2)
    assert timed.recv_into(buffer) == 2
    assert bytes(buffer) == b"ab"
    assert ours.gettimeout() == 0.75
    clock.now += 0.75
    with pytest.raises(socket.timeout):
        timed.recv_into(buffer)
    assert ours.recv(5) == b"c"  # nothing read once the time was over


# --- httpx: what the login's trace callback does --------------------------------------


def login_request(timeout: float = 2.0) -> LoginRequest:
    call = json_call(
        "Acme", "login", "https://api.example.com/login?x=1", {"password": "pw"}, {}, timeout
    )
    return LoginRequest(call, {"connect": 5.0, "read": 0.5, "pool": None}, "ua/1")


def test_a_login_request_carries_its_deadline_to_every_wait() -> None:
    login = login_request(timeout=2.0)
    assert login.ends == login.started + 2.0
    assert login.request.extensions["timeout"] is login.time_left
    assert login.time_left.ends == login.ends
    assert dict(login.time_left) == {"connect": 2.0, "read": 0.5, "write": 2.0, "pool": 2.0}
    assert login.held.ends == login.ends
    assert login.url == "https://api.example.com/login"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ((b"HTTP/1.1", 403, b"Forbidden", []), (403, "Forbidden")),
        ((b"HTTP/1.1", 407, b"Proxy \xffAuth", []), (407, "Proxy \ufffdAuth")),
        ((b"HTTP/1.1", 502, "not bytes", []), (502, "")),
        ((b"HTTP/1.1", "403", b"Forbidden", []), (0, "")),
        ((b"HTTP/1.1", 403, b"Forbidden"), (0, "")),
        ([b"HTTP/1.1", 403, b"Forbidden", []], (0, "")),
        (None, (0, "")),
    ],
)
def test_the_status_of_a_traced_head(head: Any, status: tuple[int, str]) -> None:
    assert _status_of(head) == status


def connect_traced(login: LoginRequest, status: int) -> None:
    """Trace a CONNECT to a proxy answered with ``status``."""
    connect = httpcore.Request(b"CONNECT", "https://api.example.com:443")
    login.sync_trace("http11.send_request_headers.started", {"request": connect})
    head: tuple[Any, ...] = (b"HTTP/1.1", status, b"Reason", [])
    login.sync_trace("http11.receive_response_headers.complete", {"return_value": head})


@pytest.mark.parametrize("status", [199, 300, 403, 407])
def test_a_proxy_refusing_the_tunnel_is_the_logins_failure(status: int) -> None:
    login = login_request()
    connect_traced(login, status)
    assert isinstance(login.failure, httpx.ProxyError)
    assert str(login.failure) == f"{status} Reason"


@pytest.mark.parametrize("status", [200, 299])
def test_a_tunnel_the_proxy_opens_is_no_failure(status: int) -> None:
    login = login_request()
    connect_traced(login, status)
    assert login.failure is None


def test_only_a_connects_answer_is_a_proxys_refusal() -> None:
    login = login_request()
    post = httpcore.Request(b"POST", "https://api.example.com/login")
    login.sync_trace("http11.send_request_headers.started", {"request": post})
    head: tuple[Any, ...] = (b"HTTP/1.1", 403, b"Forbidden", [])
    login.sync_trace("http11.receive_response_headers.complete", {"return_value": head})
    assert login.failure is None  # the vendor's own 403 is read as an answer


def test_the_first_traced_failure_is_kept() -> None:
    login = login_request()
    connect_traced(login, 407)
    first = login.failure
    login.sync_trace("connection.connect_tcp.failed", {"exception": OSError("later")})
    assert login.failure is first
    other = login_request()
    reset = ConnectionResetError("reset")
    asyncio.run(other.async_trace("http11.receive_response_body.failed", {"exception": reset}))
    assert other.failure is reset
    asyncio.run(other.async_trace("http11.send_request_body.failed", {"exception": OSError()}))
    assert other.failure is reset
    other.sync_trace("http11.send_request_body.complete", {"exception": OSError()})
    assert other.failure is reset


def test_anything_traced_ends_the_wait_for_a_pooled_connection() -> None:
    login = login_request()
    assert login.time_left.get("pool") == pytest.approx(2.0, abs=0.1)
    assert login.time_left.pool_wait_ends is not None
    login.sync_trace("connection.connect_tcp.started", {})
    assert login.time_left.pool_wait_ends is None
    login.time_left.get("pool")
    asyncio.run(login.async_trace("connection.connect_tcp.started", {}))
    assert login.time_left.pool_wait_ends is None


def test_a_pool_wait_past_its_time_is_a_pool_timeout(clock: Clock) -> None:
    login = login_request()
    login.time_left.ends = clock.now + 1.0
    login.time_left.get("pool")
    assert login.send_failed() is None  # still waiting: no failure of its own
    clock.now += 1.0
    error = login.send_failed()
    assert isinstance(error, LoginError)
    assert "did not answer within 2s" in str(error)


def test_the_stream_is_held_at_the_request_head_and_given_back_when_the_answer_closes(
    clock: Clock,
) -> None:
    login = login_request()
    stream = RecordingStream()
    self = connection_to(stream)  # noqa: F841  # the tracing connection, up the stack
    post = httpcore.Request(b"POST", "https://api.example.com/login")
    login.sync_trace("http11.send_request_headers.started", {"request": post})
    assert "read" in vars(stream)
    login.sync_trace("http11.response_closed.started", {})
    assert "read" not in vars(stream)
    login.sync_trace("http11.send_request_headers.started", {"request": post})
    assert "read" in vars(stream)
    login.scrub()  # a login that ended without closing its answer gives it back too
    assert "read" not in vars(stream)


def test_a_login_answer_is_collected_up_to_its_limit_exactly() -> None:
    bounded = Bounded()
    assert bounded.add(b"a" * (MAX_ANSWER_BYTES - 1)) is True
    assert bounded.add(b"b") is True  # exactly the limit: read on (the end may be next)
    assert bounded.oversized is False
    assert bounded.body() == b"a" * (MAX_ANSWER_BYTES - 1) + b"b"
    assert bounded.add(b"c") is False  # one byte past it: read no further
    assert bounded.oversized is True
    assert bounded.body() == b"a" * (MAX_ANSWER_BYTES - 1) + b"b"
    assert bounded.size == MAX_ANSWER_BYTES + 1


def test_a_client_timeout_that_ends_with_the_login_is_the_logins_own(clock: Clock) -> None:
    # At the login's end its own time is over: the client's shorter limit did not end it.
    login = login_request(timeout=2.0)
    login.client_timeouts = {"read": 0.5}
    login.ends = clock.now + 0.001
    before = transport_error(login, httpx.ReadTimeout("timed out"))
    assert str(before).startswith("Acme login did not answer within 0.5s, the client's read")
    login.ends = clock.now
    at_end = transport_error(login, httpx.ReadTimeout("timed out"))
    assert str(at_end).startswith("Acme login did not answer within 2s (")


def test_a_traced_request_head_without_its_request_is_no_tunnel() -> None:
    login = login_request()
    login.sync_trace("http11.send_request_headers.started", {})
    head: tuple[Any, ...] = (b"HTTP/1.1", 403, b"Forbidden", [])
    login.sync_trace("http11.receive_response_headers.complete", {"return_value": head})
    assert login.failure is None


def test_only_an_answer_file_over_a_usable_socket_is_timed(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    """http.client's answer file (``raw._fp.fp.raw``) is timed only over something with a
    socket's ``recv_into`` and ``settimeout``; anything else is read as it is."""

    def answer_over(sock: Any) -> tuple[Any, Any]:
        file = types.SimpleNamespace(_sock=sock)
        http_client_answer = types.SimpleNamespace(fp=types.SimpleNamespace(raw=file))
        return types.SimpleNamespace(_fp=http_client_answer), file

    raw, file = answer_over(socket_pair[0])
    assert _answer_file(raw) is file
    for unusable in (None, object(), types.SimpleNamespace(recv_into=len)):
        raw, _ = answer_over(unusable)
        assert _answer_file(raw) is None
    assert _answer_file(types.SimpleNamespace(_fp=None)) is None
    assert _answer_file(None) is None
