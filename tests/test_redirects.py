"""Credentials stay with the vendor: redirects, other hosts and plain http.

"Another host" is a tiny recording server on another loopback port, reached
as ``127.0.0.1`` (same host, other port) or ``localhost`` (other host name).
Every test sends real requests: the sandbox's ``/redirect?to=`` answers the
redirect, and the recorder shows exactly which headers arrived.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from helpers import VendorAuth, join_all, session_with, vendor_url

from auth_plugins import ConfigError, PasswordAuth, TeamUpAuth, Up2MoneyAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

#: Every header either vendor's auth can add (TeamUp's optional ones included).
AUTH_HEADERS = (
    "authorization",
    "teamup-provider-id",
    "teamup-request-mode",
    "x-secret",
    "authorization-key",
)


class Received(NamedTuple):
    path: str
    headers: dict[str, str]


class Recorder:
    """A loopback HTTP server that records each request's path and headers.

    ``/bounce?to=URL`` redirects to URL; ``/reject-then-bounce?to=URL`` answers
    401 the first time and redirects after that; ``/unauthorized`` always
    answers 401; anything else answers 200 ``{}``.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.received.append(Received(self.path, headers))
                route = urlsplit(self.path)
                target = parse_qs(route.query).get("to", [""])[0]
                seen = sum(1 for r in recorder.received if r.path == self.path)
                if route.path == "/unauthorized" or (
                    route.path == "/reject-then-bounce" and seen == 1
                ):
                    self._answer(401)
                elif route.path in ("/bounce", "/reject-then-bounce"):
                    self._answer(302, target)
                else:
                    self._answer(200)

            def _answer(self, status: int, location: str = "") -> None:
                body = b"{}"
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # A short poll keeps teardown fast (shutdown waits for the loop to notice).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def got(self, path: str) -> list[dict[str, str]]:
        """The headers of each request received for ``path`` (query string included)."""
        return [r.headers for r in self.received if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        join_all([self._thread], timeout=10)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def teamup_auth(teamup_auth: Callable[..., TeamUpAuth]) -> Callable[..., TeamUpAuth]:
    """In this module TeamUp auths send TeamUp's optional headers too.

    Every header a vendor declares must be stripped, so every one is sent. This
    overrides conftest's ``teamup_auth``, so ``vendor_auth("teamup")`` sends them too.
    """
    return functools.partial(teamup_auth, provider_id="1", request_mode="customer")


@pytest.fixture
def second_recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def auth_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in AUTH_HEADERS}


def redirect(base: str, to: str, status: int = 302) -> str:
    return f"{base}/redirect?status={status}&to={quote(to, safe='')}"


def expected_headers(auth: PasswordAuth) -> dict[str, str]:
    token = auth.token
    assert token is not None
    return {k.lower(): v for k, v in auth._headers_for(token).items()}


VENDORS = ["teamup", "up2money"]


# -- redirects ---------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["other-host", "other-port"])
@pytest.mark.parametrize("status", [302, 307])
def test_redirect_to_another_origin_carries_no_auth_header(
    sandbox: Sandbox,
    vendor_auth: VendorAuth,
    recorder: Recorder,
    vendor: str,
    host: str,
    status: int,
) -> None:
    auth = vendor_auth(vendor)
    auth.get_token()  # a token in hand: these tests are about where it goes
    session = session_with(auth)

    response = session.get(
        redirect(vendor_url(sandbox, vendor), recorder.url(host) + "/landing", status)
    )

    assert response.status_code == 200
    assert response.history[0].status_code == status
    # The vendor got every header (so there was something to strip) ...
    sent_to_vendor = {k.lower() for k in sandbox.received[-1].headers}
    assert set(expected_headers(auth)) <= sent_to_vendor
    assert len(expected_headers(auth)) == (3 if vendor == "teamup" else 2)
    # ... and the other origin none of them: requests alone would forward x-secret,
    # Authorization-key and TeamUp's extra headers (it strips only Authorization).
    [landing] = recorder.got("/landing")
    assert auth_headers(landing) == {}


@pytest.mark.parametrize("vendor", VENDORS)
def test_redirect_to_another_scheme_carries_no_auth_header(
    sandbox: Sandbox, vendor_auth: VendorAuth, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    auth.get_token()  # a token in hand: these tests are about where it goes
    session = session_with(auth)
    base = vendor_url(sandbox, vendor)
    # Same host and port, https instead of http. requests keeps Authorization on an
    # http -> https "upgrade"; the hop is inspected unsent (nothing speaks TLS here).
    https_target = base.replace("http://", "https://", 1) + "/echo"

    response = session.get(redirect(base, https_target), allow_redirects=False)
    assert response.next is not None
    assert auth_headers(dict(response.next.headers)) == {}

    # The same redirect within the origin keeps them: the check above is not vacuous.
    response = session.get(redirect(base, base + "/echo"), allow_redirects=False)
    assert response.next is not None
    assert {k.lower(): v for k, v in auth_headers(dict(response.next.headers)).items()} == (
        expected_headers(auth)
    )


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_same_origin_redirect_keeps_the_auth_headers(
    sandbox: Sandbox, vendor_auth: VendorAuth, vendor: str, relative: bool
) -> None:
    auth = vendor_auth(vendor)
    auth.get_token()  # a token in hand: these tests are about where it goes
    base = vendor_url(sandbox, vendor)
    target = urlsplit(base).path + "/echo" if relative else base + "/echo"

    response = session_with(auth).get(redirect(base, target))

    assert response.status_code == 200, response.text
    echoed = {k.lower(): v for k, v in response.json()["headers"].items()}
    assert auth_headers(echoed) == expected_headers(auth)


@pytest.mark.parametrize("vendor", VENDORS)
def test_headers_come_back_when_a_redirect_returns_to_the_vendor(
    sandbox: Sandbox, vendor_auth: VendorAuth, recorder: Recorder, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    auth.get_token()  # a token in hand: these tests are about where it goes
    base = vendor_url(sandbox, vendor)
    bounce = f"/bounce?to={quote(base + '/echo', safe='')}"

    response = session_with(auth).get(redirect(base, recorder.url("localhost") + bounce))

    assert response.status_code == 200, response.text
    assert [auth_headers(h) for h in recorder.got(bounce)] == [{}]
    echoed = {k.lower(): v for k, v in response.json()["headers"].items()}
    assert auth_headers(echoed) == expected_headers(auth)


@pytest.mark.parametrize("vendor", VENDORS)
def test_redirect_after_a_relogin_carries_the_new_token(
    sandbox: Sandbox, vendor_auth: VendorAuth, recorder: Recorder, vendor: str
) -> None:
    # The recorder is an allowed host that rejects the first token, then redirects
    # within its origin: requests builds that hop from the original request object.
    auth = vendor_auth(vendor, allowed_hosts=[recorder.url()])
    auth.get_token()  # a token in hand: these tests are about where it goes
    session = session_with(auth)
    assert session.get(vendor_url(sandbox, vendor) + "/echo").status_code == 200
    first = expected_headers(auth)
    path = f"/reject-then-bounce?to={quote(recorder.url() + '/landing', safe='')}"

    response = session.get(recorder.url() + path)

    assert response.status_code == 200
    renewed = expected_headers(auth)
    assert renewed != first
    # The old token, then the new one on the resend ...
    assert [auth_headers(h) for h in recorder.got(path)] == [first, renewed]
    # ... and the new one, not the rejected one, on the redirect that followed.
    [landing] = recorder.got("/landing")
    assert auth_headers(landing) == renewed


@pytest.mark.parametrize("vendor", VENDORS)
def test_redirect_after_a_relogin_to_another_origin_carries_no_auth_header(
    sandbox: Sandbox, vendor_auth: VendorAuth, recorder: Recorder, vendor: str
) -> None:
    auth = vendor_auth(vendor, allowed_hosts=[recorder.url()])
    auth.get_token()  # a token in hand: these tests are about where it goes
    # Allowed is http://127.0.0.1:PORT only; localhost:PORT is another origin.
    path = f"/reject-then-bounce?to={quote(recorder.url('localhost') + '/landing', safe='')}"

    response = session_with(auth).get(recorder.url() + path)

    assert response.status_code == 200
    assert [len(auth_headers(h)) > 0 for h in recorder.got(path)] == [True, True]
    [landing] = recorder.got("/landing")
    assert auth_headers(landing) == {}


def test_httpie_follow_strips_up2money_headers_on_another_host(
    sandbox: Sandbox, recorder: Recorder
) -> None:
    http = Path(sys.executable).with_name("http")
    env = {
        **os.environ,
        "UP2MONEY_SECRET": DEMO_UP2MONEY_SECRET,
        "UP2MONEY_BASE_URL": sandbox.up2money_url,
    }
    url = redirect(sandbox.up2money_url, recorder.url("localhost") + "/landing")

    result = subprocess.run(
        [
            str(http),
            "--ignore-stdin",
            "--follow",
            "--check-status",
            "--print=h",
            "--auth-type=up2money",
            f"--auth={DEMO_UP2MONEY_EMAIL}:{DEMO_UP2MONEY_PASSWORD}",
            "GET",
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    redirected = [r for r in sandbox.received if "/redirect" in r.path]
    assert {"x-secret", "authorization-key"} <= {k.lower() for k in redirected[-1].headers}
    [landing] = recorder.got("/landing")
    assert auth_headers(landing) == {}


# -- which hosts get the token --------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda url: TeamUpAuth(
            DEMO_TEAMUP_USERNAME,
            DEMO_TEAMUP_PASSWORD,
            direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
            base_url=url,
        ),
        lambda url: Up2MoneyAuth(
            DEMO_UP2MONEY_EMAIL, DEMO_UP2MONEY_PASSWORD, secret=DEMO_UP2MONEY_SECRET, base_url=url
        ),
    ],
    ids=VENDORS,
)
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(
    make: Callable[[str], PasswordAuth],
) -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing answers there, so a
    # connection attempt would show up as a LoginError after a timeout, not this.
    with pytest.raises(ConfigError) as caught:
        make("http://192.0.2.10/api")
    message = str(caught.value)
    assert "plain http" in message
    assert "https://" in message
    assert "_BASE_URL" in message


def test_plain_http_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMUP_BASE_URL", "http://api.example.com/api/v2")
    with pytest.raises(ConfigError, match="TEAMUP_BASE_URL"):
        TeamUpAuth(
            DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD, direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY
        )


@pytest.mark.parametrize(
    "url", ["http://localhost:9/x", "http://127.0.0.9:9/x", "http://[::1]:9/x", "https://x.example"]
)
def test_plain_http_to_loopback_and_https_anywhere_are_accepted(url: str) -> None:
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=url,
    )
    assert auth.base_url == url


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_request_to_another_host_goes_out_without_tokens(
    sandbox: Sandbox, vendor_auth: VendorAuth, recorder: Recorder, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    session = session_with(auth)

    assert session.get(recorder.url() + "/elsewhere").status_code == 200

    [elsewhere] = recorder.got("/elsewhere")
    assert auth_headers(elsewhere) == {}
    # Not even a login: the token was never needed.
    assert sandbox.login_attempts(vendor) == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_allowed_hosts_widen_where_the_token_goes(
    sandbox: Sandbox,
    vendor_auth: VendorAuth,
    recorder: Recorder,
    second_recorder: Recorder,
    vendor: str,
) -> None:
    # A bare host name allows every port of it; an origin only that origin.
    auth = vendor_auth(vendor, allowed_hosts=["LOCALHOST", second_recorder.url()])
    auth.get_token()  # a token in hand: these tests are about where it goes
    session = session_with(auth)

    for url in (
        recorder.url("localhost") + "/by-host",
        second_recorder.url() + "/by-origin",
        recorder.url() + "/not-allowed",
    ):
        assert session.get(url).status_code == 200

    expected = expected_headers(auth)
    [by_host] = recorder.got("/by-host")
    [by_origin] = second_recorder.got("/by-origin")
    [not_allowed] = recorder.got("/not-allowed")
    assert auth_headers(by_host) == expected
    assert auth_headers(by_origin) == expected
    assert auth_headers(not_allowed) == {}
    # The allowed origin's scheme counts too (checked unsent: nothing here speaks TLS).
    https_url = second_recorder.url().replace("http:", "https:") + "/x"
    assert auth_headers(dict(auth(requests.Request("GET", https_url).prepare()).headers)) == {}


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_401_from_another_host_triggers_no_relogin(
    sandbox: Sandbox, vendor_auth: VendorAuth, recorder: Recorder, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    auth.get_token()  # a token in hand: these tests are about where it goes
    session = session_with(auth)
    base = vendor_url(sandbox, vendor)
    assert session.get(base + "/echo").status_code == 200
    token = auth.token

    # Reached through a redirect from the vendor, so the auth's hook sees the 401.
    response = session.get(redirect(base, recorder.url("localhost") + "/unauthorized"))

    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [302]
    # Asked once, with no token, and not asked again with a renewed one.
    assert [auth_headers(h) for h in recorder.got("/unauthorized")] == [{}]
    assert sandbox.login_attempts(vendor) == 1
    assert sandbox.refreshes(vendor) == 0
    assert auth.token is token
