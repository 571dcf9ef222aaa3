"""Sending the core's login calls with requests, the way the caller's own requests go.

:func:`adapter_sender` sends over the very adapter (and ``verify``, ``cert``,
``proxies``, ``timeout``) of an API request the caller made; the other two
serve the caller's ``session=`` and calls made before any request. Every one
reads a bounded answer within the call's time, and turns whatever the
transport (or a wrapper such as requests-mock) raises into a
:class:`LoginError` that holds no secret.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util.ssltransport import SSLTransport

from ..core.errors import AuthPluginError, LoginError
from ..core.messages import MAX_ANSWER_BYTES, MAX_WIRE_BYTES, Answer, Call, Headers, cut_short
from .deadline_socket import DeadlineSocket


def adapter_sender(
    adapter: requests.adapters.BaseAdapter, send_kwargs: Mapping[str, Any]
) -> Callable[[Call], Answer]:
    """``send(call) -> Answer`` over ``adapter`` with the caller's send settings."""
    settings = {k: v for k, v in send_kwargs.items() if k in ("verify", "cert", "proxies")}
    caller_timeout = send_kwargs.get("timeout")

    def send(call: Call) -> Answer:
        prepared = requests.Request(
            call.method, call.url, headers=dict(call.headers), data=call.body
        ).prepare()
        timeout = _clip_timeout(caller_timeout, call.timeout)
        return _exchange(
            call,
            lambda: adapter.send(prepared, stream=True, timeout=timeout, **settings),
            caller_timeout,
        )

    return send


def session_sender(session: requests.Session) -> Callable[[Call], Answer]:
    """``send(call) -> Answer`` through a whole session (the caller's ``session=``)."""

    def send(call: Call) -> Answer:
        return _exchange(
            call,
            lambda: session.request(
                call.method,
                call.url,
                headers=dict(call.headers),
                data=call.body,
                timeout=call.timeout,
                stream=True,
                allow_redirects=False,
                auth=_no_auth,
            ),
        )

    return send


def fresh_session_sender() -> Callable[[Call], Answer]:
    """``send(call) -> Answer`` on a new session per call, closed after it.

    For calls made outside any request (``get_token()`` before the first
    request): requests' defaults and environment (``REQUESTS_CA_BUNDLE``,
    ``HTTPS_PROXY``), and no socket kept open per auth object.
    """

    def send(call: Call) -> Answer:
        with requests.Session() as session:
            return session_sender(session)(call)

    return send


def _exchange(
    call: Call, send: Callable[[], requests.Response], caller_timeout: Any = None
) -> Answer:
    """Send, read a bounded answer, and turn any failure into a LoginError with no secret.

    ``caller_timeout`` is the ``timeout=`` of the request the call serves, if any.
    """
    failure: Optional[LoginError] = None
    what = f"{call.vendor} {call.what}"
    started = time.monotonic()
    answered: Optional[int] = None  # the status, once the answer's head is in
    try:
        response = send()
        answered = response.status_code
        try:
            body, oversized = _read_bounded(response, call, started)
        finally:
            response.close()
    except AuthPluginError:
        raise
    except requests.exceptions.SSLError:
        failure = LoginError(
            f"{what} failed: the certificate of {_where(call)} could not be verified",
            hint="Trust its certificate authority: verify='ca.pem' on the session or the call, "
            "REQUESTS_CA_BUNDLE=ca.pem, or --verify=ca.pem in HTTPie",
        )
    except requests.Timeout:
        # Which limit ran out is told by the time waited, not the exception: urllib3
        # reports a stalled TLS handshake (a connect limit) as a read timeout.
        waited = time.monotonic() - started
        shorter = [t for t in _clip_timeout(caller_timeout, math.inf) if t < call.timeout]
        if shorter and waited < 0.9 * call.timeout:  # the request's own limit ended it
            callers = min(shorter, key=lambda limit: abs(limit - waited))
            failure = LoginError(
                f"{what} did not answer within {callers:.3g}s, the timeout= of the request "
                f"it serves ({_where(call)})",
                hint="Try again later or raise that request's timeout=",
            )
        else:
            failure = LoginError(
                f"{what} did not answer within {call.timeout:.3g}s ({_where(call)})",
                hint="Try again later or raise the auth's timeout=",
            )
    except Exception as exc:  # whatever a transport or a wrapper raises (requests-mock...)
        if answered is not None:  # the server did answer: its body broke off
            failure = cut_short(what, _where(call), answered, exc)
        else:
            failure = LoginError(
                f"{what} failed: could not reach {_where(call)} ({type(exc).__name__})",
                hint="Check the base URL and the network",
            )
    if failure is not None:
        # Raised here, outside the except block: the transport's exception holds the
        # login request (and its password) and must not ride along as __context__.
        raise failure
    return Answer(
        status=response.status_code,
        headers=Headers(response.headers),
        body=body,
        reason=response.reason or "",
        url=urlsplit(call.url).path or "/",
        oversized=oversized,
    )


def _read_bounded(response: requests.Response, call: Call, started: float) -> tuple[bytes, bool]:
    """Read at most ``MAX_ANSWER_BYTES`` (decoded), giving up when the call's time is over.

    ``started`` is when the call was sent: its time covers the answer's head too.
    """
    what = f"{call.vendor} {call.what}"
    # From the sending, not from the head: the body gets only what the head left.
    ends = started + call.timeout
    raw = response.raw
    if raw is None or getattr(response, "_content", False) is not False:
        # A transport that built its answer in memory set its content (and may have left
        # no file, or an empty one): requests reads that content, and so does the login.
        content = response.content or b""
        return content[:MAX_ANSWER_BYTES], len(content) > MAX_ANSWER_BYTES
    chunks: list[bytes] = []
    size = 0
    too_slow = LoginError(
        f"{what} did not finish within {call.timeout:.3g}s: the answer came too "
        f"slowly ({_where(call)})",
        status=response.status_code,
        hint="Try again later or raise the auth's timeout=",
    )
    # Every socket read waits only the time left: one read of ours may be many of the
    # socket's (a chunk's size line, trailers, gzip data that inflates to nothing yet).
    file, guard = _answer_file(raw), None
    if file is not None:
        guard = file._sock = _TimedSocket(file._sock, ends)
    try:
        while True:
            if ends - time.monotonic() <= 0:
                raise too_slow
            try:
                chunk = _read_piece(raw)
            except (ReadTimeoutError, socket.timeout):  # the time left ran out during a read
                raise too_slow from None
            except _WireLimit:  # much on the wire, little decoded: the core says what came
                return b"".join(chunks)[:MAX_ANSWER_BYTES], True
            if not chunk:
                return b"".join(chunks), False
            size += len(chunk)
            chunks.append(chunk)
            if size > MAX_ANSWER_BYTES:
                # Read no further (a gzip bomb expands without end): the core says what came.
                return b"".join(chunks)[:MAX_ANSWER_BYTES], True
    finally:
        if guard is not None and file._sock is guard:
            file._sock = guard.sock  # the connection may serve the caller's next request


def _read_piece(raw: Any) -> bytes:
    """Up to 8 KiB more of the answer, as the caller's own requests would read it."""
    if isinstance(raw, HTTPResponse):
        # requests leaves urllib3's answers undecoded (gzip, deflate): decode as it does.
        # A read that waits for all 8 KiB is no longer than one that returns what has
        # come: every socket read within is held to the time left (_TimedSocket).
        return bytes(raw.read(8192, decode_content=True))
    # Another transport's file (a replay, a cache) holds the bytes as they are meant.
    return bytes(raw.read(8192))


def _answer_file(raw: Any) -> Any:
    """The ``socket.SocketIO`` under urllib3's answer (http.client's file), or ``None``.

    Found through the answer, not its connection: http.client hands the socket of an
    answer that closes its connection (``Connection: close``, HTTP/1.0) over to the
    answer, and the connection's ``sock`` is then ``None``.
    """
    fp = getattr(getattr(raw, "_fp", None), "fp", None)  # the http.client answer's file
    file = getattr(fp, "raw", None)
    sock = getattr(file, "_sock", None)
    usable = all(callable(getattr(sock, name, None)) for name in ("recv_into", "settimeout"))
    return file if usable else None


class _WireLimit(Exception):
    """More than ``MAX_WIRE_BYTES`` of an answer came off the wire (not an ``OSError``:
    urllib3 would turn that into a dropped connection)."""


class _TimedSocket(DeadlineSocket):
    """Stands in for an answer's socket while a login reads it: each read of the socket
    waits no longer than what is left until ``ends`` (then ``socket.timeout``), and no more
    than ``MAX_WIRE_BYTES`` are read in all (then :class:`_WireLimit`).

    A timeout set once before each read of the answer would be waited once per socket
    read within it: a server sending a byte now and then kept the login for ever. And a
    limit on decoded bytes alone lets in without end a body that decodes to nothing.
    """

    def __init__(self, sock: Any, ends: float) -> None:
        super().__init__(sock, ends)
        self._received = 0

    def recv_into(self, buffer: Any) -> int:
        """``socket.recv_into``, within the time and size left (all ``socket.SocketIO`` calls)."""
        self.wait_left()
        if self._received > MAX_WIRE_BYTES:
            raise _WireLimit
        tunnel = self.sock.socket if isinstance(self.sock, SSLTransport) else None
        if tunnel is None:
            received: int = self.sock.recv_into(buffer)
        else:
            # TLS in TLS (an HTTPS proxy): one read of it is as many reads of the proxy's
            # socket as a record takes, each waiting the timeout set once: a record whose
            # bytes dripped in kept the login for as long as the server liked.
            self.sock.socket = DeadlineSocket(tunnel, self._ends)
            try:
                received = self.sock.recv_into(buffer)
            finally:
                self.sock.socket = tunnel
        self._received += received
        return received


def _clip_timeout(caller: Any, left: float) -> tuple[float, float]:
    """The caller's ``timeout=`` (a number, a pair, or none), no longer than ``left``."""
    if isinstance(caller, tuple) and len(caller) == 2:
        connect, read = caller
    else:
        connect = read = caller if isinstance(caller, (int, float)) else None
    return (_clip(connect, left), _clip(read, left))


def _clip(value: Any, left: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(float(value), left)
    return left


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that adds nothing: keeps requests from adding ~/.netrc credentials."""
    return request


def _where(call: Call) -> str:
    return call.url.split("?", 1)[0]
