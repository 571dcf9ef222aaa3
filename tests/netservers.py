"""Loopback servers for tests of what a client does on the wire, and their pytest fixtures.

- :class:`ForwardProxy` (fixture ``forward_proxy``): an HTTP forward proxy taking both
  absolute-URI requests (``GET http://host/...``) and ``CONNECT`` tunnels (HTTPS); it records
  what it was asked for, so a test can assert that a call went through it; ``tls=`` (a server
  context) makes it an HTTPS proxy, for TLS in TLS.
- :class:`SlowDripServer` (``slow_drip_server``): answers 200 with a JSON body sent one byte
  at a time, so a client with only a per-read timeout would wait for minutes.
- :class:`PausingServer`: answers a login (any ``POST``) 200 with half a JSON login answer
  (after a delay, if asked), then, after a pause, the other half (or closes the connection);
  anything else 401 at once.
- :class:`EndlessServer`: answers 200 with a body that never ends (a few KiB every few ms).
- :class:`HollowGzipServer`: answers 200 with a gzip body that never ends and inflates to
  nothing (empty deflate blocks), slowly or as fast as it can.
- :class:`FramingDripServer`: answers with its head, its ``1xx`` answers, a chunk-size line or
  its trailers dripping in, a byte at a time: what a client's per-read timeout never ends; or
  (``keep-alive``) answers every request of a connection, a login at once, the rest slowly.
- :class:`RecordDripServer`: HTTPS; answers a login with its body as one TLS record whose bytes
  drip in, what a TLS layer waiting a timeout per socket read within a record never ends.
- :class:`BombServer` (``bomb_server``): answers with a gzip body that inflates to 1 GiB, or a
  plain 50 MiB body, for tests of how much a client is willing to read.

Each binds 127.0.0.1 on a free port and serves every connection in its own thread. ``stop()``
(or leaving the ``with`` block, or the fixture's teardown) closes the listener and every open
socket, then joins every thread, and raises if one did not end or if one failed with anything
but a dropped connection (a bug in the server, which must fail the test that used it). Every
loop is bounded in count and time. The fixtures are registered for the project's tests in
``conftest.py``.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

import pytest

__all__ = [
    "BombServer",
    "EndlessServer",
    "ForwardProxy",
    "FramingDripServer",
    "HollowGzipServer",
    "LoopbackServer",
    "PausingServer",
    "ProxiedRequest",
    "RecordDripServer",
    "SlowDripServer",
    "bomb_server",
    "drip_body",
    "forward_proxy",
    "gzip_bomb",
    "is_loopback",
    "slow_drip_server",
]

#: Seconds one socket read or write may block before the connection is given up.
IO_TIMEOUT = 10.0
#: Seconds between checks for stop() in accept and relay loops.
POLL_INTERVAL = 0.05
#: Seconds stop() waits for each thread.
JOIN_TIMEOUT = 5.0
#: Connections one server accepts in its life; a test needs far fewer.
MAX_CONNECTIONS = 1000
#: Largest request head (request line and headers) read.
MAX_HEAD_BYTES = 64 * 1024
#: Largest request body read (and dropped) by the drip and bomb servers.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Longest life of one proxied connection or tunnel.
RELAY_LIFETIME = 120.0

MIB = 1024 * 1024
GIB = 1024 * MIB

_Server = TypeVar("_Server", bound="LoopbackServer")


# ---------------------------------------------------------------------------------- HTTP bits


class _Head(NamedTuple):
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def _read_head(conn: socket.socket) -> tuple[_Head, bytes]:
    """Read a request head; return it and whatever bytes came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise ValueError("request head too large")
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed before sending a request")
        data += chunk
    raw, rest = data.split(b"\r\n\r\n", 1)
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return _Head(method, target, version, headers), rest


def _drain_body(conn: socket.socket, head: _Head, rest: bytes) -> None:
    """Read a Content-Length request body to its end (the servers here ignore it)."""
    remaining = min(int(head.header("Content-Length") or 0), MAX_BODY_BYTES) - len(rest)
    while remaining > 0:
        chunk = conn.recv(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)


def _status_head(status: int, reason: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_text(conn: socket.socket, status: int, reason: str, text: str) -> None:
    body = text.encode("utf-8")
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
    }
    conn.sendall(_status_head(status, reason, headers) + body)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals: the only hosts the proxy will reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------- the base


class LoopbackServer:
    """A TCP server on 127.0.0.1 with a thread per connection; subclasses define :meth:`handle`.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        #: Exceptions the server's threads raised (a dropped connection is not one).
        self.errors: list[BaseException] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's root URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        """Serve one accepted connection (closed afterwards by the caller)."""
        raise NotImplementedError

    def start(self: _Server) -> _Server:
        """Listen on a free loopback port and accept in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        # accept() wakes up this often to notice stop().
        listener.settimeout(POLL_INTERVAL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept, name=f"{type(self).__name__}:{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every socket, then join every thread.

        Raises RuntimeError when a thread is still running after its bounded wait, or
        when one raised (the first exception is chained).
        """
        self._stopping.set()
        threads: list[threading.Thread] = []
        if self._accept_thread is not None:
            # Joined first, so no connection is accepted after the sockets are shut below.
            self._accept_thread.join(JOIN_TIMEOUT)
            threads.append(self._accept_thread)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
            threads += self._threads
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by its thread
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        alive = [thread.name for thread in threads if thread.is_alive()]
        if alive:
            raise RuntimeError(f"{type(self).__name__}: threads still running: {alive}")
        with self._lock:
            errors = list(self.errors)
        if errors:
            raise RuntimeError(
                f"{type(self).__name__}: {len(errors)} thread(s) raised; the first: {errors[0]!r}"
            ) from errors[0]

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def track(self, sock: socket.socket) -> bool:
        """Let :meth:`stop` shut ``sock`` down; False (and ``sock`` closed) when stopping."""
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return False
            self._sockets.add(sock)
            return True

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        sock.close()

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)

    def _accept(self) -> None:
        try:
            self._accept_loop()
        except BaseException as exc:  # reported by stop(), in the test's thread
            self._failed(exc)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        for _ in range(MAX_CONNECTIONS):
            conn = None
            while conn is None and not self._stopping.is_set():
                try:
                    conn, _ = self._listener.accept()
                except socket.timeout:
                    continue
                except OSError:  # the listener was closed
                    return
            if conn is None:
                return
            conn.settimeout(IO_TIMEOUT)
            if not self.track(conn):
                return
            thread = threading.Thread(
                target=self._serve, args=(conn,), name=f"{type(self).__name__}-conn", daemon=True
            )
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ValueError):
            # A client that went away or spoke nonsense, or stop() cutting the connection.
            pass
        except BaseException as exc:  # reported by stop(), in the test's thread
            self._failed(exc)
        finally:
            self._forget(conn)


# ----------------------------------------------------------------------------- forward proxy


class ProxiedRequest(NamedTuple):
    """What the proxy was asked for: method, target as sent, and the request's headers."""

    method: str
    target: str
    headers: dict[str, str]


#: Headers that concern the client-to-proxy hop only (RFC 9110 section 7.6.1).
_HOP_BY_HOP = frozenset(
    {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "upgrade"}
)


class ForwardProxy(LoopbackServer):
    """An HTTP forward proxy for loopback targets, recording every request it is asked for.

    ``CONNECT host:port`` opens a tunnel (how HTTPS goes through a proxy; the proxy sees only
    the host and port). ``METHOD http://host:port/path`` is sent on with ``Connection: close``
    and the answer relayed back. Targets that are not loopback addresses get 403: tests must
    not reach anything off this machine.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self._requests: list[ProxiedRequest] = []
        #: With a server context, an HTTPS proxy: clients speak TLS to it (TLS in TLS).
        self.tls = tls

    @property
    def url(self) -> str:
        """The proxy's URL, ``https://`` when it speaks TLS."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every request the proxy was asked for, oldest first, headers included."""
        with self._lock:
            return list(self._requests)

    @property
    def seen(self) -> list[tuple[str, str]]:
        """``(method, target)`` of each request: ``("CONNECT", "127.0.0.1:PORT")`` for a
        tunnel, ``("POST", "http://127.0.0.1:PORT/path")`` for a plain HTTP request."""
        return [(r.method, r.target) for r in self.requests]

    def handle(self, conn: socket.socket) -> None:
        """Serve one client connection: one tunnel, or one forwarded request."""
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True)
        head, rest = _read_head(conn)
        with self._lock:
            self._requests.append(ProxiedRequest(head.method, head.target, dict(head.headers)))
        if head.method == "CONNECT":
            self._tunnel(conn, head, rest)
        else:
            self._forward(conn, head, rest)

    def _open(self, conn: socket.socket, host: str, port: int) -> socket.socket | None:
        if not is_loopback(host):
            _send_text(conn, 403, "Forbidden", "This test proxy reaches loopback hosts only.\n")
            return None
        try:
            upstream = socket.create_connection((host.strip("[]"), port), timeout=IO_TIMEOUT)
        except OSError as exc:
            _send_text(conn, 502, "Bad Gateway", f"Cannot connect: {exc}\n")
            return None
        return upstream if self.track(upstream) else None

    def _tunnel(self, conn: socket.socket, head: _Head, rest: bytes) -> None:
        host, _, port_text = head.target.rpartition(":")
        if not host or not port_text.isdigit():
            _send_text(conn, 400, "Bad Request", "CONNECT needs host:port.\n")
            return
        upstream = self._open(conn, host, int(port_text))
        if upstream is None:
            return
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            self._relay(conn, upstream)
        finally:
            self._forget(upstream)

    def _forward(self, conn: socket.socket, head: _Head, rest: bytes) -> None:
        parts = urlsplit(head.target)
        if parts.scheme != "http" or not parts.hostname:
            _send_text(conn, 400, "Bad Request", "Expected an absolute http:// URI.\n")
            return
        upstream = self._open(conn, parts.hostname, parts.port or 80)
        if upstream is None:
            return
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            lines = [f"{head.method} {path} {head.version}"]
            lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in _HOP_BY_HOP]
            # One request per connection: the answer ends when the server closes, so the
            # relay needs no HTTP parsing.
            lines.append("Connection: close")
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest)
            self._relay(conn, upstream)
        finally:
            self._forget(upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes, stop(), or RELAY_LIFETIME."""
        deadline = time.monotonic() + RELAY_LIFETIME
        while not self._stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([client, upstream], [], [], POLL_INTERVAL)
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)


# --------------------------------------------------------------------------- slow drip


def drip_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes that looks like a login answer of either vendor."""
    payload = {"access_token": "drip-token", "token": "drip-token", "expires_in": 3600}
    compact = functools.partial(json.dumps, separators=(",", ":"))
    skeleton = compact({**payload, "padding": ""}).encode("ascii")
    if size < len(skeleton):
        raise ValueError(f"size must be at least {len(skeleton)}")
    return compact({**payload, "padding": "x" * (size - len(skeleton))}).encode("ascii")


class SlowDripServer(LoopbackServer):
    """Answers every request 200 with a JSON body, one byte every ``interval`` seconds.

    The status line and headers (``Content-Length`` included) go out at once, then the first
    byte; each later byte follows ``interval`` seconds after the one before. With the defaults
    (1 s, 600 bytes) the body would take ten minutes, while no single read waits more than a
    second.

    After ``give_up`` seconds the server hangs up, the body unfinished. A client that keeps to
    its deadline never sees that; one that does not (a planted bug, under ``./dev mutate``)
    then fails in seconds instead of waiting minutes idle, where mutmut's CPU-time limit
    never stops it.
    """

    def __init__(self, interval: float = 1.0, size: int = 600, give_up: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self.give_up = give_up
        self.body = drip_body(size)
        self._seen: list[tuple[str, str]] = []

    @property
    def seen(self) -> list[tuple[str, str]]:
        """``(method, target)`` of each request received."""
        with self._lock:
            return list(self._seen)

    def handle(self, conn: socket.socket) -> None:
        """Read one request, then drip the answer (ends early on stop())."""
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        with self._lock:
            self._seen.append((head.method, head.target))
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(self.body)),
            "Connection": "close",
        }
        conn.sendall(_status_head(200, "OK", headers))
        hang_up = time.monotonic() + self.give_up
        for index in range(len(self.body)):
            if index and (self._stopping.wait(self.interval) or time.monotonic() > hang_up):
                return
            conn.sendall(self.body[index : index + 1])


class RecordDripServer(LoopbackServer):
    """HTTPS (server ``context``): answers a ``POST`` (a login) 200, its head at once, then
    :func:`drip_body` as one TLS record whose bytes go out one every ``interval`` seconds
    (until ``give_up``, then it hangs up); anything else 401 at once.

    Each byte is a read of its own for the socket underneath the client's TLS: a TLS layer
    that gives each socket read within one record the whole timeout (TLS in TLS, through
    an HTTPS proxy) waits until the record is whole.
    """

    def __init__(
        self, context: ssl.SSLContext, interval: float = 0.02, give_up: float = 8.0
    ) -> None:
        super().__init__()
        self.context = context
        self.interval = interval
        self.give_up = give_up
        self.body = drip_body(300)

    @property
    def url(self) -> str:
        """The server's root URL, ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        """Shake hands, read one request, then answer as the class says."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)

        def flush() -> None:
            conn.sendall(outgoing.read())

        def feed() -> None:
            flush()
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("the client went away")
            incoming.write(data)

        for _ in range(100):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                feed()
        request = b""
        while b"\r\n\r\n" not in request and len(request) < MAX_HEAD_BYTES:
            try:
                request += tls.read(65536)
            except ssl.SSLWantReadError:
                feed()
        if not request.startswith(b"POST"):
            tls.write(_status_head(401, "Unauthorized", {"Content-Length": "2"}) + b"{}")
            flush()
            return
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(self.body)),
            "Connection": "close",
        }
        tls.write(_status_head(200, "OK", headers))
        flush()
        tls.write(self.body)
        record = outgoing.read()
        hang_up = time.monotonic() + self.give_up
        for index in range(len(record)):
            if self._stopping.wait(self.interval) or time.monotonic() > hang_up:
                return
            conn.sendall(record[index : index + 1])


# --------------------------------------------------------------------------- a pause


class PausingServer(LoopbackServer):
    """Answers a ``POST`` (a login) 200 with :func:`drip_body`, half of it at once, the rest
    ``pause`` seconds later; with ``close=True`` it closes the connection instead of sending
    the rest. With ``delay``, the answer (status line on) starts that many seconds after the
    request. Any other request gets 401 (a refused token) at once.
    """

    def __init__(
        self, pause: float, *, close: bool = False, size: int = 200, delay: float = 0.0
    ) -> None:
        super().__init__()
        self.pause = pause
        self.close = close
        self.delay = delay
        self.body = drip_body(size)

    def handle(self, conn: socket.socket) -> None:
        """Read one request, then answer as the class says (ends early on stop())."""
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        if head.method != "POST":
            _send_text(conn, 401, "Unauthorized", "{}")
            return
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(self.body)),
            "Connection": "close",
        }
        half = len(self.body) // 2
        if self._stopping.wait(self.delay):
            return
        conn.sendall(_status_head(200, "OK", headers) + self.body[:half])
        if self._stopping.wait(self.pause) or self.close:
            return
        conn.sendall(self.body[half:])


class EndlessServer(LoopbackServer):
    """Answers every request 200 with a body of no told length that does not end: 8 KiB of
    spaces every ``interval`` seconds until the client goes (or stop(), or 2 000 pieces).
    ``pieces`` counts the pieces it sent."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__()
        self.interval = interval
        self._pieces = 0

    @property
    def pieces(self) -> int:
        """How many 8 KiB pieces of body went out (the last may have found the client gone)."""
        with self._lock:
            return self._pieces

    def handle(self, conn: socket.socket) -> None:
        """Read one request, then send pieces of the body until the client hangs up."""
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        headers = {"Content-Type": "application/json", "Connection": "close"}
        conn.sendall(_status_head(200, "OK", headers))
        piece = b" " * 8192
        for _ in range(2_000):
            if self._stopping.wait(self.interval):
                return
            with self._lock:
                self._pieces += 1
            conn.sendall(piece)


class HollowGzipServer(LoopbackServer):
    """Answers every request 200 with a gzip body that inflates to nothing (after ``content``,
    if given) and does not end: a gzip header, then empty deflate blocks (5 bytes each that
    decode to no byte), ``blocks`` of them every ``interval`` seconds (back to back when 0),
    until the client goes, stop(), or ``give_up`` seconds (then it hangs up, as
    :class:`SlowDripServer` does).

    A client that reads "a piece of the decoded body" waits, inside that one read, for as long
    as the server likes and takes in as much as it sends.
    """

    def __init__(
        self, interval: float, blocks: int = 1, give_up: float = 10.0, content: bytes = b""
    ) -> None:
        super().__init__()
        self.interval = interval
        self.blocks = blocks
        self.give_up = give_up
        #: Real bytes the body inflates to first (then nothing more, ever).
        self.content = content

    def handle(self, conn: socket.socket) -> None:
        """Read one request, then send the hollow body until the client hangs up."""
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Connection": "close",
        }
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, after the header
        first = compressor.compress(self.content) + compressor.flush(zlib.Z_SYNC_FLUSH)
        conn.sendall(_status_head(200, "OK", headers) + gzip_header() + first)
        pieces = b"\x00\x00\x00\xff\xff" * self.blocks  # non-final stored blocks of no bytes
        hang_up = time.monotonic() + self.give_up
        while not self._stopping.wait(self.interval) and time.monotonic() < hang_up:
            conn.sendall(pieces)


class FramingDripServer(LoopbackServer):
    """Answers every request 200, the HTTP framing around its body (not the body) coming
    slowly, as ``shape`` says; one piece every ``interval`` seconds until the client goes,
    stop(), or ``give_up`` seconds (then it hangs up):

    - ``head``: the status line, then a header line a byte at a time;
    - ``informational``: ``103 Early Hints`` answers, one after the other, never the answer;
    - ``chunk-size``: a chunked head, then a chunk-size line whose extension drips;
    - ``trailers``: a whole chunked :func:`drip_body`, then a trailer field that drips;
    - ``keep-alive``: every request of a connection answered in turn, the connection kept:
      a ``POST`` (a login) with :func:`drip_body` at once, anything else with ``ok`` after
      ``interval`` (a slow API). ``connections`` counts the connections accepted.
    """

    SHAPES = ("head", "informational", "chunk-size", "trailers", "keep-alive")

    def __init__(self, shape: str, interval: float = 0.05, give_up: float = 8.0) -> None:
        if shape not in self.SHAPES:
            raise ValueError(f"shape must be one of {self.SHAPES}")
        super().__init__()
        self.shape = shape
        self.interval = interval
        self.give_up = give_up
        self.body = drip_body(200)
        self._connections = 0

    @property
    def connections(self) -> int:
        """How many connections the server accepted."""
        with self._lock:
            return self._connections

    def handle(self, conn: socket.socket) -> None:
        """Serve one connection as ``shape`` says."""
        with self._lock:
            self._connections += 1
        if self.shape == "keep-alive":
            self._keep_alive(conn)
            return
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        chunked = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        first, piece = {
            "head": ("HTTP/1.1 200 OK\r\nX-Slow: ", "a"),
            "informational": ("", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
            "chunk-size": (f"HTTP/1.1 200 OK\r\n{chunked}1;ext=", "a"),
            "trailers": (
                f"HTTP/1.1 200 OK\r\n{chunked}{len(self.body):x}\r\n"
                + self.body.decode()
                + "\r\n0\r\nX-Slow: ",
                "a",
            ),
        }[self.shape]
        conn.sendall(first.encode("latin-1"))
        hang_up = time.monotonic() + self.give_up
        while not self._stopping.wait(self.interval) and time.monotonic() < hang_up:
            conn.sendall(piece.encode("latin-1"))

    def _keep_alive(self, conn: socket.socket) -> None:
        for _ in range(100):
            try:
                head, rest = _read_head(conn)
            except ConnectionError:  # the client closed the connection between requests
                return
            _drain_body(conn, head, rest)
            if head.method == "POST":
                headers = {"Content-Type": "application/json"}
                body = self.body
            else:
                if self._stopping.wait(self.interval):
                    return
                headers, body = {"Content-Type": "text/plain"}, b"ok"
            headers["Content-Length"] = str(len(body))
            conn.sendall(_status_head(200, "OK", headers) + body)


def gzip_header() -> bytes:
    """The 10-byte header of a gzip member (deflate, no name, no time), no data yet."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


# --------------------------------------------------------------------------------- bombs


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int = GIB, block_size: int = MIB) -> bytes:
    """A single-member gzip stream that inflates to ``size`` spaces (about ``size / 1030``
    bytes long), made without compressing ``size`` bytes. Cached: made once per process.

    Deflate after a full flush starts afresh, so every ``block_size`` block of spaces
    compresses to the same bytes: compress two blocks, repeat the second one's bytes, and
    write the gzip trailer (CRC-32 and length of the whole) by hand.
    """
    if size <= 0 or size % block_size:
        raise ValueError("size must be a positive multiple of block_size")
    block = b" " * block_size
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    if not first.endswith(repeated):
        raise RuntimeError("zlib did not restart after a full flush")
    header = first[: len(first) - len(repeated)]
    # The final (empty) block, without zlib's trailer, which covers only two blocks.
    final_block = compressor.flush(zlib.Z_FINISH)[:-8]
    count = size // block_size
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + repeated * count + final_block + trailer


class BombServer(LoopbackServer):
    """Answers any request under ``/gzip`` with a gzip bomb, under ``/plain`` with a big body.

    ``/gzip``: 200, ``Content-Type: application/json``, ``Content-Encoding: gzip`` and
    :func:`gzip_bomb` (about 1 MiB that inflates to ``gzip_size`` bytes, 1 GiB by default).
    ``/plain``: 200, ``application/json``, ``plain_size`` bytes (50 MiB) of spaces as they are.
    A client that stops reading and closes ends the answer; stop() ends it too.
    """

    def __init__(self, gzip_size: int = GIB, plain_size: int = 50 * MIB) -> None:
        super().__init__()
        self.gzip_body = gzip_bomb(gzip_size)
        self.plain_size = plain_size
        self._seen: list[tuple[str, str]] = []

    @property
    def gzip_url(self) -> str:
        """URL answered with the gzip bomb."""
        return self.url + "/gzip"

    @property
    def plain_url(self) -> str:
        """URL answered with the big uncompressed body."""
        return self.url + "/plain"

    @property
    def seen(self) -> list[tuple[str, str]]:
        """``(method, target)`` of each request received."""
        with self._lock:
            return list(self._seen)

    def handle(self, conn: socket.socket) -> None:
        """Read one request, then send the answer its path asks for."""
        head, rest = _read_head(conn)
        _drain_body(conn, head, rest)
        with self._lock:
            self._seen.append((head.method, head.target))
        path = urlsplit(head.target).path
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if path.startswith("/gzip"):
            headers.update({"Content-Encoding": "gzip", "Content-Length": str(len(self.gzip_body))})
            conn.sendall(_status_head(200, "OK", headers) + self.gzip_body)
        elif path.startswith("/plain"):
            headers["Content-Length"] = str(self.plain_size)
            conn.sendall(_status_head(200, "OK", headers))
            chunk = b" " * (64 * 1024)
            remaining = self.plain_size
            while remaining > 0 and not self._stopping.is_set():
                piece = chunk[:remaining]
                conn.sendall(piece)
                remaining -= len(piece)
        else:
            _send_text(conn, 404, "Not Found", "Try /gzip or /plain.\n")


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    """A running :class:`ForwardProxy`: ``proxies={"http": p.url, "https": p.url}``;
    ``p.seen`` lists ``(method, target)`` of what went through it."""
    with ForwardProxy() as proxy:
        yield proxy


@pytest.fixture
def slow_drip_server() -> Iterator[SlowDripServer]:
    """A running :class:`SlowDripServer`: any request to ``.url`` gets 600 bytes at 1 byte/s
    (the server hangs up after 10 s)."""
    with SlowDripServer() as server:
        yield server


@pytest.fixture
def bomb_server() -> Iterator[BombServer]:
    """A running :class:`BombServer`: ``.gzip_url`` (1 GiB inflated), ``.plain_url`` (50 MiB)."""
    with BombServer() as server:
        yield server
