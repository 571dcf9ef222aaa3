"""The requests adapter's finer points, each seen on the wire of the real sandbox.

A one-shot body's first round trip, redirects off the vendor, the resend (cookies,
streamed answers, a refusal kept for history, a warning when refused again), what a
vendor's response hook and a sliding-window token see, and the login calls the
adapter sends itself: credentials requests would add, redirects, timeouts, sizes.
``Node`` is a loopback API node (an allowed host) for answers the sandbox does not give.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import logging
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlsplit

import pytest
import requests
from helpers import KeepsNothingStore, join_all, session_with
from requests_toolbelt import StreamingIterator
from urllib3.response import HTTPResponse

from auth_plugins import (
    BodyNotReplayable,
    LoginError,
    MemoryTokenStore,
    PasswordAuth,
    TeamUpAuth,
    Up2MoneyAuth,
)
from auth_plugins.core.messages import MAX_ANSWER_BYTES
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    ReceivedRequest,
    Sandbox,
)
from auth_plugins.vendors.teamup import TEAMUP

LOGIN_PATH = "/auth/password_login"
#: Every header TeamUp's auth can add (its optional ones included), lower-case.
TEAMUP_HEADERS = {"authorization", "teamup-provider-id", "teamup-request-mode"}
#: The headers that frame a request's body.
FRAMING = {"content-length", "transfer-encoding", "content-type"}


@pytest.fixture(autouse=True)
def nothing_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no ~/.netrc of the machine's: each test sets what it needs."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent/netrc")


def teamup(sandbox: Sandbox, **kwargs: Any) -> TeamUpAuth:
    """A TeamUp auth with a store of its own: no login shared with another auth."""
    return TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        token_store=MemoryTokenStore(),
        **kwargs,
    )


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def up2money_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers up2money's auth adds, of lower-case ``headers``."""
    return {k: v for k, v in headers.items() if k in ("x-secret", "authorization-key")}


def received(sandbox: Sandbox, since: int, path: str) -> list[ReceivedRequest]:
    """The requests the sandbox received from index ``since`` on whose path contains ``path``."""
    return [r for r in sandbox.received[since:] if path in r.path]


def other_origin(sandbox: Sandbox) -> str:
    """The sandbox's TeamUp API reached as ``localhost``: the same server, another origin."""
    return sandbox.teamup_url.replace("//127.0.0.1:", "//localhost:", 1)


# -- a body that cannot be sent twice ----------------------------------------------------------

BODY = b'{"name": "streamed", "notes": "sent once, after the login"}'


def pieces() -> Iterator[bytes]:
    yield BODY[:20]
    yield BODY[20:]


# A generator goes out chunked; the toolbelt's StreamingIterator (an iterator of known
# size) with a Content-Length. Neither can be rewound, so both are held back.
ONE_SHOT: dict[str, tuple[Callable[[], Any], dict[str, str]]] = {
    "generator": (pieces, {"transfer-encoding": "chunked"}),
    "sized-stream": (
        lambda: StreamingIterator(len(BODY), pieces()),
        {"content-length": str(len(BODY))},
    ),
}


@pytest.mark.parametrize("kind", sorted(ONE_SHOT))
def test_a_held_back_body_leaves_no_framing_on_the_first_round_trip(
    sandbox: Sandbox, kind: str
) -> None:
    make_body, framing = ONE_SHOT[kind]
    session = session_with(teamup(sandbox))

    response = session.post(
        sandbox.teamup_url + "/echo",
        data=make_body(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 200, response.text
    head, post = received(sandbox, 0, "/echo")
    # The first round trip is a bare HEAD: no body, and no header announcing one
    # (a HEAD saying "chunked" or "Content-Length: 58" has a server wait for a body).
    assert head.method == "HEAD"
    assert head.body == b""
    assert set(lower(head.headers)) & FRAMING == set()
    # The request itself goes once, after the login, as the caller made it.
    assert post.method == "POST"
    assert post.body == BODY
    sent = lower(post.headers)
    assert {name: sent[name] for name in set(sent) & FRAMING} == {
        "content-type": "application/json",
        **framing,
    }
    assert response.json()["method"] == "POST"
    assert sandbox.logins("teamup") == 1


# -- redirects off the vendor --------------------------------------------------------------------


@pytest.mark.parametrize("logged_in", [False, True], ids=["before-any-login", "with-a-token"])
def test_a_redirect_off_the_vendor_is_followed_when_api_headers_were_never_sent(
    sandbox: Sandbox, logged_in: bool
) -> None:
    # TeamUp declares TeamUp-Provider-ID and TeamUp-Request-Mode; without those options
    # they are never sent. Before the first login no header of the vendor's is sent at all.
    auth = teamup(sandbox)
    if logged_in:
        auth.get_token()
    since = len(sandbox.received)
    target = other_origin(sandbox) + "/echo"

    response = session_with(auth).get(
        f"{sandbox.teamup_url}/redirect?to={quote(target, safe='')}", timeout=5
    )

    # The same server under another name: a token would have been accepted there.
    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [302]
    first, landing = received(sandbox, since, "")
    assert first.path.startswith("/teamup/api/v2/redirect?")
    assert landing.path == "/teamup/api/v2/echo"
    assert set(lower(landing.headers)) & TEAMUP_HEADERS == set()
    # No login for the other host's 401.
    assert sandbox.login_attempts("teamup") == (1 if logged_in else 0)


# -- the login calls the adapter sends itself -----------------------------------------------------


def test_the_login_carries_no_netrc_credentials(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    # requests would send these to the sandbox by itself ...
    assert requests.utils.get_netrc_auth(sandbox.teamup_url) == ("netrc-user", "netrc-password")
    auth = teamup(sandbox)

    # ... but not on a login made outside any request (a session of its own).
    token = auth.get_token()

    [login] = received(sandbox, 0, LOGIN_PATH)
    assert "authorization" not in lower(login.headers)
    assert sandbox.logins("teamup") == 1
    assert token.access_token


def test_a_login_through_session_leaves_out_that_sessions_own_auth(sandbox: Sandbox) -> None:
    with requests.Session() as login_session:
        # A session set up for something else, with an auth of its own.
        login_session.auth = requests.auth.HTTPBasicAuth("gateway-user", "gateway-password")
        auth = teamup(sandbox, session=login_session)

        response = requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=5)

    assert response.status_code == 200
    [login] = received(sandbox, 0, LOGIN_PATH)
    assert "authorization" not in lower(login.headers)
    [call] = received(sandbox, 0, "/customers")
    assert auth.token is not None
    assert lower(call.headers)["authorization"] == f"Bearer {auth.token.access_token}"
    assert sandbox.logins("teamup") == 1


@pytest.mark.parametrize("through", ["own-session", "session="])
def test_a_login_answered_with_a_redirect_fails_without_following_it(
    sandbox: Sandbox, through: str
) -> None:
    # Following it would post the password wherever the Location points.
    target = other_origin(sandbox) + "/echo"
    sandbox.script_login("teamup", 307, b"", {"Location": target})
    with requests.Session() as login_session:
        auth = teamup(sandbox, session=login_session) if through == "session=" else teamup(sandbox)

        with pytest.raises(LoginError) as caught:
            auth.get_token()

    assert str(caught.value) == "TeamUp login failed: HTTP 307 Temporary Redirect"
    assert caught.value.status == 307
    assert [r.method + " " + r.path for r in sandbox.received] == [
        f"POST /teamup/api/v2{LOGIN_PATH}?format=json"
    ]
    assert sandbox.login_attempts("teamup") == 1


#: TeamUp with a login path whose query holds a "?" of its own (legal in a query).
QUERIED = dataclasses.replace(
    TEAMUP, login_path=LOGIN_PATH + "?format=json&return=/welcome?tab=home"
)


@pytest.mark.parametrize("through", ["own-session", "session="])
def test_a_login_slower_than_the_auths_timeout_fails_naming_the_url_without_its_query(
    sandbox: Sandbox, through: str
) -> None:
    # The sandbox answers a login only after a second; the auth allows 0.3 s in all.
    sandbox.teamup.config.login_delay = 1.0
    with requests.Session() as login_session:
        auth = PasswordAuth(
            QUERIED,
            DEMO_TEAMUP_USERNAME,
            DEMO_TEAMUP_PASSWORD,
            direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
            base_url=sandbox.teamup_url,
            token_store=MemoryTokenStore(),
            timeout=0.3,
            session=login_session if through == "session=" else None,
        )

        with pytest.raises(LoginError) as caught:
            auth.get_token()

    # The seconds are what was left of the 0.3 s when the call went out.
    pattern = (
        r"TeamUp login did not answer within (?P<seconds>[0-9.]+)s "
        + re.escape(f"({sandbox.teamup_url}{LOGIN_PATH}). ")
        + re.escape("Try again later or raise the auth's timeout=")
    )
    matched = re.fullmatch(pattern, str(caught.value))
    assert matched is not None, str(caught.value)
    assert 0.2 < float(matched["seconds"]) <= 0.3
    # The query string went to the vendor, but into no message.
    [login] = sandbox.received
    assert login.path == f"/teamup/api/v2{LOGIN_PATH}?format=json&return=/welcome?tab=home"
    assert auth.token is None


# -- a body with a position but no way back --------------------------------------------------------


class ProgressReader:
    """An upload wrapper that reports progress: it says where it stands, but has no seek."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(self._at + size, len(self._data))
        chunk, self._at = self._data[self._at : end], end
        return chunk

    def tell(self) -> int:
        return self._at

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(16):
            yield chunk


def test_a_body_with_a_position_but_no_seek_is_not_resent(sandbox: Sandbox) -> None:
    # requests notes where such a body starts (tell), but cannot put it back there.
    auth = teamup(sandbox)
    session = session_with(auth)
    assert session.get(sandbox.teamup_url + "/customers", timeout=5).status_code == 200
    old_token = auth.token
    sandbox.revoke_tokens("teamup")
    since = len(sandbox.received)

    with pytest.raises(BodyNotReplayable) as caught:
        session.put(sandbox.teamup_url + "/echo", data=ProgressReader(BODY), timeout=5)

    assert str(caught.value) == (
        "TeamUp rejected the token for PUT /teamup/api/v2/echo (HTTP 401); the token is "
        "renewed but this request's body is a stream that cannot be sent twice: send the "
        "request again"
    )
    assert caught.value.response is not None
    assert caught.value.response.status_code == 401
    # Uploaded once, whole; never a second, empty, upload.
    [upload] = received(sandbox, since, "/echo")
    assert (upload.method, upload.body) == ("PUT", BODY)
    assert auth.token is not None
    assert auth.token is not old_token
    assert sandbox.logins("teamup") == 2


# -- the resend, as an API node behind a load balancer answers it ---------------------------------

#: What the node answers ``/report`` with once it takes the token: big, no length, streamed.
REPORT = b"line of a long error report\n" * 4000

#: What the node refuses ``/refuses-at-length`` with the first time.
REFUSAL = b"This token is not known on node 2; see https://status.example/tokens\n" * 200


class Node:
    """A loopback API node (an allowed host of the auth) that records what it receives.

    ``/sticky`` answers 401 with a ``route`` cookie (a load balancer's sticky session)
    unless the request brings that cookie, then 200. ``/report`` answers 401 the first
    time, then 500 with :data:`REPORT`, sent without a length until the connection closes.
    ``/refuses`` always answers 401; ``/slow`` answers 200 half a second after it arrives.
    ``/refuses-at-length`` answers 401 with :data:`REFUSAL` (chunked, so of no told length)
    the first time, then 200. ``/broken`` answers as ``/report`` does the second time.
    ``HEAD`` and ``POST`` (with a ``Content-Length``) answer 200 to any path, token or not.
    ``/quiet-404`` answers 404 with no reason phrase and no body. ``/set-route`` answers
    200 with a ``route=node-1`` cookie. A ``POST`` under ``/no-reason/`` answers 500 with
    no reason phrase (a login endpoint answering so, when the auth's base URL points there).
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str]]] = []
        #: The client port of each request: which connection it came over.
        self.ports: list[int] = []
        #: Each HEAD and POST: method, path, lower-case headers, body.
        self.uploads: list[tuple[str, str, dict[str, str], bytes]] = []
        #: When (``time.time()``) each request to ``/slow`` arrived.
        self.slow_arrivals: list[float] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                node.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                node.ports.append(self.client_address[1])
                seen = sum(1 for path, _ in node.received if path == self.path)
                sticky = "route=node-2" in self.headers.get("Cookie", "")
                if self.path == "/refuses-at-length" and seen == 1:
                    self.send_response(401)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(REFUSAL), REFUSAL))
                elif self.path == "/set-route":
                    self._answer(200, b"{}", "route=node-1; Path=/")
                elif self.path == "/quiet-404":
                    self.send_response(404, "")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/slow":
                    node.slow_arrivals.append(time.time())
                    time.sleep(0.5)
                    self._answer(200, b"{}")
                elif urlsplit(self.path).path == "/refuses":
                    self._answer(401, b"{}")
                elif self.path == "/sticky" and not sticky:
                    self._answer(401, b"{}", "route=node-2; Path=/")
                elif self.path == "/report" and seen == 1:
                    self._answer(401, b"{}")
                elif self.path in ("/report", "/broken"):
                    self.send_response(500)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(REPORT)
                    self.close_connection = True
                else:
                    self._answer(200, b"{}")

            def do_HEAD(self) -> None:
                node.uploads.append((self.command, self.path, self._headers(), b""))
                self._answer(200, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                node.uploads.append((self.command, self.path, self._headers(), body))
                if self.path.startswith("/no-reason/"):
                    self.send_response(500, "")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                self._answer(200, b"{}")

            def _headers(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _answer(self, status: int, body: bytes, cookie: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if cookie:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def got(self, path: str) -> list[dict[str, str]]:
        return [headers for got, headers in self.received if got == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        join_all([self._thread], timeout=10)


@pytest.fixture
def node() -> Iterator[Node]:
    server = Node()
    yield server
    server.close()


def test_the_resend_carries_the_cookie_the_refusing_answer_set(
    sandbox: Sandbox, node: Node
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    first = auth.get_token()
    session = session_with(auth)

    response = session.get(node.url + "/sticky", timeout=5)

    assert response.status_code == 200
    assert auth.token is not None
    assert auth.token.access_token != first.access_token
    # The first try had no cookie and the old token; the resend both the cookie and the new one.
    assert [(h.get("cookie"), h["authorization"]) for h in node.got("/sticky")] == [
        (None, f"Bearer {first.access_token}"),
        ("route=node-2", f"Bearer {auth.token.access_token}"),
    ]
    assert session.cookies.get("route") == "node-2"


def test_the_resend_adds_the_refusals_cookie_to_those_the_request_carried(
    sandbox: Sandbox, node: Node
) -> None:
    """A Cookie header already on the request must not hide what the 401 set."""
    auth = teamup(sandbox, allowed_hosts=[node.url])
    first = auth.get_token()
    session = session_with(auth)
    session.cookies.set("theme", "dark")

    response = session.get(node.url + "/sticky", timeout=5)

    assert response.status_code == 200
    assert auth.token is not None
    assert [(h.get("cookie"), h["authorization"]) for h in node.got("/sticky")] == [
        ("theme=dark", f"Bearer {first.access_token}"),
        ("theme=dark; route=node-2", f"Bearer {auth.token.access_token}"),
    ]


def test_the_resend_keeps_the_callers_own_cookie_header_and_adds_the_refusals(
    sandbox: Sandbox, node: Node
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    first = auth.get_token()
    session = session_with(auth)

    response = session.get(node.url + "/sticky", headers={"Cookie": "csrf=abc"}, timeout=5)

    assert response.status_code == 200
    assert auth.token is not None
    assert [(h.get("cookie"), h["authorization"]) for h in node.got("/sticky")] == [
        ("csrf=abc", f"Bearer {first.access_token}"),
        ("csrf=abc; route=node-2", f"Bearer {auth.token.access_token}"),
    ]


def test_the_resend_carries_the_cookie_the_refusal_replaced_not_the_old_one_too(
    sandbox: Sandbox, node: Node
) -> None:
    """A Cookie header the session's jar built is built again from the jar: a cookie the
    401 replaced goes with its new value only, not beside the old one."""
    auth = teamup(sandbox, allowed_hosts=[node.url])
    first = auth.get_token()
    session = session_with(auth)
    assert session.get(node.url + "/set-route", timeout=5).status_code == 200

    response = session.get(node.url + "/sticky", timeout=5)

    assert response.status_code == 200
    assert auth.token is not None
    assert [(h.get("cookie"), h["authorization"]) for h in node.got("/sticky")] == [
        ("route=node-1", f"Bearer {first.access_token}"),
        ("route=node-2", f"Bearer {auth.token.access_token}"),
    ]


def test_a_request_prepared_by_hand_without_cookies_is_resent_after_the_renewal(
    sandbox: Sandbox, node: Node
) -> None:
    """A PreparedRequest built step by step (no prepare_cookies: it has no cookie jar)
    is still sent again with the new token; there are simply no cookies to carry."""
    auth = teamup(sandbox, allowed_hosts=[node.url])
    first = auth.get_token()
    prepared = requests.PreparedRequest()
    prepared.prepare_method("GET")
    prepared.prepare_url(node.url + "/refuses-at-length", None)
    prepared.prepare_headers({"Accept": "application/json"})
    prepared.prepare_body(None, None)
    prepared.prepare_auth(auth)
    with requests.Session() as session:
        response = session.send(prepared, timeout=5)

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert auth.token is not None
    assert [h["authorization"] for h in node.got("/refuses-at-length")] == [
        f"Bearer {first.access_token}",
        f"Bearer {auth.token.access_token}",
    ]
    assert all("cookie" not in h for h in node.got("/refuses-at-length"))


def test_a_streamed_error_answer_to_the_resend_is_left_for_the_caller_to_read(
    sandbox: Sandbox, node: Node
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    auth.get_token()
    session = session_with(auth)

    with session.get(node.url + "/report", stream=True, timeout=5) as response:
        assert response.status_code == 500
        assert [r.status_code for r in response.history] == [401]
        # Nothing of it was read before the caller: raw still holds all of it.
        assert response.raw.read() == REPORT
    assert len(node.got("/report")) == 2


def test_a_streamed_refusal_is_read_for_history_and_its_connection_reused(
    sandbox: Sandbox, node: Node
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    auth.get_token()
    session = session_with(auth)

    with session.get(node.url + "/refuses-at-length", stream=True, timeout=5) as response:
        assert response.status_code == 200
        [refused] = response.history
        # The refusal is kept whole for whoever debugs it ...
        assert refused.status_code == 401
        assert refused.content == REFUSAL
    # ... and its connection carried the resend.
    assert len(node.got("/refuses-at-length")) == 2
    first, second = node.ports
    assert first == second


@pytest.mark.parametrize(
    ("path", "history"), [("/broken", []), ("/report", [401])], ids=["first-answer", "resend"]
)
def test_a_streamed_error_answer_is_left_for_the_caller_to_read(
    sandbox: Sandbox, node: Node, path: str, history: list[int]
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    auth.get_token()
    session = session_with(auth)

    with session.get(node.url + path, stream=True, timeout=5) as response:
        assert response.status_code == 500
        assert [r.status_code for r in response.history] == history
        # Nothing of it was read before the caller: raw still holds all of it.
        assert response.raw.read() == REPORT
    assert len(node.got(path)) == len(history) + 1
    assert sandbox.logins("teamup") + sandbox.refreshes("teamup") == len(history) + 1


def test_a_token_refused_again_after_the_renewal_is_logged_and_not_retried(
    sandbox: Sandbox, node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    auth = teamup(sandbox, allowed_hosts=[node.url])
    auth.get_token()

    with caplog.at_level(logging.WARNING, logger="auth_plugins"):
        response = session_with(auth).get(node.url + "/refuses?page=2", timeout=5)

    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [401]
    assert len(node.got("/refuses?page=2")) == 2
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "auth_plugins",
            logging.WARNING,
            "teamup: API still answers HTTP 401 to GET /refuses with a fresh token; "
            "not retrying again",
        )
    ]


def up2money(sandbox: Sandbox, **kwargs: Any) -> Up2MoneyAuth:
    """An up2money auth (sliding-window tokens) with a store of its own."""
    return Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
        token_store=MemoryTokenStore(),
        **kwargs,
    )


def test_a_use_of_a_sliding_window_token_counts_from_when_the_request_was_sent(
    sandbox: Sandbox, node: Node
) -> None:
    auth = up2money(sandbox, allowed_hosts=[node.url])
    auth.get_token()
    before = time.time()

    response = session_with(auth).get(node.url + "/slow", timeout=5)

    assert response.status_code == 200
    [arrived] = node.slow_arrivals
    token = auth.token
    assert token is not None
    assert token.last_used is not None
    # Sent before it arrived; not when the answer came, half a second later.
    assert before <= token.last_used <= arrived + 0.1
    assert up2money_headers(node.got("/slow")[0]) == {
        "x-secret": DEMO_UP2MONEY_SECRET,
        "authorization-key": token.access_token,
    }


def test_the_answer_to_the_resend_is_a_use_of_a_sliding_window_token(sandbox: Sandbox) -> None:
    # up2money tokens die 300 s after their last use: the answered resend is a use.
    auth = up2money(sandbox)
    old = auth.get_token()
    sandbox.expire_tokens("up2money")
    before = time.time()

    response = session_with(auth).get(sandbox.up2money_url + "/managed_accounts", timeout=5)

    after = time.time()
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [410]
    token = auth.token
    assert token is not None
    assert token.access_token != old.access_token
    assert token.idle_timeout == 300
    assert token.last_used is not None
    assert before <= token.issued_at <= token.last_used <= after
    assert sandbox.logins("up2money") == 2


# -- a body that can be sent twice ---------------------------------------------------------------


def test_a_body_that_can_be_sent_twice_goes_out_as_it_is_before_the_first_login(
    sandbox: Sandbox,
) -> None:
    response = session_with(teamup(sandbox)).post(
        sandbox.teamup_url + "/echo", data=BODY, timeout=5
    )

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    # No HEAD first: the request itself went without a token, then again with one.
    assert [(r.method, r.body) for r in received(sandbox, 0, "/echo")] == [("POST", BODY)] * 2
    assert sandbox.logins("teamup") == 1


# -- the caller's timeout= on the login ------------------------------------------------------------


class SendRecordingAdapter(requests.adapters.HTTPAdapter):
    """A mounted adapter that notes how each request was sent: path, ``timeout``, ``stream``."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any, Any]] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        path = urlsplit(request.url or "").path.rsplit("/", 1)[-1]
        self.sent.append((path, kwargs.get("timeout"), kwargs.get("stream")))
        return super().send(request, **kwargs)


@pytest.mark.parametrize(
    ("caller", "auth_timeout", "connect", "read"),
    [
        ((2.0, 7.0), 30.0, (2.0, 2.0), (7.0, 7.0)),  # a (connect, read) pair, each kept
        (4.0, 30.0, (4.0, 4.0), (4.0, 4.0)),  # one number for both
        ((2.0, 7.0), 1.0, (0.5, 1.0), (0.5, 1.0)),  # no longer than the auth allows
        (None, 1.0, (0.5, 1.0), (0.5, 1.0)),  # none: the auth's time
    ],
    ids=["pair", "number", "pair-longer-than-the-auth", "none"],
)
def test_the_login_keeps_to_the_callers_timeout_within_the_auths(
    sandbox: Sandbox,
    caller: Any,
    auth_timeout: float,
    connect: tuple[float, float],
    read: tuple[float, float],
) -> None:
    adapter = SendRecordingAdapter()
    with requests.Session() as session:
        session.mount(sandbox.url, adapter)
        session.auth = teamup(sandbox, timeout=auth_timeout)

        response = session.get(sandbox.teamup_url + "/customers", timeout=caller)

    assert response.status_code == 200
    # The login asks for a streamed answer: it reads a bounded amount of it itself.
    assert [(path, stream) for path, _, stream in adapter.sent] == [
        ("customers", False),
        ("password_login", True),
        ("customers", False),
    ]
    api, login, resend = (timeout for _, timeout, _ in adapter.sent)
    assert api == resend == caller
    login_connect, login_read = login
    assert connect[0] <= login_connect <= connect[1]
    assert read[0] <= login_read <= read[1]


# -- what is and is not a reason to log in ---------------------------------------------------------


def test_an_error_that_is_not_about_the_token_sends_no_login(sandbox: Sandbox) -> None:
    auth = teamup(sandbox)
    auth.get_token()

    response = session_with(auth).get(sandbox.teamup_url + "/nowhere", timeout=5)

    assert response.status_code == 404
    assert response.history == []
    assert len(received(sandbox, 0, "/nowhere")) == 1
    assert sandbox.logins("teamup") == 1
    assert sandbox.refreshes("teamup") == 0


def test_a_held_back_body_is_sent_even_when_the_first_round_trip_was_answered(
    sandbox: Sandbox, node: Node
) -> None:
    # The HEAD went without a token and an endpoint answered it anyway: the request
    # itself (its body held back) has still to go, with a token.
    auth = teamup(sandbox, allowed_hosts=[node.url])

    response = session_with(auth).post(
        node.url + "/upload", data=StreamingIterator(len(BODY), pieces()), timeout=5
    )

    assert response.status_code == 200
    assert auth.token is not None
    assert [(m, path, h.get("authorization"), body) for m, path, h, body in node.uploads] == [
        ("HEAD", "/upload", None, b""),
        ("POST", "/upload", f"Bearer {auth.token.access_token}", BODY),
    ]
    assert sandbox.logins("teamup") == 1


def test_a_due_token_is_refreshed_through_session_before_the_request(sandbox: Sandbox) -> None:
    # Tokens live a second; a quarter of that before the end they are due for renewal.
    sandbox.teamup.config.expires_in = 1
    with requests.Session() as login_session:
        auth = teamup(sandbox, session=login_session)
        first = auth.get_token()
        time.sleep(0.8)

        response = requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=5)

    assert response.status_code == 200
    assert response.history == []
    assert auth.token is not None
    assert auth.token.access_token != first.access_token
    # Renewed with the refresh token, before the request went out: no second password login.
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (1, 1)
    [call] = received(sandbox, 0, "/customers")
    assert lower(call.headers)["authorization"] == f"Bearer {auth.token.access_token}"


def test_a_token_held_only_in_memory_is_refreshed_with_its_own_refresh_token(
    sandbox: Sandbox,
) -> None:
    """The store keeps nothing, so the due token in memory is the only one there is: the
    renewal before the request (through session=) refreshes it, no second password login.

    A tiny idle_timeout makes the token due as soon as any time has passed: no waiting.
    """
    with requests.Session() as login_session:
        auth = TeamUpAuth(
            DEMO_TEAMUP_USERNAME,
            DEMO_TEAMUP_PASSWORD,
            direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
            base_url=sandbox.teamup_url,
            token_store=KeepsNothingStore(),
            idle_timeout=1e-9,
            session=login_session,
        )
        first = auth.get_token()
        assert first.refresh_token

        response = requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=5)

    assert response.status_code == 200
    assert response.history == []
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (1, 1)
    assert auth.token is not None
    [call] = received(sandbox, 0, "/customers")
    assert lower(call.headers)["authorization"] == f"Bearer {auth.token.access_token}"


def with_login_answer_hook(seen: list[tuple[int, str, str]]) -> Any:
    """TeamUp, its login answers' status, reason and URL noted by its login_answer_hook."""
    own = TEAMUP.login_answer_hook

    def hook(data: Any, answer: Any) -> None:
        seen.append((answer.status, answer.reason, answer.url))
        if own is not None:
            own(data, answer)

    return dataclasses.replace(TEAMUP, login_answer_hook=hook)


@pytest.mark.parametrize("through", ["own-session", "request"])
def test_a_vendors_login_answer_hook_sees_the_login_path(sandbox: Sandbox, through: str) -> None:
    """A plugin vendor's hook reads the answer's URL (its path, no query) for its messages."""
    seen: list[tuple[int, str, str]] = []
    auth = PasswordAuth(
        with_login_answer_hook(seen),
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        token_store=MemoryTokenStore(),
    )
    if through == "request":
        assert requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=5).ok
    else:
        auth.get_token()
    assert seen == [(200, "OK", f"/teamup/api/v2{LOGIN_PATH}")]


def test_a_login_answer_without_a_reason_phrase_is_called_an_error(node: Node) -> None:
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=node.url + "/no-reason",
        token_store=MemoryTokenStore(),
    )
    with pytest.raises(LoginError) as caught:
        auth.get_token()
    # "HTTP 500 " and nothing after it would read as cut off.
    assert str(caught.value) == "TeamUp login failed: HTTP 500 error"
    assert caught.value.status == 500


def test_the_vendors_response_hook_sees_the_headers_of_a_success(sandbox: Sandbox) -> None:
    seen: list[tuple[int, str, bytes]] = []

    def hook(answer: Any) -> None:
        seen.append((answer.status_code, answer.headers.get("Content-Type", ""), answer.body))

    vendor = dataclasses.replace(TEAMUP, api_response_hook=hook)
    auth = PasswordAuth(
        vendor,
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        token_store=MemoryTokenStore(),
    )
    auth.get_token()

    response = session_with(auth).get(sandbox.teamup_url + "/customers", timeout=5)

    assert response.status_code == 200
    # Status and headers; a success's body is left unread for the caller.
    assert seen == [(200, response.headers["Content-Type"], b"")]
    assert response.headers["Content-Type"].startswith("application/json")


def test_the_vendors_response_hook_sees_what_an_error_said(sandbox: Sandbox, node: Node) -> None:
    seen: list[tuple[int, bytes, str, str]] = []

    def hook(answer: Any) -> None:
        seen.append((answer.status_code, answer.content, answer.reason, answer.url))

    vendor = dataclasses.replace(TEAMUP, api_response_hook=hook)
    auth = PasswordAuth(
        vendor,
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        token_store=MemoryTokenStore(),
        allowed_hosts=[node.url],
    )
    auth.get_token()
    session = session_with(auth)

    not_found = session.get(sandbox.teamup_url + "/nowhere?page=2", timeout=5)
    broken = session.get(node.url + "/broken", timeout=5)
    with session.get(node.url + "/broken", stream=True, timeout=5) as streamed:
        assert streamed.raw.read() == REPORT
    quiet = session.get(node.url + "/quiet-404", timeout=5)

    assert [r.status_code for r in (not_found, broken, streamed, quiet)] == [404, 500, 500, 404]
    assert seen == [
        (404, not_found.content, "Not Found", "/teamup/api/v2/nowhere"),
        # Read for the hook: requests reads it right after anyway, the caller not streaming.
        (500, REPORT, "Internal Server Error", "/broken"),
        # Streamed and of no told length: left unread for the caller.
        (500, b"", "Internal Server Error", "/broken"),
        (404, b"", "", "/quiet-404"),
    ]
    assert b"Not found." in not_found.content


def test_a_login_answer_of_exactly_the_size_limit_is_read_whole(sandbox: Sandbox) -> None:
    answer = b'{"access_token": "exact-size-token", "expires_in": 3600}'
    body = answer + b" " * (MAX_ANSWER_BYTES - len(answer))
    sandbox.script_login("teamup", 200, body, {"Content-Type": "application/json"})

    assert teamup(sandbox).get_token().access_token == "exact-size-token"
    assert len(body) == MAX_ANSWER_BYTES


class PlainFile:
    """An answer's ``raw`` as a plain file: ``read(n)`` and ``close()``, nothing more (no
    ``read1``, no connection or socket to reach), as urllib3 1.x and hand-made transports
    give it. Counts the bytes it hands out."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.taken = 0

    def read(self, amt: Any = None) -> bytes:
        chunk: bytes = self._raw.read(amt, decode_content=True)
        self.taken += len(chunk)
        return chunk

    def close(self) -> None:
        self._raw.close()


class PlainFileAdapter(requests.adapters.HTTPAdapter):
    """A mounted transport whose answers' ``raw`` is a :class:`PlainFile`; keeps each by path."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, PlainFile]] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = super().send(request, **kwargs)
        response.raw = PlainFile(response.raw)
        self.files.append((urlsplit(request.url or "").path.rsplit("/", 1)[-1], response.raw))
        return response


def test_a_login_over_a_transport_whose_answers_are_plain_files(sandbox: Sandbox) -> None:
    """The login over the caller's transport reads an answer that is a plain file (no
    ``read1``, no socket behind it) as the caller's own requests read it."""
    adapter = PlainFileAdapter()
    with requests.Session() as session:
        session.mount(sandbox.url, adapter)
        session.auth = teamup(sandbox)

        response = session.get(sandbox.teamup_url + "/customers", timeout=5)

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [path for path, _ in adapter.files] == ["customers", "password_login", "customers"]
    assert sandbox.logins("teamup") == 1


class ReplayAdapter(requests.adapters.HTTPAdapter):
    """A mounted transport that hands each answer over as an ``io.BytesIO`` of its decoded
    body, as a caching or replaying transport does: a file with ``read1``, not urllib3's."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = super().send(request, **kwargs)
        response.raw = io.BytesIO(response.raw.read(decode_content=True))
        return response


class ReadOnlyBody:
    """A body object with ``read`` only (no ``read1``), as some SDKs' stream objects are."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, amount: int = -1) -> bytes:
        return self._data.read(amount)

    @property
    def closed(self) -> bool:
        return self._data.closed

    def close(self) -> None:
        self._data.close()


class Urllib3OverReadOnlyBodyAdapter(requests.adapters.HTTPAdapter):
    """A mounted transport whose answers are urllib3 answers over a read-only body object,
    the body still gzip-compressed (urllib3 decodes it as it is read)."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = super().send(request, **kwargs)
        body = gzip.compress(response.raw.read(decode_content=True))
        headers = {**response.headers, "Content-Encoding": "gzip"}
        headers["Content-Length"] = str(len(body))
        raw = HTTPResponse(
            body=ReadOnlyBody(body),  # type: ignore[arg-type]  # any object with read()
            headers=headers,
            status=response.status_code,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


class InMemoryAdapter(requests.adapters.HTTPAdapter):
    """A mounted transport that builds each answer in memory, as hand-made transports and
    test doubles do: the body set as the Response's content, no file (``raw`` is None)."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = super().send(request, **kwargs)
        response._content = response.raw.read(decode_content=True)
        response.raw = self.file_left()
        return response

    def file_left(self) -> Any:
        """What is left as the answer's file: none here."""
        return None


class InMemoryKeepingAFileAdapter(InMemoryAdapter):
    def file_left(self) -> Any:
        """... or, as some do, an empty one."""
        return io.BytesIO(b"")


@pytest.mark.parametrize(
    "adapter",
    [ReplayAdapter, Urllib3OverReadOnlyBodyAdapter, InMemoryAdapter, InMemoryKeepingAFileAdapter],
)
def test_a_login_over_a_transport_whose_answers_are_not_urllib3_socket_answers(
    sandbox: Sandbox, adapter: type[requests.adapters.HTTPAdapter]
) -> None:
    """Each transport's answer is read as requests itself reads it. The login once failed on
    each: a replay's file read with urllib3's options (a TypeError); urllib3 over a body
    without ``read1`` read with it; an answer built in memory, with no file ("could not reach
    ... (AttributeError)") or an empty one (an empty body)."""
    with requests.Session() as session:
        session.mount(sandbox.url, adapter())
        session.auth = teamup(sandbox)

        response = session.get(sandbox.teamup_url + "/customers", timeout=5)

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert sandbox.logins("teamup") == 1


def test_an_oversized_login_answer_over_a_plain_file_transport_is_not_read_whole(
    sandbox: Sandbox,
) -> None:
    """A login answer far over the size limit, from a transport whose answers are plain
    files, is refused having taken little more than the limit from it: read whole, a
    huge (or endless, or inflating) answer would fill memory first."""
    body = b"{" + b" " * (16 * MAX_ANSWER_BYTES)
    sandbox.script_login("teamup", 200, body, {"Content-Type": "application/json"})
    adapter = PlainFileAdapter()
    with requests.Session() as session:
        session.mount(sandbox.url, adapter)
        session.auth = teamup(sandbox)

        with pytest.raises(LoginError, match="more than a login answer can be"):
            session.get(sandbox.teamup_url + "/customers", timeout=5)

    [login] = [file for path, file in adapter.files if path == "password_login"]
    assert MAX_ANSWER_BYTES < login.taken < 2 * MAX_ANSWER_BYTES


@pytest.mark.parametrize("extra", [0, 1])
def test_a_login_answer_built_in_memory_is_held_to_the_size_limit_exactly(
    sandbox: Sandbox, extra: int
) -> None:
    """An answer a transport built in memory is read from its content, up to the same limit
    as one off a socket: exactly the limit is read, one byte more is refused."""
    answer = b'{"access_token": "in-memory-token", "expires_in": 3600}'
    body = answer + b" " * (MAX_ANSWER_BYTES - len(answer) + extra)
    sandbox.script_login("teamup", 200, body, {"Content-Type": "application/json"})
    with requests.Session() as session:
        session.mount(sandbox.url, InMemoryAdapter())
        session.auth = auth = teamup(sandbox)
        if extra:
            with pytest.raises(LoginError, match="more than a login answer can be"):
                session.get(sandbox.teamup_url + "/customers", timeout=5)
        else:
            # The token was read and sent (the sandbox did not issue it: it refuses it).
            response = session.get(sandbox.teamup_url + "/customers", timeout=5)
            assert response.request.headers["Authorization"] == "Bearer in-memory-token"
            assert auth.get_token().access_token == "in-memory-token"


class SlowFile(PlainFile):
    """A plain file (no socket under it: a streaming replay, an SDK's body) that hands out
    a byte every 50 ms."""

    def read(self, amt: Any = None) -> bytes:
        time.sleep(0.05)
        return super().read(1)


class SlowFileAdapter(requests.adapters.HTTPAdapter):
    """A mounted transport whose login answers are :class:`SlowFile` s (the API's own
    answers, read by requests, are the caller's business)."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = super().send(request, **kwargs)
        if urlsplit(request.url or "").path.endswith("/password_login"):
            response.raw = SlowFile(response.raw)
        return response


def test_a_login_answer_from_a_file_with_no_socket_under_it_ends_with_its_time(
    sandbox: Sandbox,
) -> None:
    """No socket read can be held to the deadline: the time is checked between reads (the
    answer's 200-odd bytes at a byte every 50 ms would take over 10 s)."""
    with requests.Session() as session:
        session.mount(sandbox.url, SlowFileAdapter())
        session.auth = teamup(sandbox, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(LoginError, match="the answer came too slowly") as caught:
            session.get(sandbox.teamup_url + "/customers", timeout=5)
        waited = time.monotonic() - started
    assert caught.value.status == 200
    assert waited < 3.0  # generous: read whole it took over 10 s
