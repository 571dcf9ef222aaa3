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

import contextlib
import logging
import time
import weakref
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import httpx

from ..core.errors import AuthPluginError, BodyNotReplayable, LoginError
from ..core.exchange import Flow
from ..core.messages import Answer, Headers, error_body_worth_reading
from ..core.scope import Scope
from ..core.tokens import Token
from .httpx_login import LOGIN_MARK, LoginRequest, read_login_answer, user_agent
from .requests import url_path

if TYPE_CHECKING:
    from ..auth import PasswordAuth

logger = logging.getLogger("auth_plugins")

T = TypeVar("T")
#: Scope -> {origin: does the token go there}; goes with the scope (the auth).
_SCOPES: weakref.WeakKeyDictionary[Scope, dict[str, bool]] = weakref.WeakKeyDictionary()
#: What ``sync_auth_flow`` and its helpers are: yield requests, receive responses.
HttpxFlow = Generator[httpx.Request, httpx.Response, T]

# -- one API request ------------------------------------------------------------------


class LiveHeaders(Headers):
    """An httpx answer's headers as the core's ``Headers``, read in place (no copy per request)."""

    def __init__(self, headers: httpx.Headers) -> None:  # no super(): nothing is copied
        self._live = headers

    def __getitem__(self, name: str) -> str:
        return self._live[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._live.keys())

    def __len__(self) -> int:
        return len(self._live)


def api_answer(response: httpx.Response) -> Answer:
    """An API answer for the vendor's checks; the body only of an error read already."""
    body = b""
    if response.status_code >= 400:
        # Left unread when too large to read for the caller (see error_body_worth_reading).
        with contextlib.suppress(httpx.ResponseNotRead):
            body = response.content
    return Answer(
        status=response.status_code,
        headers=LiveHeaders(response.headers),
        body=body,
        reason=response.reason_phrase if response.status_code >= 400 else "",
        url=response.url.path or "/",
    )


def applies(auth: PasswordAuth, url: httpx.URL) -> bool:
    """``auth.applies_to(url)``, remembered per origin: the parse is most of a request's cost."""
    where = f"{url.scheme}://{url.netloc.decode('ascii')}/"
    known = _SCOPES.setdefault(auth._scope, {})
    decided = known.get(where)
    if decided is None:
        decided = auth.applies_to(where)
        if len(known) < 256:  # a client wandering over many hosts: decide each time
            known[where] = decided
    return decided


def attach(auth: PasswordAuth, request: httpx.Request, token: Token) -> None:
    """Put the token's headers on the request."""
    # One by one: httpx's Headers.update() copies and rescans, several times slower.
    headers = request.headers
    for name, value in auth._headers_for(token).items():
        headers[name] = value


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


# -- sync ---------------------------------------------------------------------------------


def sync_auth_flow(auth: PasswordAuth, request: httpx.Request) -> HttpxFlow[None]:
    """``Auth.sync_auth_flow``: log in if needed, send, renew once and resend if refused."""
    if not applies(auth, request.url):
        yield request
        return
    renewal = auth._renewal
    token = renewal.current()
    if token is None:
        token = yield from renew(auth, request, renewal.token, rejected=False)
    attach(auth, request, token)
    sent_at = time.time()
    response = yield request
    if response.status_code >= 400 and error_body_worth_reading(response.headers):
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
    if response.status_code >= 400 and error_body_worth_reading(response.headers):
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
                # httpx closes the flow while it handles the transport's error, which would
                # ride along (printed as a traceback from deep in httpcore, the login request
                # in it) even outside the except block: 'from None' leaves it out.
                raise failure from None
            try:
                answer = read_login_answer(login, response)
            except LoginError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result
