"""The httpx adapter: the core's login exchange as an httpx auth flow (sync half, shared parts).

One request through ``httpx.Client(auth=auth)``:

1. No token good for now (memory, then the store): renew *before* sending.
   The core's ``renew_flow`` yields login calls; each becomes an
   ``httpx.Request`` yielded from the flow, so the client sends it over its own
   transport (``verify``, ``cert``, proxy, mounts) within the client's timeout
   clipped to the login's deadline. Each login answer is read here, bounded,
   and then emptied: httpx keeps every answer a flow consumed in
   ``response.history``, and the login answers are also taken out of that list.
2. Attach the token's headers, yield the request.
3. A 401/410 (or a vendor's own "log in again" answer): renew once and send
   once more, unless the body is a stream that cannot be sent twice
   (:class:`~auth_plugins.BodyNotReplayable`, after renewing).

The async flow (:mod:`.httpx_async`) is the same with the store and its locks
kept off the event loop.

httpx sends a flow's requests itself and does not throw a failed send into
the flow: it closes the flow and raises. So when a login call cannot be sent,
its request is wiped of the password first (``exc.request`` holds nothing
secret), and when the transport reported the failure through httpcore's
``trace`` extension it becomes a :class:`~auth_plugins.LoginError` with the
same advice as with requests. A transport that does not trace (a mock, a custom
transport) lets the httpx error itself through, wiped the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

import httpcore
import httpx

from ..core.errors import AuthPluginError, BodyNotReplayable, LoginError
from ..core.exchange import Flow
from ..core.messages import MAX_ANSWER_BYTES, Answer, Call, Headers
from ..core.tokens import Token
from .requests import url_path

if TYPE_CHECKING:
    from ..auth import PasswordAuth

logger = logging.getLogger("auth_plugins")

T = TypeVar("T")
#: What ``sync_auth_flow`` and its helpers are: yield requests, receive responses.
HttpxFlow = Generator[httpx.Request, httpx.Response, T]

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
        #: The first failure the transport traced (connect, TLS, read), if any.
        self.failure: Optional[BaseException] = None
        self.body = LoginBody(call.body, self.what)
        headers = {"User-Agent": user_agent, **call.headers}
        # content=b"" gives Host and the rest of the usual preparation, and keeps
        # request.content empty; the body itself travels in the one-shot stream.
        request = httpx.Request(call.method, call.url, headers=headers, content=b"")
        request.headers["Content-Length"] = str(len(call.body))
        request.stream = self.body
        request.extensions = {
            "timeout": clip_timeouts(timeouts, call.timeout),
            LOGIN_MARK: True,
        }
        self.request = request

    def sync_trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension (sync): remember why a send failed."""
        if name.endswith(".failed") and self.failure is None:
            self.failure = info.get("exception")

    async def async_trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension (async)."""
        self.sync_trace(name, info)

    def scrub(self) -> None:
        """Leave nothing secret on the request (``exc.request``, ``history``)."""
        self.body.wipe()
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


def transport_error(login: LoginRequest, exc: Exception) -> LoginError:
    """The advice for a login call the transport could not complete (no secret in it)."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return LoginError(
            f"{login.what} failed: the certificate of {login.url} could not be verified",
            hint="Trust its certificate authority: httpx.Client(verify=ssl.create_default_"
            "context(cafile='ca.pem')) (or verify='ca.pem'), or SSL_CERT_FILE=ca.pem",
        )
    if isinstance(exc, (httpx.TimeoutException, httpcore.TimeoutException)):
        return LoginError(
            f"{login.what} did not answer within {login.timeout:.3g}s ({login.url})",
            hint="Try again later or raise the auth's timeout=",
        )
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
    """Collects a login answer's decoded bytes up to ``MAX_ANSWER_BYTES`` and its deadline."""

    def __init__(self, login: LoginRequest) -> None:
        self.login = login
        self.chunks: list[bytes] = []
        self.size = 0
        self.oversized = False

    def add(self, chunk: bytes, status: int) -> bool:
        """Take one chunk; False once no more should be read."""
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size > MAX_ANSWER_BYTES:
            # Read no further (a gzip bomb expands without end): the core says what came.
            self.oversized = True
            return False
        if time.monotonic() - self.login.started > self.login.timeout:
            raise self.login.too_slow(status)
        return True

    def body(self) -> bytes:
        """What was read, clipped."""
        return b"".join(self.chunks)[:MAX_ANSWER_BYTES]


def read_login_answer(login: LoginRequest, response: httpx.Response) -> Answer:
    """Read a login answer within its bounds (sync); LoginError when it cannot be read."""
    bounded = Bounded(login)
    failure: Optional[LoginError] = None
    try:
        for chunk in response.iter_bytes():
            if not bounded.add(chunk, response.status_code):
                break
    except httpx.HTTPError as exc:
        failure = transport_error(login, exc)
    finally:
        response.close()
    if failure is not None:
        hide_answer(response)
        login.scrub()
        raise failure  # outside the except block: the httpx error holds the login request
    return login.answer(response, bounded.body(), bounded.oversized)


# -- one API request ------------------------------------------------------------------


def api_answer(response: httpx.Response) -> Answer:
    """An API answer for the vendor's checks; the body only of an error (already read)."""
    return Answer(
        status=response.status_code,
        headers=Headers(list(response.headers.items())),
        body=response.content if response.status_code >= 400 else b"",
        reason=response.reason_phrase,
        url=url_path(str(response.url)),
    )


def attach(auth: PasswordAuth, request: httpx.Request, token: Token) -> None:
    """Put the token's headers on the request."""
    request.headers.update(auth._headers_for(token))


def resend(auth: PasswordAuth, refused: httpx.Request, token: Token) -> httpx.Request:
    """The refused request again with the new token, as a new object.

    ``history`` keeps the refused one as it was sent (its old token). The body
    stream is shared: only replayable streams get here.
    """
    retry = httpx.Request(
        refused.method,
        refused.url,
        headers=refused.headers.copy(),
        stream=refused.stream,
        extensions=dict(refused.extensions),
    )
    attach(auth, retry, token)
    return retry


def clean_history(response: httpx.Response) -> None:
    """Take our login answers out of ``response.history`` (and its entries' own)."""
    kept = [r for r in response.history if not r.request.extensions.get(LOGIN_MARK)]
    for earlier in kept:
        earlier.history = [r for r in earlier.history if not r.request.extensions.get(LOGIN_MARK)]
    response.history = kept


def vendor_checks(auth: PasswordAuth, response: httpx.Response, answer: Answer) -> None:
    """The vendor's own look at an accepted answer (up2.money's step-up demand)."""
    clean_history(response)
    hook = auth.vendor.api_response_hook
    if hook is not None:
        try:
            hook(answer)
        except AuthPluginError as exc:
            exc.response = response
            raise


def check_replayable(auth: PasswordAuth, request: httpx.Request, refused: httpx.Response) -> None:
    """BodyNotReplayable when the request's body was a stream httpx cannot send again."""
    if replayable(request.stream):
        return
    clean_history(refused)
    raise BodyNotReplayable(
        f"{auth.vendor.title} rejected the token for {request.method} "
        f"{url_path(str(request.url))} (HTTP {refused.status_code}); the token is renewed "
        "but this request's body is a stream that cannot be sent twice: send the "
        "request again",
        response=refused,
    )


def replayable(stream: Any) -> bool:
    """Bytes, JSON, forms, and multipart whose files can be rewound (httpx seeks them)."""
    if isinstance(stream, httpx.ByteStream):
        return True
    if type(stream).__name__ == "MultipartStream":
        files = [getattr(field, "file", None) for field in getattr(stream, "fields", [])]
        return all(f is None or isinstance(f, (bytes, str)) or hasattr(f, "seek") for f in files)
    return False


def still_refused(auth: PasswordAuth, request: httpx.Request, response: httpx.Response) -> None:
    """The API refused a fresh token too: say so once, and hand the answer back."""
    clean_history(response)
    logger.warning(
        "%s: API still answers HTTP %s to %s %s with a fresh token; not retrying again",
        auth.vendor.name,
        response.status_code,
        request.method,
        url_path(str(request.url)),
    )


def user_agent(request: Optional[httpx.Request]) -> str:
    """The caller's User-Agent for our login calls, httpx's own by default."""
    default = f"python-httpx/{httpx.__version__}"
    return request.headers.get("User-Agent", default) if request is not None else default


# -- sync ---------------------------------------------------------------------------------


def sync_auth_flow(auth: PasswordAuth, request: httpx.Request) -> HttpxFlow[None]:
    """``Auth.sync_auth_flow``: log in if needed, send, renew once and resend if refused."""
    if not auth.applies_to(str(request.url)):
        yield request
        return
    renewal = auth._renewal
    token = renewal.current()
    if token is None:
        token = yield from renew(auth, request, renewal.token, rejected=False)
    attach(auth, request, token)
    sent_at = time.time()
    response = yield request
    if response.status_code >= 400:
        response.read()
    answer = api_answer(response)
    if not auth._refused(answer, token):
        renewal.note_use(token, sent_at)
        vendor_checks(auth, response, answer)
        return
    token = yield from renew(auth, request, token, rejected=True)
    check_replayable(auth, request, response)
    request = resend(auth, request, token)
    sent_at = time.time()
    response = yield request
    if response.status_code >= 400:
        response.read()
    answer = api_answer(response)
    if auth._refused(answer, token):
        still_refused(auth, request, response)
        return
    renewal.note_use(token, sent_at)
    vendor_checks(auth, response, answer)


def renew(
    auth: PasswordAuth, template: httpx.Request, stale: Optional[Token], *, rejected: bool
) -> HttpxFlow[Token]:
    """The core's renewal, its calls yielded to the client (the key's lock held throughout)."""
    flow = auth._renewal.renew_flow(stale, rejected=rejected)
    try:
        return (yield from drive_sync(flow, template))
    finally:
        flow.close()  # on this thread: it releases the store's lock


def drive_sync(flow: Flow[T], template: Optional[httpx.Request]) -> HttpxFlow[T]:
    """Run a core flow, each call yielded as a request; a read failure is thrown into it."""
    timeouts = template.extensions.get("timeout") if template is not None else None
    agent = user_agent(template)
    try:
        call = next(flow)
        while True:
            login = LoginRequest(call, timeouts, agent)
            login.request.extensions["trace"] = login.sync_trace
            failure: Optional[LoginError] = None
            try:
                response = yield login.request
            except GeneratorExit:
                failure = login.send_failed()
                if failure is None:
                    raise
            if failure is not None:
                raise failure  # outside the except block (see send_failed)
            try:
                answer = read_login_answer(login, response)
            except LoginError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result


def client_sender(client: httpx.Client) -> Callable[[Call], Answer]:
    """``send(call) -> Answer`` through ``client`` (without its auth), for calls outside a flow."""

    def send(call: Call) -> Answer:
        login = LoginRequest(call, client.timeout.as_dict(), user_agent(None))
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
