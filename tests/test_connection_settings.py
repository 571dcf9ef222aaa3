"""Logins travel like the caller's own requests: TLS trust, client certificates, proxies,
mounted adapters and timeouts, with a total deadline and a size limit of their own.

Every server here is real and on loopback: the sandbox over HTTPS with a CA made by
trustme, a forward proxy, a slow-drip server and a gzip bomb (tests/netservers.py).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import ssl
import time
import tracemalloc
from typing import Any, Callable

import httpx
import pytest
import requests
from netservers import (
    BombServer,
    ForwardProxy,
    HollowGzipServer,
    PausingServer,
    RecordDripServer,
    SlowDripServer,
)

from auth_plugins import LoginError, MemoryTokenStore, TeamUpAuth, Up2MoneyAuth
from auth_plugins.sandbox import (
    CLIENT_CERT_NAME,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

LOGIN_PATH = "/auth/password_login"


def teamup(base_url: str, **kwargs: Any) -> TeamUpAuth:
    return TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=base_url,
        **kwargs,
    )


def up2money(base_url: str, **kwargs: Any) -> Up2MoneyAuth:
    return Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL, DEMO_UP2MONEY_PASSWORD, secret=DEMO_UP2MONEY_SECRET, base_url=base_url
    )


def logins_received(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.received if LOGIN_PATH in r.path or r.path.endswith("/auth/login")]


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies come only from what each test sets."""
    # requests lets CURL_CA_BUNDLE / REQUESTS_CA_BUNDLE override a session's verify=.
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    for name in (*names, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# -- a private certificate authority ---------------------------------------------------


@pytest.fixture
def tls(auth_plugins_sandbox_tls: Sandbox) -> Sandbox:
    return auth_plugins_sandbox_tls


def test_session_verify_reaches_the_login(tls: Sandbox) -> None:
    with requests.Session() as session:
        session.verify = tls.ca_file
        session.auth = teamup(tls.teamup_url)
        for _ in range(3):
            assert session.get(tls.teamup_url + "/customers").status_code == 200
    assert tls.logins("teamup") == 1


def test_per_call_verify_reaches_the_login(tls: Sandbox) -> None:
    auth = up2money(tls.up2money_url)
    response = requests.get(tls.up2money_url + "/managed_accounts", auth=auth, verify=tls.ca_file)
    assert response.status_code == 200
    assert tls.logins("up2money") == 1


def test_requests_ca_bundle_reaches_a_login_made_outside_any_request(
    tls: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
    assert teamup(tls.teamup_url).get_token().access_token
    assert tls.logins("teamup") == 1


def test_an_unverified_certificate_is_a_clear_login_error(tls: Sandbox) -> None:
    auth = teamup(tls.teamup_url)
    with pytest.raises(LoginError) as caught:
        auth.get_token()
    message = str(caught.value)
    # Every way to trust the CA, spelled as the user types it (requests' and HTTPie's).
    hint = (
        "Trust its certificate authority: verify='ca.pem' on the session or the call, "
        "REQUESTS_CA_BUNDLE=ca.pem, or --verify=ca.pem in HTTPie"
    )
    assert caught.value.hint == hint
    assert message == (
        f"TeamUp login failed: the certificate of {tls.teamup_url}{LOGIN_PATH} could not be "
        f"verified. {hint}"
    )
    assert DEMO_TEAMUP_PASSWORD not in message
    assert DEMO_TEAMUP_DIRECT_AUTH_KEY not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert tls.logins("teamup") == 0


def test_the_login_uses_what_verified_the_api_call_not_a_default(tls: Sandbox) -> None:
    # After a first request through a session that trusts the CA, a renewal outside any
    # request (get_token after forget) still goes out the way that session's requests did.
    auth = teamup(tls.teamup_url)
    with requests.Session() as session:
        session.verify = tls.ca_file
        session.auth = auth
        assert session.get(tls.teamup_url + "/customers").status_code == 200
        auth.forget_token()
        assert auth.get_token().access_token
    assert tls.logins("teamup") == 2


# -- a client certificate --------------------------------------------------------------


def test_a_client_certificate_reaches_the_login() -> None:
    with Sandbox(tls=True, client_cert_required=True) as sandbox, requests.Session() as session:
        session.verify = sandbox.ca_file
        session.cert = sandbox.client_cert_file
        session.auth = teamup(sandbox.teamup_url)
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
        [login] = logins_received(sandbox)
        assert login.client_cert == CLIENT_CERT_NAME


# -- proxies -----------------------------------------------------------------------------


def test_session_proxies_carry_the_login(sandbox: Sandbox, forward_proxy: ForwardProxy) -> None:
    with requests.Session() as session:
        session.proxies = {"http": forward_proxy.url, "https": forward_proxy.url}
        session.auth = teamup(sandbox.teamup_url)
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    logins = [target for method, target in forward_proxy.seen if LOGIN_PATH in target]
    assert len(logins) == 1
    assert sandbox.logins("teamup") == 1


def test_https_proxy_from_the_environment_tunnels_the_login(
    tls: Sandbox, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    auth = up2money(tls.up2money_url)
    response = requests.get(tls.up2money_url + "/managed_accounts", auth=auth, verify=tls.ca_file)
    assert response.status_code == 200
    port = tls.up2money_url.split(":")[2].split("/")[0]
    # Every call (the first, the login, the resend) went through the tunnel: the proxy
    # cannot see paths inside TLS, only that each connection was made through it.
    assert ("CONNECT", f"127.0.0.1:{port}") in forward_proxy.seen
    assert tls.logins("up2money") == 1


def test_no_proxy_is_honoured_for_the_login(
    sandbox: Sandbox, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    response = requests.get(sandbox.teamup_url + "/customers", auth=teamup(sandbox.teamup_url))
    assert response.status_code == 200
    assert forward_proxy.seen == []


# -- a mounted adapter --------------------------------------------------------------------


class RecordingAdapter(requests.adapters.HTTPAdapter):
    """The kind of adapter people mount: retries, an SSL context, a test double."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.sent.append((request.method or "", request.url or ""))
        return super().send(request, **kwargs)


def test_a_mounted_adapter_sends_the_login(sandbox: Sandbox) -> None:
    adapter = RecordingAdapter()
    with requests.Session() as session:
        session.mount(sandbox.url, adapter)
        session.auth = teamup(sandbox.teamup_url)
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    methods = [(method, url.split("?")[0].rsplit("/", 1)[-1]) for method, url in adapter.sent]
    assert methods == [
        ("GET", "customers"),  # the first request: no token yet
        ("POST", "password_login"),  # the login, through the caller's adapter
        ("GET", "customers"),  # the same request again, with the token
        ("GET", "customers"),
    ]


def test_a_body_that_cannot_be_sent_twice_is_held_back_until_the_login(sandbox: Sandbox) -> None:
    chunks = [b'{"name": ', b'"streamed"}']
    auth = teamup(sandbox.teamup_url)
    response = requests.post(sandbox.teamup_url + "/echo", data=iter(chunks), auth=auth)
    assert response.status_code == 200
    # The first round trip was a HEAD; the body went once, whole, with the token.
    echoed = [r for r in sandbox.received if r.path.endswith("/echo")]
    assert [r.method for r in echoed] == ["HEAD", "POST"]
    assert echoed[1].body == b"".join(chunks)
    assert sandbox.logins("teamup") == 1


# -- deadlines and sizes ------------------------------------------------------------------


def test_a_slow_drip_login_ends_within_the_total_deadline(
    slow_drip_server: SlowDripServer,
) -> None:
    # One byte a second: each read is quick, so only a deadline for the whole answer helps.
    auth = teamup(slow_drip_server.url, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(LoginError, match="within 2s"):
        auth.get_token()
    # The body alone would take 600 s; the deadline cut it at about 2 s, well before the
    # server hangs up (10 s), which a client without the deadline would wait for.
    assert time.monotonic() - started < 9


def test_the_callers_timeout_applies_to_login_calls(sandbox: Sandbox) -> None:
    # The auth would allow 30 s for a login; the caller's own timeout= asks for 0.5 s a read.
    sandbox.teamup.config.login_delay = 5.0
    auth = teamup(sandbox.teamup_url)
    started = time.monotonic()
    with pytest.raises(LoginError) as caught:
        requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=0.5)
    assert time.monotonic() - started < 5.0
    assert sandbox.login_attempts("teamup") == 1
    # The request's own limit ran out, not the auth's 30 s: the message names it.
    assert str(caught.value) == (
        "TeamUp login did not answer within 0.5s, the timeout= of the request it serves "
        f"({sandbox.teamup_url}/auth/password_login). "
        "Try again later or raise that request's timeout="
    )


def test_a_login_ended_by_the_read_limit_of_the_callers_pair_names_that_limit(
    sandbox: Sandbox,
) -> None:
    """Of a (connect, read) pair both shorter than the auth's time, the one that ran out
    is named: a stalled answer is the read limit's doing, not the connect limit's."""
    sandbox.teamup.config.login_delay = 3.0
    auth = teamup(sandbox.teamup_url, timeout=6.0, token_store=MemoryTokenStore())
    with pytest.raises(LoginError) as caught:
        requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=(0.25, 0.5))
    assert str(caught.value) == (
        "TeamUp login did not answer within 0.5s, the timeout= of the request it serves "
        f"({sandbox.teamup_url}{LOGIN_PATH}). Try again later or raise that request's timeout="
    )
    assert sandbox.login_attempts("teamup") == 1


def test_a_login_ended_by_the_auths_time_names_it_though_the_connect_limit_is_shorter(
    sandbox: Sandbox,
) -> None:
    """The request's connect limit (0.25 s) is shorter than the auth's 0.5 s, but the wait
    that ran out was the read, which the auth's time bounded: the advice is the auth's."""
    sandbox.teamup.config.login_delay = 3.0
    auth = teamup(sandbox.teamup_url, timeout=0.5, token_store=MemoryTokenStore())
    with pytest.raises(LoginError) as caught:
        requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=(0.25, 30))
    pattern = (
        r"TeamUp login did not answer within 0\.[345]\d*s "
        + re.escape(f"({sandbox.teamup_url}{LOGIN_PATH}). ")
        + re.escape("Try again later or raise the auth's timeout=")
    )
    assert re.fullmatch(pattern, str(caught.value)), str(caught.value)
    assert caught.value.hint == "Try again later or raise the auth's timeout="


def test_a_login_that_reaches_no_server_says_so_and_what_to_check() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    auth = teamup(base_url, token_store=MemoryTokenStore())
    with pytest.raises(LoginError) as caught:
        auth.get_token()
    # requests' own exception type is named (not the secret-holding exception itself).
    assert str(caught.value) == (
        f"TeamUp login failed: could not reach {base_url}{LOGIN_PATH} (ConnectionError). "
        "Check the base URL and the network"
    )
    assert caught.value.hint == "Check the base URL and the network"
    assert caught.value.__context__ is None


def test_the_login_answers_body_may_take_the_auths_time_left_not_only_the_read_limit() -> None:
    """The request's read limit (0.2 s) bounds the wait for the login answer to begin; its
    body is then read within what is left of the auth's 5 s, each read waiting that long:
    a pause of 0.6 s halfway through the answer is waited out.

    The answer closes its connection: http.client hands the socket over to the answer, and
    the time left must be set on it there (it was once left at the read limit).
    """
    with PausingServer(pause=0.6) as server:
        auth = teamup(server.url, timeout=5.0, token_store=MemoryTokenStore())
        response = requests.get(server.url + "/customers", auth=auth, timeout=(5, 0.2))
    assert response.status_code == 401  # this server refuses every token
    assert auth.token is not None
    assert auth.token.access_token == "drip-token"


def assert_too_slow_after_half_a_second(error: LoginError, base_url: str) -> None:
    """``error`` is the too-slow error of a TeamUp login at ``base_url`` given 0.5 s (the
    figure it names is the time left when the reading began)."""
    pattern = (
        r"TeamUp login did not finish within 0\.[345]\d*s: the answer came too slowly "
        + re.escape(f"({base_url}{LOGIN_PATH}). ")
        + re.escape("Try again later or raise the auth's timeout=")
    )
    assert re.fullmatch(pattern, str(error)), str(error)
    assert error.status == 200


def test_a_login_answer_that_breaks_off_says_so_not_that_the_server_was_unreachable() -> None:
    """Half the body, then the connection closes: the server was reached and answered, so
    the error says the answer broke off (it said "could not reach", sending the user to
    check the URL)."""
    with PausingServer(pause=0.05, close=True) as server:
        auth = teamup(server.url, timeout=5.0, token_store=MemoryTokenStore())
        with pytest.raises(LoginError) as caught:
            auth.get_token()
    assert str(caught.value) == (
        "TeamUp login answered HTTP 200, but its body could not be read whole (ProtocolError) "
        f"({server.url}{LOGIN_PATH}). Try again later; if it goes on, the server or something "
        "between (a proxy) breaks its answers"
    )
    assert caught.value.status == 200


def test_a_login_answer_stalled_halfway_is_given_up_when_the_time_is_over() -> None:
    """A read of the body waits no longer than the time left: the stall ends as too slow,
    not when the server (2 s later) gives up and drops the connection."""
    with PausingServer(pause=2.0, close=True) as server:
        auth = teamup(server.url, timeout=0.5, token_store=MemoryTokenStore())
        with pytest.raises(LoginError) as caught:
            auth.get_token()
    assert_too_slow_after_half_a_second(caught.value, server.url)


def test_a_login_answers_body_gets_what_is_left_of_the_time_its_head_did_not_take() -> None:
    """The auth's time bounds the whole call: a head that came after 0.8 s of 1 s leaves
    0.2 s for the body, not another whole second (the body's clock once started at the head,
    so a stalled body ended the login after almost twice its time)."""
    with PausingServer(pause=5.0, close=True, delay=0.8) as server:
        auth = teamup(server.url, timeout=1.0, token_store=MemoryTokenStore())
        started = time.monotonic()
        with pytest.raises(LoginError) as caught:
            auth.get_token()
        waited = time.monotonic() - started
    # The figure is what was left of the 1 s when the login call began.
    assert re.match(
        r"TeamUp login did not finish within (?:1|0\.9\d*)s: the answer came", str(caught.value)
    ), str(caught.value)
    assert waited < 1.5  # generous: the bug waited 1.8 s


def test_an_answer_slower_than_the_time_left_is_too_slow_not_unreachable(
    slow_drip_server: SlowDripServer,
) -> None:
    """A read the time left cuts short (0.5 s of a 1 s drip) is the too-slow error."""
    auth = teamup(slow_drip_server.url, timeout=0.5)
    with pytest.raises(LoginError) as caught:
        auth.get_token()
    assert_too_slow_after_half_a_second(caught.value, slow_drip_server.url)


def test_a_gzip_answer_that_inflates_to_nothing_slowly_is_too_slow() -> None:
    """An empty deflate block every 0.05 s: no read of the decoded body ever returns (urllib3
    reads on until something inflates), so only a limit on each socket read ends it (a
    timeout set before each read of the body was waited afresh for every 5 bytes)."""
    with HollowGzipServer(interval=0.05) as server:
        auth = teamup(server.url, timeout=0.5, token_store=MemoryTokenStore())
        with pytest.raises(LoginError) as caught:
            auth.get_token()
    assert_too_slow_after_half_a_second(caught.value, server.url)


@pytest.mark.parametrize(
    ("content", "decoded"),
    [
        pytest.param(b"", "", id="nothing decoded"),
        # Two whole 8 KiB pieces were decoded when the limit cut it: not a byte more.
        pytest.param(b"{" + b" " * 19_999, "more than 16384 bytes, ", id="20000 bytes first"),
    ],
)
def test_an_endless_gzip_answer_that_inflates_to_nothing_is_read_no_further_than_a_limit(
    content: bytes, decoded: str
) -> None:
    """Empty deflate blocks back to back (after ``content``): nothing they decode ever counts
    toward the size limit, so the bytes on the wire are limited too (the login once took in
    hundreds of MiB a second until its 5 s were over, then said the answer came too slowly).
    The core then describes what was decoded by the time the limit cut it."""
    with HollowGzipServer(interval=0, blocks=2_000, content=content) as server:
        auth = teamup(server.url, timeout=5.0, token_store=MemoryTokenStore())
        with pytest.raises(LoginError) as caught:
            auth.get_token()
    assert str(caught.value).startswith(
        f"TeamUp login answered HTTP 200 with application/json ({decoded}more than a login "
        "answer can be), not the JSON"
    ), str(caught.value)


def test_a_gzip_encoded_login_answer_is_decoded(sandbox: Sandbox) -> None:
    """A login answer the server compressed (Content-Encoding: gzip) is read as JSON."""
    answer = json.dumps({"access_token": "gzipped-token", "expires_in": 3600}).encode()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    sandbox.script_login("teamup", 200, gzip.compress(answer), headers)
    auth = teamup(sandbox.teamup_url, token_store=MemoryTokenStore())
    assert auth.get_token().access_token == "gzipped-token"


@pytest.mark.parametrize("kind", ["gzip", "plain"])
def test_an_oversized_login_answer_is_refused_without_reading_it(
    bomb_server: BombServer, kind: str
) -> None:
    base_url = bomb_server.gzip_url if kind == "gzip" else bomb_server.plain_url
    auth = teamup(base_url.rstrip("/"))
    tracemalloc.start()
    try:
        with pytest.raises(LoginError, match="more than"):
            auth.get_token()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 1 GiB inflated (or 50 MiB plain) would be; a few MiB of buffers at most is.
    assert peak < 16 * 1024 * 1024


# -- what the auth objects hold --------------------------------------------------------------


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_descriptors_follow_connections_not_auth_objects(sandbox: Sandbox) -> None:
    sandbox.teamup.config.rate_limit_per_minute = 10_000
    # A store each: every auth object logs in on its own (the worst case for sockets).
    make: Callable[[int], TeamUpAuth] = lambda _: teamup(  # noqa: E731
        sandbox.teamup_url, token_store=MemoryTokenStore()
    )
    with requests.Session() as session:
        session.get(sandbox.url + "/_sandbox/stats")  # the session's one connection, open
        before = open_descriptors()
        auths = [make(n) for n in range(300)]
        for auth in auths:
            assert session.get(sandbox.teamup_url + "/customers", auth=auth).status_code == 200
        after = open_descriptors()
    assert sandbox.logins("teamup") == 300
    # 300 logins on the session's own pool: no socket per auth object.
    assert after - before < 10


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate for 127.0.0.1, and the file of its CA."""
    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("private-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, str(ca_file)


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_a_login_through_an_https_proxy_ends_when_its_time_is_over(
    private_ca: tuple[ssl.SSLContext, str], client: str
) -> None:
    """TLS in TLS: one read of the login's TLS is as many reads of the proxy's socket as
    a record takes, and each waited the whole time left at its start; a record whose bytes
    came every 20 ms kept a login of 1 s going for 7 s (urllib3's SSLTransport, httpcore's
    TLSinTLSStream)."""
    context, ca_file = private_ca
    with RecordDripServer(context) as server, ForwardProxy(tls=context) as proxy:

        def log_in() -> None:
            if client == "requests":
                with requests.Session() as session:
                    session.verify = ca_file
                    session.proxies = {"https": proxy.url}
                    teamup(server.url, timeout=1.0, session=session).get_token()
                return
            trust = ssl.create_default_context(cafile=ca_file)
            through = httpx.Proxy(proxy.url, ssl_context=trust)
            with httpx.Client(proxy=through, verify=trust, timeout=10.0) as httpx_client:
                teamup(server.url, timeout=1.0).get_token(client=httpx_client)

        started = time.monotonic()
        with pytest.raises(LoginError) as caught:
            log_in()
        waited = time.monotonic() - started
    assert re.match(  # the figure: what was left of the 1 s when the login call began
        r"TeamUp login did not finish within (?:1|0\.9\d*)s: the answer came too slowly",
        str(caught.value),
    ), str(caught.value)
    assert proxy.seen == [("CONNECT", server.url.split("//")[1])]
    assert waited < 4.0  # generous: the bug waited 7 s


def test_a_stalled_tls_handshake_names_the_requests_connect_limit(sandbox: Sandbox) -> None:
    """urllib3 calls a handshake that never ends a read timeout; the limit that ran out is
    the request's connect one, and the message says so."""
    with socket.socket() as listener:  # accepts, then never says a word of TLS
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        auth = teamup(url, timeout=3.0, allowed_hosts=[sandbox.url])
        with pytest.raises(LoginError) as caught:
            requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=(0.5, 10))
    assert str(caught.value) == (
        "TeamUp login did not answer within 0.5s, the timeout= of the request it serves "
        f"({url}/auth/password_login). Try again later or raise that request's timeout="
    )
