"""Login calls over httpx: a core ``Call`` as an ``httpx.Request``, its answer read bounded.

Shared by the sync and async flows (:mod:`.httpx`, :mod:`.httpx_async`) and by
the calls made outside a request through a client the caller passes
(``get_token(client)``, two-factor, step-up). A login request carries the
password only in a one-shot stream that is wiped once the answer is in or the
send failed; a login answer is emptied once read: httpx keeps both in
``response.history`` and in its exceptions.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import httpcore
import httpx

from ..core.errors import LoginError
from ..core.messages import MAX_ANSWER_BYTES, Answer, Call, Headers, cut_short
from .httpx_bounds import HeldStreams, TimeLeft, WireCounted, WireLimit
from .requests import url_path

#: Marks our login requests (in ``request.extensions``) so their answers leave ``history``.
LOGIN_MARK = "auth_plugins_login"
#: The only headers a login request keeps once sent (the others may be secrets: x-secret).
_KEPT_REQUEST_HEADERS = {"host", "accept", "content-type", "content-length", "user-agent"}
#: ... and a login answer (Set-Cookie, a token in a header, all go).
_KEPT_ANSWER_HEADERS = {"content-type", "date"}


class LoginBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A login request's body: sent once, then wiped.

    ``request.content`` stays ``b""`` and this stream forgets the password once
    the answer is in (or the send failed), so neither ``response.history`` nor an
    exception's ``.request`` can show it. A redirect would send it a second time,
    to wherever the server points: that is refused.
    """

    def __init__(self, body: bytes, what: str) -> None:
        self._body: Optional[bytes] = body
        self._what = what

    def _take(self) -> bytes:
        body = self._body
        if body is None:
            raise LoginError(
                f"{self._what} was redirected; the password is not sent a second time",
                hint="Check the base URL (http:// versus https://, a missing path)",
            )
        self._body = None
        return body

    def __iter__(self) -> Any:
        yield self._take()

    async def __aiter__(self) -> Any:
        yield self._take()

    def wipe(self) -> None:
        """Forget the body, sent or not."""
        self._body = None


class LoginRequest:
    """One core :class:`Call` as an ``httpx.Request``, and what became of its sending."""

    def __init__(self, call: Call, timeouts: Optional[dict[str, Any]], user_agent: str) -> None:
        self.what = f"{call.vendor} {call.what}"
        self.url = call.url.split("?", 1)[0]
        self.timeout = call.timeout
        self.started = time.monotonic()
        #: When the call's time is over (its head, body and every wait within).
        self.ends = self.started + call.timeout
        #: The first failure the transport traced (connect, TLS, read), if any.
        self.failure: Optional[BaseException] = None
        #: Whether the request httpcore is sending is a proxy's CONNECT (for this call).
        self._tunnelling = False
        self.body = LoginBody(call.body, self.what)
        #: The connection's streams, held to ``ends`` while this call uses them.
        self.held = HeldStreams(self.ends)
        headers = {"User-Agent": user_agent, **call.headers}
        # content=b"" gives Host and the rest of the usual preparation, and keeps
        # request.content empty; the body itself travels in the one-shot stream.
        request = httpx.Request(call.method, call.url, headers=headers, content=b"")
        request.headers["Content-Length"] = str(len(call.body))
        request.stream = self.body
        #: The client's own timeout of each phase, where shorter than the auth's.
        self.client_timeouts = {
            name: float(value)
            for name, value in (timeouts or {}).items()
            if isinstance(value, (int, float)) and value < call.timeout
        }
        #: Each network wait within what is left of the call's time.
        self.time_left = TimeLeft(clip_timeouts(timeouts, call.timeout), self.ends)
        request.extensions = {
            "timeout": self.time_left,
            LOGIN_MARK: True,
        }
        self.request = request

    def sync_trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension (sync): hold the connection's stream to the
        deadline while this call uses it, and remember why a send failed."""
        self._traced(name, info, asynchronous=False)

    async def async_trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension (async)."""
        self._traced(name, info, asynchronous=True)

    def _traced(self, name: str, info: dict[str, Any], *, asynchronous: bool) -> None:
        # Anything traced comes from a connection: the pool's wait for one is over.
        self.time_left.pool_wait_ends = None
        if name == "http11.send_request_headers.started":
            self._tunnelling = getattr(info.get("request"), "method", None) == b"CONNECT"
            self.held.hold(asynchronous=asynchronous)
        elif name == "http11.response_closed.started":
            # Before the connection goes back to the pool, to serve the caller's requests.
            self.held.release()
        elif name == "http11.receive_response_headers.complete" and self._tunnelling:
            # A proxy refusing the tunnel: httpcore raises its ProxyError untraced, and the
            # flow let it through bare ("403 Forbidden", naming no login).
            status, reason = _status_of(info.get("return_value"))
            if status and not 200 <= status < 300 and self.failure is None:
                self.failure = httpx.ProxyError(f"{status} {reason}")
        if name.endswith(".failed") and self.failure is None:
            self.failure = info.get("exception")

    def scrub(self) -> None:
        """Leave nothing secret on the request (``exc.request``, ``history``)."""
        self.body.wipe()
        self.held.release()
        request = self.request
        for name in list(request.headers):
            if name.lower() not in _KEPT_REQUEST_HEADERS:
                del request.headers[name]
        request.extensions.pop("trace", None)

    def send_failed(self) -> Optional[LoginError]:
        """The send was abandoned (httpx closed the flow): a LoginError if the transport said why.

        ``None`` for anything else (a cancellation, an event hook's error): that
        goes on as it is.
        """
        self.scrub()
        failure = self.failure
        if failure is None and self.time_left.pool_timed_out():
            # Untraced, it went past the flow as a bare httpx.PoolTimeout with no message
            # (the client's own pool timeout may have been far longer than the login's).
            failure = httpx.PoolTimeout("the login's wait for a connection timed out")
        return transport_error(self, failure) if isinstance(failure, Exception) else None

    def answer(self, response: httpx.Response, body: bytes, oversized: bool) -> Answer:
        """The core's view of the login answer; the response itself is emptied."""
        answer = Answer(
            status=response.status_code,
            headers=Headers(list(response.headers.items())),
            body=body,
            reason=response.reason_phrase,
            url=url_path(self.url),
            oversized=oversized,
        )
        hide_answer(response)
        self.scrub()
        return answer

    def too_slow(self, status: Optional[int]) -> LoginError:
        """The answer did not come whole within the call's time."""
        return LoginError(
            f"{self.what} did not finish within {self.timeout:.3g}s: the answer came too "
            f"slowly ({self.url})",
            status=status,
            hint="Try again later or raise the auth's timeout=",
        )


def _status_of(head: Any) -> tuple[int, str]:
    """Status and reason of httpcore's traced answer head (version, status, reason,
    headers); ``(0, "")`` for anything else."""
    if isinstance(head, tuple) and len(head) == 4 and isinstance(head[1], int):
        reason = head[2]
        text = reason.decode("ascii", "replace") if isinstance(reason, bytes) else ""
        return head[1], text
    return 0, ""


def transport_error(
    login: LoginRequest, exc: Exception, status: Optional[int] = None
) -> LoginError:
    """The advice for a login call the transport could not complete (no secret in it).

    ``status`` is the answer's, when its head came and its body failed.
    """
    if isinstance(exc, LoginError):  # our own, from the body: it says what happened
        return exc
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return LoginError(
            f"{login.what} failed: the certificate of {login.url} could not be verified",
            hint="Trust its certificate authority: httpx.Client(verify=ssl.create_default_"
            "context(cafile='ca.pem')) (or verify='ca.pem'), or SSL_CERT_FILE=ca.pem",
        )
    if isinstance(exc, (httpx.TimeoutException, httpcore.TimeoutException)):
        # ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout: the phase that ran out.
        phase = type(exc).__name__.replace("Timeout", "").lower()
        clients = login.client_timeouts.get(phase)
        if clients is not None and time.monotonic() < login.ends:
            # The client's own, shorter limit ended the wait (not the time left).
            return LoginError(
                f"{login.what} did not answer within {clients:.3g}s, the client's {phase} "
                f"timeout ({login.url})",
                hint="Try again later or raise timeout= on the client or the request",
            )
        if status is not None:  # the head came in time, the rest of the answer did not
            return login.too_slow(status)
        return LoginError(
            f"{login.what} did not answer within {login.timeout:.3g}s ({login.url})",
            hint="Try again later or raise the auth's timeout=",
        )
    if status is not None:  # the server was reached: its answer broke off
        return cut_short(login.what, login.url, status, exc)
    return LoginError(
        f"{login.what} failed: could not reach {login.url} ({type(exc).__name__})",
        hint="Check the base URL and the network (and the client's proxy)",
    )


def clip_timeouts(timeouts: Optional[dict[str, Any]], left: float) -> dict[str, float]:
    """The client's timeouts (connect, read, write, pool), none longer than ``left``."""
    clipped = {}
    for name in ("connect", "read", "write", "pool"):
        value = (timeouts or {}).get(name)
        clipped[name] = left if not isinstance(value, (int, float)) else min(float(value), left)
    return clipped


def hide_answer(response: httpx.Response) -> None:
    """Empty a consumed (and closed) login answer: httpx reads it again, keeps it in ``history``."""
    # Set, not read: the stream is closed and what it held was the token. The
    # client's own response.read() then finds this empty body.
    response._content = b""
    response.headers = httpx.Headers(
        [(k, v) for k, v in response.headers.items() if k.lower() in _KEPT_ANSWER_HEADERS]
    )


class Bounded:
    """Collects a login answer's decoded bytes up to ``MAX_ANSWER_BYTES`` (its deadline is
    kept piece by piece on the raw stream: see :class:`.httpx_bounds.WireCounted`)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.oversized = False

    def add(self, chunk: bytes) -> bool:
        """Take one chunk; False once no more should be read."""
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size > MAX_ANSWER_BYTES:
            # Read no further (a gzip bomb expands without end): the core says what came.
            self.oversized = True
            return False
        return True

    def body(self) -> bytes:
        """What was read, clipped."""
        return b"".join(self.chunks)[:MAX_ANSWER_BYTES]


def read_login_answer(login: LoginRequest, response: httpx.Response) -> Answer:
    """Read a login answer within its bounds (sync); LoginError when it cannot be read."""
    bounded = Bounded()
    failure: Optional[LoginError] = None
    response.stream = WireCounted(
        response.stream, login.ends, lambda: login.too_slow(response.status_code)
    )
    try:
        for chunk in response.iter_bytes():
            if not bounded.add(chunk):
                break
    except WireLimit:  # much on the wire, little decoded: the core says what came
        bounded.oversized = True
    except httpx.HTTPError as exc:
        failure = transport_error(login, exc, response.status_code)
    finally:
        response.close()
    if failure is not None:
        hide_answer(response)
        login.scrub()
        raise failure  # outside the except block: the httpx error holds the login request
    return login.answer(response, bounded.body(), bounded.oversized)


def user_agent(request: Optional[httpx.Request]) -> str:
    """The caller's User-Agent for our login calls, httpx's own by default."""
    default = f"python-httpx/{httpx.__version__}"
    return request.headers.get("User-Agent", default) if request is not None else default


def client_sender(client: httpx.Client) -> Callable[[Call], Answer]:
    """``send(call) -> Answer`` through ``client`` (without its auth), for calls outside a flow."""

    def send(call: Call) -> Answer:
        login = LoginRequest(call, client.timeout.as_dict(), user_agent(None))
        login.request.extensions["trace"] = login.sync_trace
        failure: Optional[LoginError] = None
        try:
            response = client.send(login.request, stream=True, auth=None, follow_redirects=False)
        except httpx.HTTPError as exc:
            login.scrub()
            failure = transport_error(login, exc)
        if failure is not None:
            raise failure  # outside the except block: the httpx error holds the request
        return read_login_answer(login, response)

    return send
