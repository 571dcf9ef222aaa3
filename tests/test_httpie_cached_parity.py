"""The cached-token path of the HTTPie plugin against the full auth, scenario by scenario.

Each test runs the same HTTPie command twice in the same state: with the cached
path (:mod:`auth_plugins.adapters.httpie_cached`) and with it switched off, so
that the full auth decides. What the user sees and what reaches the network
must be the same. The scenarios come from an attack on the cached path: the
first three groups are the differences it found (now fixed), the rest what it
tried that behaved the same.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import pytest
from test_httpie import error_lines, httpie
from test_redirects import (
    Recorder,
    recorder,  # noqa: F401  (the fixture)
    redirect,
)
from test_secret_cli import vendor_settings  # noqa: F401  (autouse: the sandbox's settings)

from auth_plugins import ConfigError, FileTokenStore, TeamUpAuth, Token
from auth_plugins.adapters import httpie_cached
from auth_plugins.sandbox import DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_USERNAME, Sandbox
from auth_plugins.stores import TokenKey

TEAMUP_USER = f"{DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}"
NAMES = ("authorization", "teamup-provider-id", "teamup-request-mode")


def slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the full auth decides every request (what the cached path must match)."""
    monkeypatch.setattr(httpie_cached, "cached_headers", lambda *args, **kwargs: None)


def log_in(sandbox: Sandbox) -> str:
    url = f"{sandbox.teamup_url}/customers"
    status, _stdout, stderr = httpie("--check-status", "-A", "teamup", "-a", TEAMUP_USER, url)
    assert status == 0, stderr
    return url


def save_token(base_url: str, user: str, access_token: str) -> None:
    FileTokenStore().save(
        TokenKey("teamup", base_url, user),
        Token(access_token=access_token, expires_at=time.time() + 3600),
    )


Seen = list[tuple[str, dict[str, str]]]
Outcome = tuple[int, str, list[str], Seen, list[str]]


def tail(sandbox: Sandbox, before: int) -> Seen:
    return [
        (r.path, {k.lower(): v for k, v in r.headers.items() if k.lower() in NAMES})
        for r in sandbox.received[before:]
    ]


def both(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    setup: Optional[Callable[[], object]] = None,
) -> tuple[Outcome, Outcome]:
    """``http ARGS`` with the cached path, then without: (status, stdout, error lines,
    requests the sandbox received with their auth headers, warnings)."""
    results = []
    for slow in (False, True):
        # Each run starts from the same state: no refused login remembered by the first.
        for leftover in Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).glob("*.*"):
            if leftover.suffix in (".failure", ".attempts"):
                leftover.unlink()
        if setup:
            setup()
        if slow:
            slow_path(monkeypatch)
        before = len(sandbox.received)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, stdout, stderr = httpie(*args)
        results.append(
            (
                status,
                stdout,
                error_lines(stderr),
                tail(sandbox, before),
                [str(w.message) for w in caught],
            )
        )
    return results[0], results[1]


# -- 1. a secret's source the auth would refuse as it is made ---------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "args_user"),
    [
        # No Direct Authentication key and no keyring: the auth cannot be built.
        ("TEAMUP_DIRECT_AUTH_KEY", None, TEAMUP_USER),
        # A *_COMMAND that is not a command line (shlex cannot split it) ...
        ("TEAMUP_DIRECT_AUTH_KEY_COMMAND", "pass show 'unterminated", TEAMUP_USER),
        # ... or is empty.
        ("TEAMUP_DIRECT_AUTH_KEY_COMMAND", "   ", TEAMUP_USER),
        ("TEAMUP_VERIFICATION_KEY_COMMAND", '"', TEAMUP_USER),
        # The password's command, when -a gives no password.
        ("TEAMUP_PASSWORD_COMMAND", "pass show 'x", DEMO_TEAMUP_USERNAME),
    ],
    ids=[
        "no-direct-key",
        "direct-key-command-unsplittable",
        "direct-key-command-empty",
        "verification-key-command",
        "password-command",
    ],
)
def test_a_secret_source_the_auth_refuses_is_its_error_and_nothing_is_sent(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: Optional[str],
    args_user: str,
) -> None:
    url = log_in(sandbox)
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")  # or: keyring not installed (no extra)
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)

    cached, full = both(
        sandbox, monkeypatch, "--check-status", "-A", "teamup", "-a", args_user, url
    )

    assert cached == full
    status, _stdout, [line], seen, _warnings = cached
    assert status == 1
    assert line.startswith("http: error: ConfigError: TeamUp")
    assert seen == []


# -- 2. a base URL the auth refuses, whatever a token file says ------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.example.test/v2",  # plain http to a host that is not loopback
        "http://api.example.test:8080/v2",
        "https://alice@api.example.test/v2",  # user info in the base URL
        "https://api.example.test%2eevil.test/v2",  # percent-encoded host
        "https://api.example.test:99999/v2",  # a port that does not exist
        "ftp://api.example.test/v2",  # not http(s)
    ],
)
def test_a_base_url_the_auth_refuses_gets_no_cached_token(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    monkeypatch.setenv("TEAMUP_BASE_URL", base_url)
    # A token file for that key (an older version, a script, a restored backup ...).
    save_token(base_url, DEMO_TEAMUP_USERNAME, "cached-token")
    url = f"{base_url}/customers"
    assert httpie_cached.cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is None
    with pytest.raises(ConfigError):
        TeamUpAuth(DEMO_TEAMUP_USERNAME, token_store=FileTokenStore())


class Hit(NamedTuple):
    target: str
    headers: dict[str, str]


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[Hit]]]:
    """A plain-http forward proxy on loopback that records what crosses it (the network)."""
    hits: list[Hit] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = b'{"count": 0}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_plain_http_base_url_sends_no_token_in_clear_text(
    monkeypatch: pytest.MonkeyPatch, proxy: tuple[str, list[Hit]]
) -> None:
    proxy_url, hits = proxy
    base_url = "http://api.example.test/v2"
    monkeypatch.setenv("TEAMUP_BASE_URL", base_url)
    # A token file for that key (written by an older version, a script, a restore ...).
    save_token(base_url, DEMO_TEAMUP_USERNAME, "cached-token")
    args = (
        "--proxy",
        f"http:{proxy_url}",
        "-A",
        "teamup",
        "-a",
        TEAMUP_USER,
        f"{base_url}/customers",
    )

    for slow in (False, True):
        if slow:
            slow_path(monkeypatch)
        status, _stdout, stderr = httpie(*args)
        assert status == 1
        [line] = error_lines(stderr)
        assert "refusing to send a TeamUp password over plain http to api.example.test" in line
    assert hits == []  # nothing crossed the network


# -- 3. after a re-login, later hops carry the new token -------------------------------------


class FakeTeamUp:
    """A TeamUp-like API on loopback: T0 is revoked; logins hand out T1, T2, ...

    ``/api/a`` refuses T0 and otherwise redirects to ``/api/b``, which redirects to
    ``/api/c``, which refuses T0 and otherwise answers 200.
    """

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.logins = 0
        #: Tokens /api/c refuses (T1 too: revoked again while the run follows redirects).
        self.refused_at_c = {"", "Bearer T0"}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any], location: str = "") -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.logins += 1
                fake.seen.append(("POST", self.path.split("?")[0], ""))
                self._answer(200, {"access_token": f"T{fake.logins}", "expires_in": 3600})

            def do_GET(self) -> None:
                token = self.headers.get("Authorization", "")
                fake.seen.append(("GET", self.path, token))
                if (self.path == "/api/a" and token in ("", "Bearer T0")) or (
                    self.path == "/api/c" and token in fake.refused_at_c
                ):
                    self._answer(401, {"code": "invalid_token", "message": "revoked"})
                elif self.path == "/api/a":
                    self._answer(302, {}, "/api/b")
                elif self.path == "/api/b":
                    self._answer(302, {}, "/api/c")
                else:
                    self._answer(200, {"ok": True})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_teamup(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamUp]:
    fake = FakeTeamUp()
    monkeypatch.setenv("TEAMUP_BASE_URL", fake.base)
    yield fake
    fake.close()


def run_chain(fake: FakeTeamUp, expect_status: int = 0) -> list[tuple[str, str, str]]:
    fake.seen.clear()
    fake.logins = 0
    save_token(fake.base, DEMO_TEAMUP_USERNAME, "T0")  # the cached token, revoked server-side
    status, stdout, stderr = httpie(
        "--follow", "--check-status", "-A", "teamup", "-a", TEAMUP_USER, f"{fake.base}/a"
    )
    assert status == expect_status, stderr
    if status == 0:
        assert json.loads(stdout) == {"ok": True}
    return list(fake.seen)


def test_after_a_relogin_every_later_hop_carries_the_new_token(
    fake_teamup: FakeTeamUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = run_chain(fake_teamup)
    slow_path(monkeypatch)
    full = run_chain(fake_teamup)

    assert (
        cached
        == full
        == [
            ("GET", "/api/a", "Bearer T0"),
            ("POST", "/api/auth/password_login", ""),
            ("GET", "/api/a", "Bearer T1"),
            ("GET", "/api/b", "Bearer T1"),
            ("GET", "/api/c", "Bearer T1"),
        ]
    )


def test_a_new_token_refused_on_a_later_hop_is_renewed_again(
    fake_teamup: FakeTeamUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # T1 is refused too on the last hop (revoked again mid-run: a password change,
    # an administrator's "log out everywhere"): one more login, and the hop is sent again.
    fake_teamup.refused_at_c = {"", "Bearer T0", "Bearer T1"}
    cached = run_chain(fake_teamup)
    slow_path(monkeypatch)
    full = run_chain(fake_teamup)

    assert cached == full
    assert full[-3:] == [
        ("GET", "/api/c", "Bearer T1"),
        ("POST", "/api/auth/password_login", ""),
        ("GET", "/api/c", "Bearer T2"),
    ]


# -- what behaved the same -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({"TEAMUP_BASE_URL": "{base}/"}, ["-a", TEAMUP_USER]),
        ({}, ["-a", f"{DEMO_TEAMUP_USERNAME}:wrong-password"]),
        ({"TEAMUP_USERNAME": DEMO_TEAMUP_USERNAME}, []),
        ({"TEAMUP_USERNAME": "bob@example.com"}, ["-a", TEAMUP_USER]),
        ({}, ["-a", f" {DEMO_TEAMUP_USERNAME} :x"]),
        ({}, ["-a", f"{DEMO_TEAMUP_USERNAME.upper()}:wrong"]),
        ({"TEAMUP_AUTH_SCHEME": " token "}, ["-a", TEAMUP_USER]),
        ({"TEAMUP_REQUEST_MODE": "Customer", "TEAMUP_PROVIDER_ID": "1"}, ["-a", TEAMUP_USER]),
        ({"TEAMUP_PROVIDER_ID": "\u0661"}, ["-a", TEAMUP_USER]),  # Arabic-Indic one: isdigit
        ({"TEAMUP_PROVIDER_ID": "1\u00a0"}, ["-a", TEAMUP_USER]),
        ({"TEAMUP_REQUEST_MODE": "customer\t"}, ["-a", TEAMUP_USER]),
        ({"AUTH_PLUGINS_TOKEN_STORE": "FiLe"}, ["-a", TEAMUP_USER]),
        ({"TEAMUP_PASSWORD_COMMAND": "'"}, ["-a", TEAMUP_USER]),  # password given: unused
    ],
)
def test_settings_the_auth_takes(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], args: list[str]
) -> None:
    url = log_in(sandbox)
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(base=sandbox.teamup_url))
    cached, full = both(sandbox, monkeypatch, "-A", "teamup", *args, url)
    assert cached[:3] == full[:3]
    assert [h for _p, h in cached[3]] == [h for _p, h in full[3]]


@pytest.mark.parametrize(
    "suffix",
    [
        "?a=1#frag",
        "/../customers",
        "/%2e%2e/customers",
        "/customers/%0d%0a",
        "/x y",
        "/caf\u00e9",
        "?q=\\",
    ],
)
def test_urls_under_the_api(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    log_in(sandbox)
    url = sandbox.teamup_url + suffix
    cached, full = both(sandbox, monkeypatch, "-A", "teamup", "-a", TEAMUP_USER, url)
    assert cached[0] == full[0]
    assert cached[3] == full[3]


def test_offline_shows_the_same_request(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    url = log_in(sandbox)
    cached, full = both(sandbox, monkeypatch, "--offline", "-A", "teamup", "-a", TEAMUP_USER, url)
    assert cached == full


def test_a_session_file_gets_no_secret(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = log_in(sandbox)
    session = str(tmp_path / "s.json")
    cached, full = both(
        sandbox, monkeypatch, "--session", session, "-A", "teamup", "-a", TEAMUP_USER, url
    )
    assert cached[:4] == full[:4]
    assert "alice-password" not in Path(session).read_text()
    assert "Bearer" not in Path(session).read_text()


def test_a_token_expired_by_the_api_is_refreshed(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = log_in(sandbox)
    cached, full = both(
        sandbox,
        monkeypatch,
        "--check-status",
        "-A",
        "teamup",
        "-a",
        TEAMUP_USER,
        url,
        setup=lambda: sandbox.expire_tokens("teamup"),
    )
    assert cached[0] == full[0] == 0
    assert [p for p, _h in cached[3]] == [p for p, _h in full[3]]


def test_a_revoked_token_and_a_wrong_password_give_the_same_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = log_in(sandbox)
    cached, full = both(
        sandbox,
        monkeypatch,
        "-A",
        "teamup",
        "-a",
        f"{DEMO_TEAMUP_USERNAME}:wrong",
        url,
        setup=lambda: sandbox.revoke_tokens("teamup"),
    )
    assert cached[0] == full[0]
    assert cached[2][0].split("(")[0] == full[2][0].split("(")[0]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_away_and_back(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,  # noqa: F811
    status: int,
) -> None:
    monkeypatch.setenv("TEAMUP_PROVIDER_ID", "1")
    log_in(sandbox)
    back = f"{sandbox.teamup_url}/customers"
    away = recorder.url("localhost") + "/bounce?to=" + back
    url = redirect(sandbox.teamup_url, away, status)
    results = []
    for slow in (False, True):
        if slow:
            slow_path(monkeypatch)
        recorder.received.clear()
        before = len(sandbox.received)
        status_, _o, _err = httpie(
            "--follow", "--check-status", "-A", "teamup", "-a", TEAMUP_USER, url
        )
        results.append(
            (
                status_,
                tail(sandbox, before),
                [{k: v for k, v in r.headers.items() if k in NAMES} for r in recorder.received],
            )
        )
    assert results[0] == results[1]
    assert results[0][2] == [{}]


@pytest.mark.parametrize(
    "token",
    [
        {"access_token": "t", "expires_at": None},
        {"access_token": "t", "expires_at": float("nan")},
        {"access_token": "t", "expires_at": 10**400},
        {"access_token": "t", "expires_at": True},
        {"access_token": "t", "expires_at": "9999999999"},
        {"access_token": "t", "expires_at": time.time() + 100, "issued_at": time.time() + 10**6},
        {"access_token": "t u", "expires_at": None},
        {"access_token": "t\u00e9", "expires_at": None},
        {"access_token": "", "expires_at": None},
        {"access_token": "t", "refresh_token": "r\n", "expires_at": None},
        {"access_token": "t", "idle_timeout": 0, "expires_at": None},
        {"access_token": "t", "idle_timeout": -1, "expires_at": None},
        {"access_token": "t", "extra": {"x": 1}, "surplus": 1},
    ],
)
def test_a_token_file_is_used_only_when_the_store_would_use_it(
    sandbox: Sandbox, token: dict[str, Any]
) -> None:
    key = TokenKey("teamup", sandbox.teamup_url, DEMO_TEAMUP_USERNAME)
    store = FileTokenStore()
    store.save(key, Token(access_token="placeholder"))
    path = store._path(key)
    path.write_text(json.dumps({"key": list(key), "token": token}, allow_nan=True))
    url = f"{sandbox.teamup_url}/x"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = store.load(key)
    found = httpie_cached.cached_headers("teamup", DEMO_TEAMUP_USERNAME, url)
    full_uses = loaded is not None and not loaded.is_expired(30.0)
    assert (found is not None) is full_uses
    if found is not None:
        assert loaded is not None
        assert found.token.access_token == loaded.access_token


def test_a_token_file_that_is_a_link_is_not_followed(sandbox: Sandbox, tmp_path: Path) -> None:
    key = TokenKey("teamup", sandbox.teamup_url, DEMO_TEAMUP_USERNAME)
    store = FileTokenStore()
    store.save(key, Token(access_token="t", expires_at=time.time() + 3600))
    path = store._path(key)
    real = tmp_path / "real.json"
    os.replace(path, real)
    path.symlink_to(real)
    assert httpie_cached.cached_headers("teamup", DEMO_TEAMUP_USERNAME, sandbox.teamup_url) is None
