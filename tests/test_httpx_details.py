"""httpx details: what a login call takes from the caller's request, and what the errors say.

- A login made inside ``client.get(...)`` keeps to the client's (or the request's) own
  timeouts and sends the caller's User-Agent, in the sync and the async flow alike.
- A refused request whose body is a one-shot stream: the whole BodyNotReplayable message,
  with the path but never the query string, and what reached the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import socket
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Optional, TypeVar

import httpx
import pytest
from helpers import KeepsNothingStore, age_token
from httpx_helpers import (
    TIMEOUT,
    assert_nothing_secret,
    texts_of_exception,
    texts_of_response,
)
from netservers import (
    EndlessServer,
    ForwardProxy,
    FramingDripServer,
    HollowGzipServer,
    PausingServer,
    SlowDripServer,
)

from auth_plugins import (
    BodyNotReplayable,
    LoginError,
    PasswordAuth,
    StepUpRequired,
    TeamUpAuth,
    Token,
    Vendor,
)
from auth_plugins.core.messages import MAX_ANSWER_BYTES, Answer
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.stores.base import TokenKey
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY

T = TypeVar("T")

#: The client's read timeout in the stall tests, and the auth's (much longer) own.
CLIENT_TIMEOUT = 0.25
AUTH_TIMEOUT = 6.0


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop, bounded in time."""

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout=60)

    return asyncio.run(bounded())


def received(sandbox: Sandbox) -> list[tuple[str, str]]:
    """(method, path without the query) of every request the vendor endpoints got."""
    return [(r.method, r.path.split("?", 1)[0]) for r in sandbox.received]


# -- a login server that stalls -----------------------------------------------------------


class StalledServer:
    """A loopback port whose connections the kernel completes but nobody ever answers.

    No thread: the listening socket is never accepted from while the client waits.
    ``take_requests`` then accepts what queued up and reads what each connection sent.
    """

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def take_requests(self) -> list[bytes]:
        """The request heads that reached the port, one per connection, in order."""
        heads: list[bytes] = []
        self.listener.settimeout(0.0)
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return heads
            with conn:
                conn.settimeout(TIMEOUT)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                heads.append(data.split(b"\r\n\r\n", 1)[0])


@contextmanager
def stalled_server() -> Iterator[StalledServer]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield StalledServer(listener)


CLIENTS_HINT = "Try again later or raise timeout= on the client or the request"


def clients_timeout_message(url: str) -> str:
    return (
        f"TeamUp login did not answer within {CLIENT_TIMEOUT:.3g}s, the client's read timeout "
        f"({url}/auth/password_login). {CLIENTS_HINT}"
    )


def assert_login_gave_up_on_the_clients_timeout(
    caught: pytest.ExceptionInfo[LoginError], elapsed: float, server: StalledServer
) -> None:
    # The client's limit ran out, so the message names it and how to raise it.
    assert str(caught.value) == clients_timeout_message(server.url)
    assert caught.value.hint == CLIENTS_HINT
    # The client's 0.25 s read timeout ended the wait, long before the auth's 6 s would.
    assert elapsed < AUTH_TIMEOUT / 2
    assert_nothing_secret(texts_of_exception(caught.value))
    heads = server.take_requests()
    assert len(heads) == 1  # one login attempt, not retried
    assert heads[0].startswith(b"POST /auth/password_login?")


def test_a_login_keeps_to_the_clients_own_timeout(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        with httpx.Client(auth=auth, timeout=CLIENT_TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(LoginError) as caught:
                client.get(server.url + "/customers")
            elapsed = time.monotonic() - started
        assert_login_gave_up_on_the_clients_timeout(caught, elapsed, server)


def test_where_the_auths_timeout_is_the_shorter_the_message_names_it(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=CLIENT_TIMEOUT)
        with (
            httpx.Client(auth=auth, timeout=AUTH_TIMEOUT) as client,
            pytest.raises(LoginError) as caught,
        ):
            client.get(server.url + "/customers")
        assert str(caught.value) == (
            f"TeamUp login did not answer within {CLIENT_TIMEOUT:.3g}s "
            f"({server.url}/auth/password_login). Try again later or raise the auth's timeout="
        )


def test_a_login_keeps_to_the_requests_own_timeout(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(LoginError) as caught:
                client.get(server.url + "/customers", timeout=CLIENT_TIMEOUT)
            elapsed = time.monotonic() - started
        assert_login_gave_up_on_the_clients_timeout(caught, elapsed, server)


def test_an_async_login_keeps_to_the_clients_own_timeout(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)

        async def go() -> tuple[pytest.ExceptionInfo[LoginError], float]:
            async with httpx.AsyncClient(auth=auth, timeout=CLIENT_TIMEOUT) as client:
                started = time.monotonic()
                with pytest.raises(LoginError) as caught:
                    await client.get(server.url + "/customers")
                return caught, time.monotonic() - started

        caught, elapsed = run(go)
        assert_login_gave_up_on_the_clients_timeout(caught, elapsed, server)


# -- the caller's User-Agent ---------------------------------------------------------------


def test_logins_send_the_callers_user_agent(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/customers"
    with httpx.Client(auth=auth, headers={"User-Agent": "acme-sync/1.0"}, timeout=TIMEOUT) as c:
        assert c.get(url).status_code == 200
        auth.forget_token()
        sandbox.revoke_tokens("teamup")
        # The request's own header wins over the client's, for the login it starts too.
        assert c.get(url, headers={"User-Agent": "acme-once/2.0"}).status_code == 200
    login = "/teamup/api/v2/auth/password_login"
    assert [(r.path.split("?")[0], r.headers["User-Agent"]) for r in sandbox.received] == [
        (login, "acme-sync/1.0"),
        ("/teamup/api/v2/customers", "acme-sync/1.0"),
        (login, "acme-once/2.0"),
        ("/teamup/api/v2/customers", "acme-once/2.0"),
    ]
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (2, 2)


def test_logins_without_a_user_agent_send_httpxs_own(sandbox: Sandbox, teamup_auth: Any) -> None:
    with httpx.Client(auth=teamup_auth(), timeout=TIMEOUT) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    agents = [r.headers["User-Agent"] for r in sandbox.received]
    assert agents == [f"python-httpx/{httpx.__version__}"] * 2
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (1, 1)


def test_a_request_built_by_hand_without_a_user_agent_logs_in_as_httpx(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    """``client.send(httpx.Request(...))`` skips the client's headers: the request has no
    User-Agent of its own, and its login goes out with httpx's."""
    url = sandbox.teamup_url + "/customers"
    with httpx.Client(auth=teamup_auth(), timeout=TIMEOUT) as client:
        assert client.send(httpx.Request("GET", url)).status_code == 200
    login, call = sandbox.received
    assert login.path.startswith("/teamup/api/v2/auth/password_login")
    assert login.headers["User-Agent"] == f"python-httpx/{httpx.__version__}"
    assert "User-Agent" not in call.headers
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (1, 1)


class TimeoutsSeen(httpx.HTTPTransport):
    """The real transport, noting the ``timeout`` extension each request came with."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, float]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, dict(request.extensions["timeout"])))
        return super().handle_request(request)


def test_each_phase_of_a_login_keeps_to_the_clients_limit_within_the_auths(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    """connect, write and pool limits shorter than the auth's time go to the login as the
    client set them; the longer read limit is cut to the time the auth has left."""
    transport = TimeoutsSeen()
    limits = httpx.Timeout(connect=2.0, read=60.0, write=3.0, pool=4.0)
    auth = teamup_auth(timeout=5.0)
    with httpx.Client(auth=auth, transport=transport, timeout=limits) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    (login_path, login), (api_path, api) = transport.seen
    assert (login_path, api_path) == (
        "/teamup/api/v2/auth/password_login",
        "/teamup/api/v2/customers",
    )
    assert api == limits.as_dict()
    read = login.pop("read")
    assert login == {"connect": 2.0, "write": 3.0, "pool": 4.0}
    assert 4.0 < read <= 5.0


def test_async_logins_send_the_callers_user_agent(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()

    async def go() -> int:
        headers = {"User-Agent": "acme-async/3.0"}
        async with httpx.AsyncClient(auth=auth, headers=headers, timeout=TIMEOUT) as client:
            response = await client.get(sandbox.teamup_url + "/customers")
            return response.status_code

    assert run(go) == 200
    assert [(r.method, r.headers["User-Agent"]) for r in sandbox.received] == [
        ("POST", "acme-async/3.0"),
        ("GET", "acme-async/3.0"),
    ]
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (1, 1)


# -- a refused one-shot body ---------------------------------------------------------------

NOT_REPLAYABLE = (
    "TeamUp rejected the token for POST /teamup/api/v2/echo (HTTP 401); the token is "
    "renewed but this request's body is a stream that cannot be sent twice: send the "
    "request again"
)
#: What the server gets: a first call, the refused one (once), the renewal (a refresh the
#: revocation refuses, then a password login), and no second send of the one-shot body.
REFUSED_ONCE = [
    ("POST", "/teamup/api/v2/auth/password_login"),
    ("GET", "/teamup/api/v2/echo"),
    ("POST", "/teamup/api/v2/echo"),
    ("POST", "/teamup/api/v2/auth/refresh_access_token"),
    ("POST", "/teamup/api/v2/auth/password_login"),
]


def test_a_refused_one_shot_body_says_what_to_do(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/echo"
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        old = auth.token.access_token
        sandbox.revoke_tokens("teamup")
        with pytest.raises(BodyNotReplayable) as caught:
            # The query string may hold a secret of its own: the message shows the path only.
            client.post(url + "?api_key=query-secret", content=iter([b"one-", b"shot"]))
    assert str(caught.value) == NOT_REPLAYABLE
    assert caught.value.response.status_code == 401
    assert caught.value.response.history == []  # no login answer left in it
    assert auth.token.access_token != old  # renewed: sending again works at once
    assert received(sandbox) == REFUSED_ONCE
    assert sandbox.received[2].body == b"one-shot"
    assert sandbox.logins("teamup") == 2


def test_an_async_refused_one_shot_body_says_what_to_do(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/echo"

    async def body() -> AsyncIterator[bytes]:
        yield b"one-"
        yield b"shot"

    async def go() -> BodyNotReplayable:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            await client.get(url)
            sandbox.revoke_tokens("teamup")
            with pytest.raises(BodyNotReplayable) as caught:
                await client.post(url + "?api_key=query-secret", content=body())
            return caught.value

    error = run(go)
    assert str(error) == NOT_REPLAYABLE
    assert error.response.status_code == 401
    assert error.response.history == []
    assert received(sandbox) == REFUSED_ONCE
    assert sandbox.received[2].body == b"one-shot"
    assert sandbox.logins("teamup") == 2


# -- multipart bodies: resent when httpx can rewind every file -----------------------------


class ReadOnlyFile:
    """A file-like upload that can be read once and not rewound (a socket, a pipe's reader)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) if size < 0 else size
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


def echoed(sandbox: Sandbox) -> list[bytes]:
    return [r.body for r in sandbox.received if r.path.endswith("/echo") and r.method == "POST"]


def test_a_refused_multipart_upload_is_resent_whole(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/echo"
    files: dict[str, Any] = {
        "raw": ("raw.bin", b"\x00raw bytes\xff"),
        "text": ("note.txt", "some text"),
        "seekable": ("data.bin", io.BytesIO(b"from a file object" * 100)),
    }
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        sandbox.revoke_tokens("teamup")
        response = client.post(url, data={"field": "value"}, files=files)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    first, second = echoed(sandbox)
    assert first == second
    for part in (b"\x00raw bytes\xff", b"some text", b"from a file object" * 100, b"value"):
        assert part in second
    assert sandbox.logins("teamup") == 2


@pytest.mark.parametrize("with_data", [False, True])
def test_a_refused_multipart_upload_of_a_one_shot_file_is_not_resent(
    sandbox: Sandbox, teamup_auth: Any, with_data: bool
) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/echo"
    data = {"field": "value"} if with_data else None
    files: dict[str, Any] = {
        "seekable": ("a.bin", io.BytesIO(b"fine")),
        "once": ("b.bin", ReadOnlyFile(b"gone")),
    }
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        sandbox.revoke_tokens("teamup")
        with pytest.raises(BodyNotReplayable) as caught:
            client.post(url, data=data, files=files)
    assert str(caught.value) == NOT_REPLAYABLE
    assert len(echoed(sandbox)) == 1  # the refused send only
    assert b"gone" in echoed(sandbox)[0]
    assert sandbox.logins("teamup") == 2


# -- the resent request keeps the caller's extensions ----------------------------------------


def test_the_resent_request_keeps_the_callers_extensions(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/customers"
    sends: list[str] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "http11.send_request_headers.started":
            sends.append(info["request"].url.target.decode())

    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        sandbox.revoke_tokens("teamup")
        response = client.request("GET", url, extensions={"trace": trace})
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    # The caller's trace saw both sends of its request (the logins carry their own).
    assert sends == ["/teamup/api/v2/customers"] * 2
    assert response.request.extensions["timeout"] == httpx.Timeout(TIMEOUT).as_dict()
    assert sandbox.api_calls("teamup") == 2


# -- error bodies: read for the vendor's checks, and only those ------------------------------


def test_a_streamed_answer_is_left_for_the_caller(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/customers"
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        with client.stream("GET", url) as response:
            assert response.status_code == 200
            assert not response.is_stream_consumed
            first = response.read()
        sandbox.revoke_tokens("teamup")
        with client.stream("GET", url) as response:
            assert [r.status_code for r in response.history] == [401]
            assert not response.is_stream_consumed
            assert response.read() == first
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (2, 2)


def test_a_400_token_expired_then_step_up_on_the_resend(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    sandbox.up2money.config.expired_style = "400"
    auth = up2money_auth()
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(sandbox.up2money_url + "/managed_accounts")
        sandbox.expire_tokens("up2money")
        with pytest.raises(StepUpRequired) as caught:
            client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
    response = caught.value.response
    assert isinstance(response, httpx.Response)
    assert response.status_code == 403
    assert [r.status_code for r in response.history] == [400]  # TOKEN_EXPIRED, read and seen
    assert sandbox.logins("up2money") == 2


def test_an_api_refusing_every_token_is_answered_once_and_logged(
    sandbox: Sandbox, up2money_auth: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.up2money.config.expired_style = "400"

    def expire_before_each_api_call(request: httpx.Request) -> None:
        if "/auth/" not in request.url.path:
            sandbox.expire_tokens("up2money")

    hooks = {"request": [expire_before_each_api_call]}
    url = sandbox.up2money_url + "/managed_accounts"
    client = httpx.Client(auth=up2money_auth(), event_hooks=hooks, timeout=TIMEOUT)
    with client, caplog.at_level(logging.WARNING, logger="auth_plugins"):
        response = client.get(url + "?page=2")
    assert response.status_code == 400
    assert response.json()["response"] == {"errorCode": "TOKEN_EXPIRED"}
    assert [r.status_code for r in response.history] == [400]
    assert response.history[0].history == []  # not the first login's answer either
    assert [r.getMessage() for r in caplog.records] == [
        "up2money: API still answers HTTP 400 to GET /up2money/managed_accounts with a "
        "fresh token; not retrying again"
    ]
    assert received(sandbox) == [
        ("POST", "/up2money/auth/login"),
        ("GET", "/up2money/managed_accounts"),
        ("POST", "/up2money/auth/login"),
        ("GET", "/up2money/managed_accounts"),
    ]


# -- calls made outside a request: get_token(client) and aget_token(client) ------------------


def test_get_token_logs_in_through_the_client_once(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    with httpx.Client(timeout=TIMEOUT) as client:
        token = auth.get_token(client=client)
        assert auth.get_token(client=client) is token
    assert token.access_token == auth.token.access_token
    assert received(sandbox) == [("POST", "/teamup/api/v2/auth/password_login")]


def test_aget_token_logs_in_through_the_client_once(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()

    async def go() -> tuple[Any, Any]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await auth.aget_token(client), await auth.aget_token(client)

    first, again = run(go)
    assert again is first
    assert first.access_token == auth.token.access_token
    assert received(sandbox) == [("POST", "/teamup/api/v2/auth/password_login")]
    # The token works on the API.
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    assert (sandbox.logins("teamup"), sandbox.api_calls("teamup")) == (1, 1)


def unreachable_url() -> str:
    """A loopback URL nothing listens on (a port taken, then freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def unreachable_message(url: str) -> str:
    return (
        f"TeamUp login failed: could not reach {url}/auth/password_login (ConnectError). "
        "Check the base URL and the network (and the client's proxy)"
    )


def test_get_token_through_a_client_that_cannot_connect(teamup_auth: Any) -> None:
    url = unreachable_url()
    auth = teamup_auth(base_url=url)
    with httpx.Client(timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
        auth.get_token(client=client)
    assert str(caught.value) == unreachable_message(url)
    assert caught.value.hint == "Check the base URL and the network (and the client's proxy)"
    assert_nothing_secret(texts_of_exception(caught.value))
    assert auth.token is None


def test_aget_token_through_a_client_that_cannot_connect(teamup_auth: Any) -> None:
    url = unreachable_url()
    auth = teamup_auth(base_url=url)

    async def go() -> LoginError:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            with pytest.raises(LoginError) as caught:
                await auth.aget_token(client)
            return caught.value

    error = run(go)
    assert str(error) == unreachable_message(url)
    assert_nothing_secret(texts_of_exception(error))
    assert auth.token is None


@pytest.mark.parametrize("mode", ["flow", "async-flow"])
def test_a_login_that_cannot_connect_inside_a_request_shows_no_transport_traceback(
    teamup_auth: Any, mode: str
) -> None:
    """httpx closes the flow while it handles its ConnectError: the LoginError raised then
    was shown as raised "during handling of" it (or of the flow's GeneratorExit), with
    httpcore's traceback and the login request, unlike the one from ``get_token``."""
    url = unreachable_url()
    auth = teamup_auth(base_url=url)

    def log_in() -> None:
        with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
            client.get(url + "/customers")

    async def alog_in() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            await client.get(url + "/customers")

    with pytest.raises(LoginError) as caught:
        log_in() if mode == "flow" else run(alog_in)
    error = caught.value
    assert str(error) == unreachable_message(url)
    assert error.__cause__ is None
    assert error.__suppress_context__
    shown = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "During handling of the above exception" not in shown
    assert "httpcore" not in shown


@pytest.mark.parametrize("mode", ["flow", "async-flow"])
def test_a_proxy_refusing_the_logins_tunnel_is_a_login_error(
    sandbox: Sandbox, teamup_auth: Any, mode: str
) -> None:
    """The client's proxy answers the login's CONNECT 403 (it reaches loopback hosts only):
    httpcore raises its ProxyError without tracing it, and the flow let it through bare
    ("403 Forbidden", naming no login), where ``get_token`` said which login failed."""
    login_url = "https://login.example.invalid"
    auth = teamup_auth(base_url=login_url, allowed_hosts=[sandbox.url])

    def log_in(proxy: str) -> None:
        with httpx.Client(auth=auth, proxy=proxy, timeout=TIMEOUT) as client:
            client.get(sandbox.teamup_url + "/customers")

    async def alog_in(proxy: str) -> None:
        async with httpx.AsyncClient(auth=auth, proxy=proxy, timeout=TIMEOUT) as client:
            await client.get(sandbox.teamup_url + "/customers")

    with ForwardProxy() as proxy, pytest.raises(LoginError) as caught:
        log_in(proxy.url) if mode == "flow" else run(lambda: alog_in(proxy.url))
    assert str(caught.value) == (
        f"TeamUp login failed: could not reach {login_url}/auth/password_login (ProxyError). "
        "Check the base URL and the network (and the client's proxy)"
    )
    assert proxy.seen == [("CONNECT", "login.example.invalid:443")]
    assert sandbox.logins("teamup") == 0


def redirect_login(sandbox: Sandbox) -> None:
    """The next login answer sends the client elsewhere, body and all (307)."""
    sandbox.script_login("teamup", 307, b"", headers={"Location": sandbox.teamup_url + "/echo"})


REDIRECTED = "TeamUp login failed: HTTP 307 Temporary Redirect"


def test_get_token_does_not_follow_a_redirected_login(sandbox: Sandbox, teamup_auth: Any) -> None:
    redirect_login(sandbox)
    auth = teamup_auth()
    client = httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    with client, pytest.raises(LoginError) as caught:
        auth.get_token(client=client)
    assert str(caught.value) == REDIRECTED
    assert caught.value.status == 307
    assert received(sandbox) == [("POST", "/teamup/api/v2/auth/password_login")]


def test_aget_token_does_not_follow_a_redirected_login(sandbox: Sandbox, teamup_auth: Any) -> None:
    redirect_login(sandbox)
    auth = teamup_auth()

    async def go() -> LoginError:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True) as client:
            with pytest.raises(LoginError) as caught:
                await auth.aget_token(client)
            return caught.value

    error = run(go)
    assert str(error) == REDIRECTED
    assert error.status == 307
    assert received(sandbox) == [("POST", "/teamup/api/v2/auth/password_login")]


def test_get_token_keeps_to_the_clients_own_timeout(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(LoginError) as caught:
                auth.get_token(client=client)
            elapsed = time.monotonic() - started
        assert_login_gave_up_on_the_clients_timeout(caught, elapsed, server)


def test_aget_token_keeps_to_the_clients_own_timeout(teamup_auth: Any) -> None:
    with stalled_server() as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)

        async def go() -> tuple[pytest.ExceptionInfo[LoginError], float]:
            async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
                started = time.monotonic()
                with pytest.raises(LoginError) as caught:
                    await auth.aget_token(client)
                return caught, time.monotonic() - started

        caught, elapsed = run(go)
        assert_login_gave_up_on_the_clients_timeout(caught, elapsed, server)


# -- login answers that come slowly, in pieces, or not at all --------------------------------

#: A drip of 400 bytes, one each 20 ms: 8 s in all, each read well within the client's timeout.
DRIP_INTERVAL, DRIP_SIZE = 0.02, 400
SLOW_AUTH_TIMEOUT = 1.0


def too_slow_message(url: str) -> str:
    """A pattern: the number is the time left of the auth's 1 s when the call began."""
    return (
        r"TeamUp login did not finish within (?:1|0\.9\d*)s: the answer came too slowly "
        + re.escape(f"({url}/auth/password_login). Try again later or raise the auth's timeout=")
    )


def assert_too_slow(error: LoginError, elapsed: float, url: str) -> None:
    assert re.fullmatch(too_slow_message(url), str(error)), str(error)
    assert error.status == 200
    assert error.hint == "Try again later or raise the auth's timeout="
    # Given up at the auth's deadline (stretched on a loaded machine), not after all 8 s.
    assert elapsed < 5.0


def test_get_token_gives_up_on_an_answer_that_drips(teamup_auth: Any) -> None:
    with SlowDripServer(interval=DRIP_INTERVAL, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)
        with httpx.Client(timeout=TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(LoginError) as caught:
                auth.get_token(client=client)
            elapsed = time.monotonic() - started
        assert_too_slow(caught.value, elapsed, server.url)
        assert [m for m, _ in server.seen] == ["POST"]


def test_aget_token_gives_up_on_an_answer_that_drips(teamup_auth: Any) -> None:
    with SlowDripServer(interval=DRIP_INTERVAL, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)

        async def go() -> tuple[LoginError, float]:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                started = time.monotonic()
                with pytest.raises(LoginError) as caught:
                    await auth.aget_token(client)
                return caught.value, time.monotonic() - started

        error, elapsed = run(go)
        assert_too_slow(error, elapsed, server.url)
        assert [m for m, _ in server.seen] == ["POST"]


def test_a_request_gives_up_on_a_login_answer_that_drips(teamup_auth: Any) -> None:
    with SlowDripServer(interval=DRIP_INTERVAL, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)
        with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(LoginError) as caught:
                client.get(server.url + "/customers")
            elapsed = time.monotonic() - started
        assert_too_slow(caught.value, elapsed, server.url)
        assert [m for m, _ in server.seen] == ["POST"]


def test_a_login_answer_in_many_pieces_is_read_whole(teamup_auth: Any) -> None:
    # 300 bytes, one each 2 ms: read in many chunks, all within the deadline.
    with SlowDripServer(interval=0.002, size=300) as server:
        auth = teamup_auth(base_url=server.url)
        with httpx.Client(timeout=TIMEOUT) as client:
            token = auth.get_token(client=client)

        async def go() -> Any:
            auth.forget_token()
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                return await auth.aget_token(client)

        again = run(go)
        assert (token.access_token, again.access_token) == ("drip-token", "drip-token")
        assert server.seen == [("POST", "/auth/password_login?format=json")] * 2


def test_a_login_answer_that_stops_midway_is_a_login_error(teamup_auth: Any) -> None:
    # Headers and a first byte at once, then one byte a second: the client's read timeout ends it.
    with SlowDripServer(interval=1.0, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        client = httpx.Client(auth=auth, timeout=CLIENT_TIMEOUT)
        with client, pytest.raises(LoginError) as caught:
            client.get(server.url + "/customers")
        assert str(caught.value) == clients_timeout_message(server.url)
        assert caught.value.status is None
        assert [m for m, _ in server.seen] == ["POST"]
    assert auth.token is None


def get_token_over(auth: Any, mode: str) -> Any:
    """``auth.get_token`` through an ``httpx.Client``, or ``aget_token`` through an
    ``AsyncClient`` (``mode``: sync or async); each with the module's long timeout."""
    if mode == "sync":
        with httpx.Client(timeout=TIMEOUT) as client:
            return auth.get_token(client=client)

    async def go() -> Any:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await auth.aget_token(client)

    return run(go)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_login_answer_that_inflates_to_nothing_slowly_is_too_slow(
    teamup_auth: Any, mode: str
) -> None:
    """An empty deflate block every 50 ms: httpx's decoded stream yields nothing, so the
    time is checked on each raw piece (it once ran on until the server gave up, 10 s)."""
    with HollowGzipServer(interval=0.05) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)
        started = time.monotonic()
        with pytest.raises(LoginError) as caught:
            get_token_over(auth, mode)
        assert_too_slow(caught.value, time.monotonic() - started, server.url)


class DrippingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport with no socket (as HTTP/2, a WSGI app or a test double would be) whose
    login answer comes a piece every 50 ms: no socket read can be held to the deadline,
    so the time is checked on each piece as it comes."""

    URL = "https://transport.invalid"

    @staticmethod
    def pieces() -> Iterator[bytes]:
        for _ in range(100):  # 5 s in all
            time.sleep(0.05)
            yield b" "

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.pieces())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async def pieces() -> AsyncIterator[bytes]:
            for piece in self.pieces():
                yield piece

        return httpx.Response(200, content=pieces())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_login_answer_with_no_socket_under_it_is_too_slow_once_its_time_is_over(
    teamup_auth: Any, mode: str
) -> None:
    auth = teamup_auth(base_url=DrippingTransport.URL, timeout=SLOW_AUTH_TIMEOUT)

    def log_in() -> None:
        if mode == "sync":
            with httpx.Client(transport=DrippingTransport()) as client:
                auth.get_token(client=client)
            return

        async def go() -> None:
            async with httpx.AsyncClient(transport=DrippingTransport()) as client:
                await auth.aget_token(client)

        run(go)

    started = time.monotonic()
    with pytest.raises(LoginError) as caught:
        log_in()
    assert_too_slow(caught.value, time.monotonic() - started, DrippingTransport.URL)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_endless_gzip_login_answer_that_inflates_to_nothing_is_cut_short(
    teamup_auth: Any, mode: str
) -> None:
    """Empty deflate blocks back to back: nothing decoded counts toward the size limit, so
    the bytes off the wire are limited too (the login once took in all the server sent
    until it gave up, then called the answer empty)."""
    with HollowGzipServer(interval=0, blocks=2_000) as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        with pytest.raises(LoginError) as caught:
            get_token_over(auth, mode)
    assert str(caught.value).startswith(
        "TeamUp login answered HTTP 200 with application/json (more than a login answer can"
        " be), not the JSON"
    ), str(caught.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_login_answer_that_breaks_off_says_so_not_that_the_server_was_unreachable(
    teamup_auth: Any, mode: str
) -> None:
    """Half the body, then the connection closes: the server answered, so the error says
    the answer broke off (it said "could not reach", sending the user to check the URL)."""
    with PausingServer(pause=0.05, close=True) as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)
        with pytest.raises(LoginError) as caught:
            get_token_over(auth, mode)
    assert str(caught.value) == (
        "TeamUp login answered HTTP 200, but its body could not be read whole "
        f"(RemoteProtocolError) ({server.url}/auth/password_login). Try again later; if it "
        "goes on, the server or something between (a proxy) breaks its answers"
    )
    assert caught.value.status == 200


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_login_answers_body_gets_what_is_left_of_the_time_its_head_did_not_take(
    teamup_auth: Any, mode: str
) -> None:
    """Each network wait gets only what is left of the auth's 1 s: a head that came after
    0.8 s leaves the body 0.2 s, not another whole read timeout (the login then ended
    after 1.9 s)."""
    with PausingServer(pause=5.0, close=True, delay=0.8) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)
        started = time.monotonic()
        with pytest.raises(LoginError) as caught:
            get_token_over(auth, mode)
        waited = time.monotonic() - started
    # The head came: the answer came too slowly (as requests says it), the time of its
    # body's read cut short by the login's deadline.
    assert_too_slow(caught.value, waited, server.url)
    assert waited < 1.6  # generous: the bug waited 1.9 s


def log_in_over(auth: Any, mode: str, url: str) -> None:
    """Log in as :func:`get_token_over` does, or (``flow``) inside a ``client.get()``."""
    if mode != "flow":
        get_token_over(auth, mode)
        return
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url + "/customers")


@pytest.mark.parametrize("mode", ["sync", "async", "flow"])
@pytest.mark.parametrize("shape", ["head", "informational", "chunk-size", "trailers"])
def test_a_login_whose_framing_drips_ends_when_its_time_is_over(
    teamup_auth: Any, shape: str, mode: str
) -> None:
    """httpcore asks for the read timeout once per head and once per body, then waits that
    long on every socket read within: a head, ``1xx`` answers, a chunk-size line or trailers
    coming a byte every 50 ms kept a login of 1 s going until the server gave up (8 s)."""
    with FramingDripServer(shape) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)
        started = time.monotonic()
        with pytest.raises(LoginError) as caught:
            log_in_over(auth, mode, server.url)
        waited = time.monotonic() - started
    # The head never ended: the login did not answer; else it did, too slowly.
    said = "did not answer" if shape in ("head", "informational") else "did not finish"
    assert str(caught.value).startswith(f"TeamUp login {said} within "), str(caught.value)
    assert caught.value.hint == "Try again later or raise the auth's timeout="
    assert_nothing_secret(texts_of_exception(caught.value))
    assert waited < 3.0  # generous: the bug waited 8 s


@pytest.mark.parametrize("mode", ["sync", "async", "flow"])
def test_a_kept_alive_connection_serves_the_callers_requests_on_their_own_time_after_a_login(
    teamup_auth: Any, mode: str
) -> None:
    """The login holds the connection's reads to its own deadline only while it uses the
    connection: the caller's requests after it, on the same connection, wait as long as
    the client allows (1.2 s each here, past the auth's 0.5 s)."""
    with FramingDripServer("keep-alive", interval=0.6) as server:
        auth = teamup_auth(base_url=server.url, timeout=0.5)

        def calls(client: httpx.Client) -> list[str]:
            if mode == "sync":
                auth.get_token(client=client)
            return [client.get(server.url + "/customers").text for _ in range(2)]

        async def acalls() -> list[str]:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                await auth.aget_token(client)
                return [(await client.get(server.url + "/customers")).text for _ in range(2)]

        if mode == "async":
            texts = run(acalls)
        else:
            with httpx.Client(timeout=TIMEOUT, auth=auth if mode == "flow" else None) as client:
                texts = calls(client)
        assert texts == ["ok", "ok"]
        assert server.connections == 1  # the login's connection, kept and reused


@pytest.mark.parametrize("mode", ["flow", "async-flow"])
def test_a_login_that_runs_out_of_time_waiting_for_a_pooled_connection_is_a_login_error(
    teamup_auth: Any, mode: str
) -> None:
    """The client's one connection is busy with a streamed answer: the login waits for it
    only as long as its own 0.5 s (not the client's 10 s), then says so. httpcore traces
    nothing of that wait, so the flow let a bare ``httpx.PoolTimeout`` through, with no
    message (``get_token`` said it was the login)."""
    limits = httpx.Limits(max_connections=1)
    with FramingDripServer("keep-alive", interval=0.01) as server:
        auth = teamup_auth(base_url=server.url, timeout=0.5)

        def log_in() -> None:
            with (
                httpx.Client(timeout=TIMEOUT, limits=limits) as client,
                client.stream("GET", server.url + "/busy"),
            ):
                client.get(server.url + "/customers", auth=auth)

        async def alog_in() -> None:
            async with (
                httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client,
                client.stream("GET", server.url + "/busy"),
            ):
                await client.get(server.url + "/customers", auth=auth)

        with pytest.raises(LoginError) as caught:
            log_in() if mode == "flow" else run(alog_in)
    # The figure is what was left of the 0.5 s when the login call began.
    pattern = r"TeamUp login did not answer within (?:0\.5|0\.4\d*)s " + re.escape(
        f"({server.url}/auth/password_login). Try again later or raise the auth's timeout="
    )
    assert re.fullmatch(pattern, str(caught.value)), str(caught.value)
    assert_nothing_secret(texts_of_exception(caught.value))


# -- TLS -------------------------------------------------------------------------------------


def test_an_untrusted_certificate_says_how_to_trust_it(auth_plugins_sandbox_tls: Sandbox) -> None:
    sandbox = auth_plugins_sandbox_tls
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    hint = (
        "Trust its certificate authority: httpx.Client(verify=ssl.create_default_context("
        "cafile='ca.pem')) (or verify='ca.pem'), or SSL_CERT_FILE=ca.pem"
    )
    with auth, httpx.Client(timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
        auth.get_token(client=client)
    assert str(caught.value) == (
        f"TeamUp login failed: the certificate of {sandbox.teamup_url}/auth/password_login "
        f"could not be verified. {hint}"
    )
    assert caught.value.hint == hint
    assert sandbox.received == []


# -- the same through httpx.AsyncClient ------------------------------------------------------


def test_async_streamed_answers_and_a_400_token_expired(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    sandbox.up2money.config.expired_style = "400"
    auth = up2money_auth()
    url = sandbox.up2money_url + "/managed_accounts"

    async def go() -> StepUpRequired:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            async with client.stream("GET", url) as response:
                assert response.status_code == 200
                assert not response.is_stream_consumed
                await response.aread()
            sandbox.expire_tokens("up2money")
            async with client.stream("GET", url) as response:
                assert [r.status_code for r in response.history] == [400]
                assert not response.is_stream_consumed
                await response.aread()
            sandbox.expire_tokens("up2money")
            with pytest.raises(StepUpRequired) as caught:
                await client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
            return caught.value

    error = run(go)
    assert isinstance(error.response, httpx.Response)
    assert error.response.status_code == 403
    assert [r.status_code for r in error.response.history] == [400]
    assert sandbox.logins("up2money") == 3


def test_async_an_api_refusing_every_token_is_answered_once_and_logged(
    sandbox: Sandbox, up2money_auth: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.up2money.config.expired_style = "400"

    async def expire_before_each_api_call(request: httpx.Request) -> None:
        if "/auth/" not in request.url.path:
            sandbox.expire_tokens("up2money")

    hooks = {"request": [expire_before_each_api_call]}
    auth = up2money_auth()

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(auth=auth, event_hooks=hooks, timeout=TIMEOUT) as client:
            return await client.get(sandbox.up2money_url + "/managed_accounts")

    with caplog.at_level(logging.WARNING, logger="auth_plugins"):
        response = run(go)
    assert response.status_code == 400
    assert [r.status_code for r in response.history] == [400]
    assert response.history[0].history == []
    assert [r.getMessage() for r in caplog.records] == [
        "up2money: API still answers HTTP 400 to GET /up2money/managed_accounts with a "
        "fresh token; not retrying again"
    ]
    assert (sandbox.logins("up2money"), len(sandbox.received)) == (2, 4)


def test_async_a_login_answer_that_stops_midway_is_a_login_error(teamup_auth: Any) -> None:
    with SlowDripServer(interval=1.0, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=AUTH_TIMEOUT)

        async def go() -> LoginError:
            async with httpx.AsyncClient(auth=auth, timeout=CLIENT_TIMEOUT) as client:
                with pytest.raises(LoginError) as caught:
                    await client.get(server.url + "/customers")
                return caught.value

        error = run(go)
        assert str(error) == clients_timeout_message(server.url)
        assert error.status is None
        assert [m for m, _ in server.seen] == ["POST"]
    assert auth.token is None


def test_async_a_request_gives_up_on_a_login_answer_that_drips(teamup_auth: Any) -> None:
    with SlowDripServer(interval=DRIP_INTERVAL, size=DRIP_SIZE) as server:
        auth = teamup_auth(base_url=server.url, timeout=SLOW_AUTH_TIMEOUT)

        async def go() -> tuple[LoginError, float]:
            async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
                started = time.monotonic()
                with pytest.raises(LoginError) as caught:
                    await client.get(server.url + "/customers")
                return caught.value, time.monotonic() - started

        error, elapsed = run(go)
        assert_too_slow(error, elapsed, server.url)
        assert [m for m, _ in server.seen] == ["POST"]


# -- what a vendor's hooks get, and where the async flow writes the store ---------------------


class ThreadRecordingStore:
    """A persistent token store that notes which thread each save ran on."""

    persistent = True

    def __init__(self) -> None:
        self.tokens: dict[TokenKey, Token] = {}
        self.save_threads: list[int] = []

    def load(self, key: TokenKey) -> Optional[Token]:
        return self.tokens.get(key)

    def save(self, key: TokenKey, token: Token) -> None:
        self.save_threads.append(threading.get_ident())
        self.tokens[key] = token

    def delete(self, key: TokenKey) -> None:
        self.tokens.pop(key, None)

    def lock(self, key: TokenKey) -> Any:
        return nullcontext()


def test_async_sliding_window_store_writes_run_off_the_event_loop(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    store = ThreadRecordingStore()
    auth = up2money_auth(token_store=store)
    url = sandbox.up2money_url + "/managed_accounts"
    loop_thread = threading.get_ident()

    async def get() -> int:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            return (await client.get(url)).status_code

    assert run(get) == 200  # logs in: saved on the renewal's worker thread
    assert len(store.save_threads) == 1
    assert loop_thread not in store.save_threads
    age_token(auth, 100.0)  # the store's last use is 100 s old: a third of the window
    del store.save_threads[:]
    before = time.time()
    assert run(get) == 200
    assert run(get) == 200  # used just now: not written again
    assert len(store.save_threads) == 1
    assert loop_thread not in store.save_threads
    saved = store.tokens[auth.key]
    assert saved.last_used is not None
    assert saved.last_used >= before
    assert sandbox.logins("up2money") == 1


def test_a_plugin_vendors_hooks_see_the_api_answers(sandbox: Sandbox) -> None:
    """What a vendor's hooks get: status, reason and body of errors, the path, every header."""
    seen: list[tuple[int, str, str, bytes, dict[str, str]]] = []

    def note(answer: Answer) -> None:
        seen.append((answer.status, answer.reason, answer.url, answer.body, dict(answer.headers)))

    def rejected(answer: Answer) -> bool:
        note(answer)
        original = UP2MONEY.token_rejected_hook
        assert original is not None
        return original(answer)

    fields = {name: getattr(UP2MONEY, name) for name in Vendor._fields}
    vendor = Vendor(**{**fields, "name": "up2money-look", "token_rejected_hook": rejected})
    auth = PasswordAuth(
        vendor,
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
    )
    sandbox.up2money.config.expired_style = "400"
    url = sandbox.up2money_url + "/managed_accounts"
    with auth, httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        first = client.get(url + "?page=1")
        sandbox.expire_tokens("up2money")
        second = client.get(url)
    refused = second.history[0]
    path = "/up2money/managed_accounts"
    assert seen == [
        (200, "", path, b"", dict(first.headers)),
        (400, "Bad Request", path, refused.content, dict(refused.headers)),
        (200, "", path, b"", dict(second.headers)),
    ]
    assert b"TOKEN_EXPIRED" in refused.content
    assert sandbox.logins("up2money") == 2


@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_a_token_held_only_in_memory_is_reused(
    sandbox: Sandbox, vendor_auth: Any, vendor: str
) -> None:
    auth = vendor_auth(vendor, token_store=KeepsNothingStore())
    path = "/customers" if vendor == "teamup" else "/managed_accounts"
    url = (sandbox.teamup_url if vendor == "teamup" else sandbox.up2money_url) + path
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        assert [client.get(url).status_code for _ in range(3)] == [200] * 3

    async def go() -> list[int]:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            return [(await client.get(url)).status_code for _ in range(3)]

    assert run(go) == [200] * 3
    calls = (sandbox.logins(vendor), sandbox.refreshes(vendor), sandbox.api_calls(vendor))
    assert calls == (1, 0, 6)  # no login, no refresh: the token in memory was good


def wait_until_due(auth: PasswordAuth) -> None:
    """Wait (bounded) until the token the auth holds is due for renewal: its life is short."""
    token = auth.token
    assert token is not None
    deadline = time.monotonic() + TIMEOUT
    while not token.is_expired(auth.leeway):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_due_token_held_only_in_memory_is_refreshed(sandbox: Sandbox, teamup_auth: Any) -> None:
    # Tokens live 1 s here (due 0.25 s early): the only way to age the one held in memory.
    sandbox.teamup.config.expires_in = 1
    auth: PasswordAuth = teamup_auth(token_store=KeepsNothingStore())
    url = sandbox.teamup_url + "/customers"
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        assert client.get(url).status_code == 200
        wait_until_due(auth)
        assert client.get(url).status_code == 200
    wait_until_due(auth)

    async def go() -> Token:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await auth.aget_token(client)

    token = run(go)
    assert token is auth.token
    # One password login; the later tokens came from the refresh token held in memory.
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (1, 2)


# -- login answers: bounded, not followed, and emptied once read ----------------------------


def login_answer_of(size: int) -> bytes:
    """A TeamUp login answer of exactly ``size`` bytes."""
    payload = {"access_token": "big-token", "expires_in": 3600, "padding": ""}
    skeleton = json.dumps(payload, separators=(",", ":")).encode()
    payload["padding"] = "x" * (size - len(skeleton))
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.mark.parametrize("flow", ["sync", "async"])
def test_a_vendors_login_answer_hook_sees_the_login_path(sandbox: Sandbox, flow: str) -> None:
    """A plugin vendor's hook reads the answer's URL (its path, no query) for its messages."""
    seen: list[tuple[int, str, str]] = []
    own = TEAMUP.login_answer_hook

    def hook(data: Any, answer: Answer) -> None:
        seen.append((answer.status, answer.reason, answer.url))
        if own is not None:
            own(data, answer)

    auth = PasswordAuth(
        dataclasses.replace(TEAMUP, login_answer_hook=hook),
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    url = sandbox.teamup_url + "/customers"
    if flow == "sync":
        with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
            assert client.get(url).status_code == 200

    else:

        async def go() -> int:
            async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
                return (await client.get(url)).status_code

        assert run(go) == 200
    assert seen == [(200, "OK", "/teamup/api/v2/auth/password_login")]


def test_a_login_answer_of_the_largest_size_is_read(sandbox: Sandbox, teamup_auth: Any) -> None:
    answer = login_answer_of(MAX_ANSWER_BYTES)
    sandbox.script_login("teamup", 200, answer, headers={"Content-Type": "application/json"})
    auth = teamup_auth()
    with httpx.Client(timeout=TIMEOUT) as client:
        assert auth.get_token(client=client).access_token == "big-token"
    assert sandbox.login_attempts("teamup") == 1


def test_a_login_answer_one_byte_larger_is_refused(sandbox: Sandbox, teamup_auth: Any) -> None:
    answer = login_answer_of(MAX_ANSWER_BYTES + 1)
    sandbox.script_login("teamup", 200, answer, headers={"Content-Type": "application/json"})
    auth = teamup_auth()
    with httpx.Client(timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
        auth.get_token(client=client)
    assert str(caught.value) == (
        f"TeamUp login answered HTTP 200 with application/json (more than {MAX_ANSWER_BYTES} "
        "bytes, more than a login answer can be), not the JSON it documents; is the base URL "
        "right?"
    )
    assert auth.token is None


def test_a_login_answer_without_end_is_read_no_further_than_the_size_limit(
    teamup_auth: Any,
) -> None:
    """Reading stops once past the size limit and the connection is dropped (the core
    says the answer is too big), rather than reading on to the answer's end, if any."""
    with EndlessServer() as server:
        auth = teamup_auth(base_url=server.url, timeout=60.0)
        with httpx.Client(timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
            auth.get_token(client=client)
        # The limit is 8 pieces; a few more may be in flight before the server sees the
        # client gone. The whole answer is 2 000.
        assert server.pieces < 100
    assert str(caught.value) == (
        f"TeamUp login answered HTTP 200 with application/json (more than {MAX_ANSWER_BYTES} "
        "bytes, more than a login answer can be), not the JSON it documents; is the base URL "
        "right?"
    )


def test_a_client_following_redirects_does_not_send_the_password_twice(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    redirect_login(sandbox)
    auth = teamup_auth()
    client = httpx.Client(auth=auth, timeout=TIMEOUT, follow_redirects=True)
    with client, pytest.raises(LoginError) as caught:
        client.get(sandbox.teamup_url + "/customers")
    # The one-shot body refused the second send, and the error says so.
    assert str(caught.value) == (
        "TeamUp login was redirected; the password is not sent a second time. "
        "Check the base URL (http:// versus https://, a missing path)"
    )
    assert_nothing_secret(texts_of_exception(caught.value))
    echoed_bodies = [r.body for r in sandbox.received if r.path.endswith("/echo")]
    assert all(DEMO_TEAMUP_PASSWORD.encode() not in body for body in echoed_bodies)
    assert sandbox.login_attempts("teamup") == 1


def test_login_answers_a_response_hook_kept_are_emptied(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    kept: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        kept.append(response)

    auth = up2money_auth()
    hooks = {"response": [keep]}
    with httpx.Client(auth=auth, event_hooks=hooks, timeout=TIMEOUT) as client:
        assert client.get(sandbox.up2money_url + "/managed_accounts").status_code == 200
    login, api = kept
    assert login.request.url.path == "/up2money/auth/login"
    # The answer held the token; the request held the password (body) and x-secret (header).
    assert login.content == b""
    assert sorted(login.headers.keys()) == ["content-type", "date"]
    assert sorted(login.request.headers.keys()) == [
        "accept",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    ]
    assert "trace" not in login.request.extensions
    assert_nothing_secret(texts_of_response(login), auth.token.access_token)
    assert api.request.headers["Authorization-key"] == auth.token.access_token


def test_the_login_log_says_why(
    sandbox: Sandbox, up2money_auth: Any, caplog: pytest.LogCaptureFixture
) -> None:
    auth = up2money_auth()
    url = sandbox.up2money_url + "/managed_accounts"
    client = httpx.Client(auth=auth, timeout=TIMEOUT)
    with caplog.at_level(logging.INFO, logger="auth_plugins"), client:
        client.get(url)
        sandbox.revoke_tokens("up2money")
        client.get(url)
    why = [r.getMessage().split("; token")[0] for r in caplog.records if "logged in" in r.msg]
    assert why == [
        f"up2money: logged in as {DEMO_UP2MONEY_EMAIL} (first request)",
        f"up2money: logged in as {DEMO_UP2MONEY_EMAIL} (token rejected)",
    ]
