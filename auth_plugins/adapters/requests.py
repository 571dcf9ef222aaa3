"""The requests adapter: drive the core's login exchange over the caller's own connection.

The flow of one request:

1. ``attach`` (requests prepares the request): when the URL is the API's, attach
   a token good for now (memory, or the store); when there is none, renew it
   here only through a connection already known (``session=``, or the one an
   earlier answer came over). requests has not said yet which adapter,
   certificate, proxy or timeout this request will use.
2. requests sends the request through the caller's session and adapter.
3. ``on_response`` (a response hook, which requests calls with the adapter and
   the send settings): when the API refused the token, or the request went out
   without one, log in *through that same adapter with those same settings*
   (``verify``, ``cert``, ``proxies``, ``timeout``, mounted adapters), attach
   the new token and send the request once more; the refused answer goes into
   ``response.history`` (requests' ``HTTPDigestAuth.handle_401`` pattern).

So a process's first request to a key with no stored token goes out without
one, and is sent again after the login: one extra round trip per process and
key. A body that cannot be sent twice (a generator) is held back on that first
round trip, which is then a ``HEAD`` to the same URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, get_cookie_header
from requests.utils import rewind_body

from ..core.errors import AuthPluginError, BodyNotReplayable
from ..core.messages import Answer, error_body_worth_reading
from ..core.tokens import Token

if TYPE_CHECKING:
    from ..auth import PasswordAuth

logger = logging.getLogger("auth_plugins")

#: Where a request held back for the first round trip keeps what it will send.
_HELD = "_auth_plugins_held"


def attach(auth: PasswordAuth, request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Step 1: attach a token good for now, if one is at hand; hook the answer."""
    if not auth.applies_to(request.url):
        return request
    renewal = auth._renewal
    token = renewal.current()
    if token is None:
        # Log in now only through a connection already known: the caller's
        # session= or the one the last login used. Otherwise the request goes
        # out without a token and on_response logs in over its connection.
        sender = auth._sender(fallback=False)
        if sender is not None:
            token = renewal.renew(renewal.token, sender)
    if token is not None:
        request.headers.update(auth._headers_for(token))
    elif not _replayable(request):
        _hold_body(request)
    hooks = request.hooks.setdefault("response", [])
    hook = auth._requests_hook
    if hook not in hooks:
        hooks.append(hook)
    return request


def on_response(
    auth: PasswordAuth, response: requests.Response, **send_kwargs: Any
) -> requests.Response:
    """Step 3: judge the answer; renew the token and send again when it was refused."""
    request = response.request
    if response.is_redirect:
        _headers_for_redirect(auth, response, request)
    if not auth.applies_to(request.url):
        return response
    # A response a cache (requests-cache) answered has no connection of its own.
    connection = getattr(response, "connection", None)
    if connection is not None:
        auth._connection = (connection, send_kwargs)
    elif auth._connection is not None:
        connection, send_kwargs = auth._connection
    carried = _carried(auth, request)
    answer = api_answer(response, streamed=bool(send_kwargs.get("stream")))
    held = getattr(request, _HELD, None)
    if held is None and not auth._refused(answer, carried):
        return _accepted(auth, response, answer, carried)
    if connection is None:  # a cache answered before any request went out: nothing to send on
        return response
    # Imported when a token is refused: a run that only uses a stored token
    # (``http -A teamup`` with a cached one) never loads the login sender.
    from .requests_send import adapter_sender

    send = adapter_sender(connection, send_kwargs)
    _release(response)
    token = auth._renewal.renew(carried, send, rejected=carried is not None)
    return _resend(auth, response, token, connection, send_kwargs)


def _accepted(
    auth: PasswordAuth, response: requests.Response, answer: Answer, carried: Optional[Token]
) -> requests.Response:
    """An answer the API gave: a use of the token, and the vendor's own checks."""
    if carried is not None:
        sent_at = time.time() - response.elapsed.total_seconds()
        auth._renewal.note_use(carried, sent_at)
    if auth.vendor.api_response_hook is not None:
        try:
            auth.vendor.api_response_hook(answer)
        except AuthPluginError as exc:
            exc.response = response
            raise
    return response


def _resend(
    auth: PasswordAuth,
    rejected: requests.Response,
    token: Token,
    connection: requests.adapters.BaseAdapter,
    send_kwargs: Mapping[str, Any],
) -> requests.Response:
    request = rejected.request
    # history keeps the request as it was refused (its old token), for debugging.
    rejected.request = request.copy()
    # A body held back on the first round trip was never sent: it is whole.
    held_back = _restore_body(request)
    # Redirects that follow are built from this request object: give it the new token too.
    request.headers.update(auth._headers_for(token))
    if not held_back and not _rewind(request):
        raise BodyNotReplayable(
            f"{auth.vendor.title} rejected the token for {request.method} "
            f"{url_path(request.url)} (HTTP {rejected.status_code}); the token is renewed "
            "but this request's body is a stream that cannot be sent twice: send the "
            "request again",
            response=rejected,
        )
    retry = request.copy()
    _carry_cookies(request, retry, rejected)
    response: requests.Response = connection.send(retry, **send_kwargs)
    response.history.append(rejected)
    response.request = retry
    if response.is_redirect:
        # requests (and HTTPie) build the next hop from the original request object.
        _headers_for_redirect(auth, response, request)
    answer = api_answer(response, streamed=bool(send_kwargs.get("stream")))
    if not auth._refused(answer, token):
        return _accepted(auth, response, answer, token)
    logger.warning(
        "%s: API still answers HTTP %s to %s %s with a fresh token; not retrying again",
        auth.vendor.name,
        response.status_code,
        retry.method,
        url_path(retry.url),
    )
    return response


def _carry_cookies(
    request: requests.PreparedRequest, retry: requests.PreparedRequest, rejected: requests.Response
) -> None:
    """Cookies the refusing answer set go on the resent request, as a browser would."""
    jar = getattr(retry, "_cookies", None)
    if jar is None or not hasattr(retry, "prepare_cookies"):
        return
    carried = request.headers.get("Cookie")
    bare = request.copy()  # the jar adds no header to a request that has one
    bare.headers.pop("Cookie", None)
    from_jar = get_cookie_header(jar, bare)  # type: ignore[no-untyped-call]
    extract_cookies_to_jar(jar, request, rejected.raw)  # type: ignore[no-untyped-call]
    if carried is None or carried == from_jar:
        # Built from the jar: build it again, with what the refusal set
        # (prepare_cookies leaves a Cookie header that is already there).
        retry.headers.pop("Cookie", None)
        retry.prepare_cookies(jar)
        return
    # The caller's own Cookie header: kept, and the refusal's cookies added.
    fresh = RequestsCookieJar()
    extract_cookies_to_jar(fresh, request, rejected.raw)  # type: ignore[no-untyped-call]
    added = get_cookie_header(fresh, bare)  # type: ignore[no-untyped-call]
    if added:
        retry.headers["Cookie"] = f"{carried}; {added}"


def _headers_for_redirect(
    auth: PasswordAuth, response: requests.Response, request: requests.PreparedRequest
) -> None:
    """Let the request the next hop is copied from carry our headers only if it stays ours.

    requests strips only ``Authorization`` when a redirect leaves the host;
    headers such as ``x-secret`` would follow to any host.
    """
    target = requests.compat.urljoin(response.url, response.headers.get("location", ""))
    token = auth._renewal.token
    if auth.applies_to(target) and token is not None:
        request.headers.update(auth._headers_for(token))
    else:
        for name in auth.vendor.api_headers:
            request.headers.pop(name, None)


def _carried(auth: PasswordAuth, request: requests.PreparedRequest) -> Optional[Token]:
    """The token ``request`` carried: the current one if its headers match, else None."""
    token = auth._renewal.token
    if token is None:
        return None
    headers = auth._headers_for(token)
    return token if all(request.headers.get(k) == v for k, v in headers.items()) else None


def api_answer(response: requests.Response, *, streamed: bool = False) -> Answer:
    """An API answer for the vendor's checks: status, headers, and the body of an error.

    A success's body is left unread: it may be a large download the caller streams.
    This runs for every response: nothing is copied that a success does not need.
    """
    status = response.status_code
    if status < 400:
        return Answer(status, response.headers)
    # Without stream=True requests reads the whole body right after the hooks anyway.
    readable = not streamed or error_body_worth_reading(response.headers)
    body = response.content or b"" if readable else b""
    return Answer(status, response.headers, body, response.reason or "", url_path(response.url))


# -- bodies ----------------------------------------------------------------------


def _replayable(request: requests.PreparedRequest) -> bool:
    body = request.body
    return (
        body is None
        or isinstance(body, (bytes, str))
        or isinstance(getattr(request, "_body_position", None), int)
    )


def _hold_body(request: requests.PreparedRequest) -> None:
    """Keep a one-shot body back: the first round trip, sent without a token, is a HEAD."""
    held = (request.method, request.body, dict(request.headers))
    setattr(request, _HELD, held)
    request.method = "HEAD"
    request.body = None
    for name in ("Content-Length", "Transfer-Encoding", "Content-Type"):
        request.headers.pop(name, None)


def _restore_body(request: requests.PreparedRequest) -> bool:
    """Put a held-back body (and method) back; True if there was one."""
    held = getattr(request, _HELD, None)
    if held is None:
        return False
    request.method, request.body, headers = held
    request.headers.clear()
    request.headers.update(headers)
    delattr(request, _HELD)
    return True


def _rewind(request: requests.PreparedRequest) -> bool:
    """Put the body back at its start; False when it cannot be sent again."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    if isinstance(getattr(request, "_body_position", None), int):
        try:
            rewind_body(request)
        except requests.exceptions.UnrewindableBodyError:
            return False
        return True
    return False


def _release(response: requests.Response) -> None:
    """Read and release a refused answer so its connection can be reused."""
    _ = response.content
    response.close()


def url_path(url: Optional[str]) -> str:
    """The path of ``url``, for logs: query strings can hold secrets of their own."""
    return urlsplit(url or "").path or "/"
