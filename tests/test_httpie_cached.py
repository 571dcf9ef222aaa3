"""HTTPie with a cached token: headers from the token file, the auth built only when needed.

:mod:`auth_plugins.adapters.httpie_cached` must send exactly what the auth would,
and leave every case that is not plainly "a good token for this key" to the
auth. Checked against the sandbox over loopback, through ``httpie.core.main``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest
from netservers import ForwardProxy
from test_httpie import error_lines, httpie
from test_redirects import (
    Recorder,
    auth_headers,
    recorder,  # noqa: F401  (the fixture)
    redirect,
)
from test_secret_cli import vendor_settings  # noqa: F401  (autouse: the sandbox's settings)

from auth_plugins import FileTokenStore, TeamUpAuth, Token
from auth_plugins.adapters import httpie as httpie_adapter
from auth_plugins.adapters.httpie_cached import cached_headers
from auth_plugins.sandbox import (
    DEMO_TEAMUP_MULTI_PASSWORD,
    DEMO_TEAMUP_MULTI_USERNAME,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)
from auth_plugins.stores import TokenKey

TEAMUP_USER = f"{DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the HTTPie plugin built a full auth for (it still builds it)."""
    built: list[str] = []
    real = httpie_adapter.LazyVendorAuth._build

    def counted(self: httpie_adapter.LazyVendorAuth, url: str) -> Any:
        built.append(url)
        return real(self, url)

    monkeypatch.setattr(httpie_adapter.LazyVendorAuth, "_build", counted)
    return built


def log_in(sandbox: Sandbox, user: str = TEAMUP_USER) -> str:
    """One HTTPie run that logs in and caches the token; returns the API URL."""
    url = f"{sandbox.teamup_url}/customers"
    status, _stdout, stderr = httpie("--check-status", "-A", "teamup", "-a", user, url)
    assert status == 0, stderr
    return url


def stored(sandbox: Sandbox, user: str = DEMO_TEAMUP_USERNAME) -> tuple[FileTokenStore, TokenKey]:
    key = TokenKey("teamup", sandbox.teamup_url, user)
    return FileTokenStore(), key


def sent_headers(sandbox: Sandbox) -> dict[str, str]:
    names = ("authorization", "teamup-provider-id", "teamup-request-mode")
    return {k.lower(): v for k, v in sandbox.received[-1].headers.items() if k.lower() in names}


# -- the same headers as the auth --------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "user", "password"),
    [
        ({}, DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD),
        ({"TEAMUP_AUTH_SCHEME": "token"}, DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD),
        (
            {"TEAMUP_PROVIDER_ID": "2", "TEAMUP_REQUEST_MODE": "PROVIDER"},
            DEMO_TEAMUP_MULTI_USERNAME,
            DEMO_TEAMUP_MULTI_PASSWORD,
        ),
    ],
    ids=["defaults", "scheme", "provider-and-mode"],
)
def test_a_cached_run_sends_what_the_auth_sends_and_builds_no_auth(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    builds: list[str],
    settings: dict[str, str],
    user: str,
    password: str,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    url = log_in(sandbox, f"{user}:{password}")
    by_auth = sent_headers(sandbox)
    assert builds == [url]  # the first run logged in, through the auth

    status, stdout, stderr = httpie("--check-status", "-A", "teamup", "-a", user, url)

    assert status == 0, stderr
    assert json.loads(stdout)["count"] >= 1
    assert builds == [url]  # the second did not build it
    assert sent_headers(sandbox) == by_auth
    assert len(by_auth) == 1 + len(settings) - ("TEAMUP_AUTH_SCHEME" in settings)
    auth = TeamUpAuth(user, token_store=FileTokenStore())
    cached = cached_headers("teamup", user, url)
    assert cached is not None
    assert cached.headers == auth._headers_for(auth.get_token())
    assert sandbox.logins("teamup") == 1


def test_the_user_name_may_come_from_the_environment(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, builds: list[str]
) -> None:
    url = log_in(sandbox)
    monkeypatch.setenv("TEAMUP_USERNAME", f" {DEMO_TEAMUP_USERNAME} ")
    assert httpie("--check-status", "-A", "teamup", url)[0] == 0
    assert builds == [url]
    assert sandbox.logins("teamup") == 1


def test_the_answer_to_a_revoked_cached_token_logs_in_again_and_sends_once_more(
    sandbox: Sandbox, builds: list[str]
) -> None:
    url = log_in(sandbox)
    sandbox.revoke_tokens("teamup")
    calls, before = sandbox.api_calls("teamup"), len(sandbox.received)

    status, stdout, stderr = httpie("--check-status", "-A", "teamup", "-a", TEAMUP_USER, url)

    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    assert builds == [url, url]  # built for the 401, and only then
    assert sandbox.logins("teamup") == 2
    assert sandbox.api_calls("teamup") == calls + 1  # the refused call, then one resend
    calls_to_url = [r for r in sandbox.received[before:] if r.path == urlsplit(url).path]
    assert len(calls_to_url) == 2
    refused, resent = calls_to_url
    assert refused.headers["Authorization"] != resent.headers["Authorization"]
    # The new token is cached: the next run uses it without a login.
    assert httpie("--check-status", "-A", "teamup", "-a", TEAMUP_USER, url)[0] == 0
    assert sandbox.logins("teamup") == 2


def test_an_answer_that_is_not_a_refusal_is_left_alone(sandbox: Sandbox, builds: list[str]) -> None:
    url = log_in(sandbox)
    status, _stdout, _stderr = httpie("-A", "teamup", "-a", TEAMUP_USER, url + "/0")
    assert status == 0
    assert sandbox.received[-1].path.endswith("/customers/0")
    assert builds == [url]  # a 404 is the caller's answer, not the auth's business


def test_the_login_after_a_refused_cached_token_goes_through_the_runs_proxy(
    sandbox: Sandbox, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-login that a refused cached token calls for, and the request sent again,
    go out with the run's send settings (here ``--proxy``), as the refused one did:
    a network that allows only the proxy would otherwise see a login go around it."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = log_in(sandbox)
    sandbox.revoke_tokens("teamup")
    before = len(sandbox.received)
    args = (f"--proxy=http:{forward_proxy.url}", "--check-status", "-A", "teamup", "-a")

    status, stdout, stderr = httpie(*args, TEAMUP_USER, url)

    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    assert sandbox.logins("teamup") == 2
    # The refused call, the renewal (a refresh, then the login), the call sent again:
    # every one of them through the proxy.
    assert len(forward_proxy.seen) == len(sandbox.received) - before == 4
    assert [m for m, target in forward_proxy.seen if "/auth/password_login" in target] == ["POST"]
    assert forward_proxy.seen[-1] == ("GET", url)


def test_a_base_url_with_a_trailing_slash_finds_the_token_the_auth_cached(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, builds: list[str]
) -> None:
    """``TEAMUP_BASE_URL=.../v2/`` names the same API as ``.../v2``: the auth keys its
    token file without the slash, and the cached path must find that file (else
    every run builds the whole auth, the start-up cost the cached path removes)."""
    monkeypatch.setenv("TEAMUP_BASE_URL", sandbox.teamup_url + "/")
    url = log_in(sandbox)
    assert builds == [url]

    status, _stdout, stderr = httpie("--check-status", "-A", "teamup", "-a", TEAMUP_USER, url)

    assert status == 0, stderr
    assert builds == [url]  # the second run used the cached token, without the auth
    assert sandbox.logins("teamup") == 1


@pytest.mark.parametrize(
    "base_url", ["https://api.example.test/INBOX", "https://api.example.test/"]
)
def test_the_cached_path_reads_the_token_file_the_auth_reads(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    """Whatever the base URL ends with (a path's last letter, a slash), the cached path
    looks up the very key the auth stores its token under, and nothing shorter."""
    monkeypatch.setenv("TEAMUP_BASE_URL", base_url)
    store = FileTokenStore()
    auth = TeamUpAuth(DEMO_TEAMUP_USERNAME, token_store=store)
    store.save(TokenKey("teamup", auth.base_url, DEMO_TEAMUP_USERNAME), token())
    found = cached_headers("teamup", DEMO_TEAMUP_USERNAME, f"{auth.base_url}/customers")
    assert found is not None
    assert found.headers == {"Authorization": "Bearer cached-token"}


def test_a_redirect_off_the_api_drops_every_header_of_a_cached_token(
    sandbox: Sandbox,
    recorder: Recorder,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEAMUP_PROVIDER_ID", "1")  # not stripped by requests itself
    log_in(sandbox)
    target = redirect(sandbox.teamup_url, recorder.url("localhost") + "/landing")

    status, _stdout, stderr = httpie("--follow", "-A", "teamup", "-a", TEAMUP_USER, target)

    assert status == 0, stderr
    assert {"authorization", "teamup-provider-id"} <= {
        k.lower() for k in sandbox.received[-1].headers
    }
    [landing] = recorder.got("/landing")
    assert auth_headers(landing) == {}


def test_a_bad_option_is_the_auths_one_line_error_even_with_a_token_cached(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = log_in(sandbox)
    calls = sandbox.api_calls("teamup")
    monkeypatch.setenv("TEAMUP_PROVIDER_ID", "the-first-one")

    status, _stdout, stderr = httpie("-A", "teamup", "-a", TEAMUP_USER, url)

    assert status == 1
    assert error_lines(stderr) == [
        "http: error: ConfigError: TeamUp provider_id= (or TEAMUP_PROVIDER_ID) must be a "
        "provider's number"
    ]
    assert sandbox.api_calls("teamup") == calls


# -- what is left to the auth --------------------------------------------------------------


def token(**fields: Any) -> Token:
    now = time.time()
    return Token(**{"access_token": "cached-token", "expires_at": now + 3600, **fields})


def test_a_good_token_in_the_file_store_is_used(sandbox: Sandbox) -> None:
    store, key = stored(sandbox)
    store.save(key, token())
    found = cached_headers("teamup", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/customers")
    assert found is not None
    assert found.headers == {"Authorization": "Bearer cached-token"}
    assert found.token.access_token == "cached-token"


@pytest.mark.parametrize(
    "saved",
    [
        # Renewed by the auth within its 30 s leeway of the end ...
        {"expires_at": time.time() + 20, "issued_at": time.time() - 3000},
        {"expires_at": time.time() - 1},
        # ... and a sliding window's use is written back: the auth's part.
        {"expires_at": None, "idle_timeout": 300.0},
    ],
    ids=["within-leeway", "expired", "sliding-window"],
)
def test_a_token_the_auth_would_renew_or_write_back_is_left_to_it(
    sandbox: Sandbox, saved: dict[str, Any]
) -> None:
    store, key = stored(sandbox)
    store.save(key, token(**saved))
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/x") is None


def test_a_leeway_clamped_to_a_short_life_still_uses_the_token(sandbox: Sandbox) -> None:
    # A 40 s token 20 s from its end: the leeway is a quarter of its life (10 s).
    now = time.time()
    store, key = stored(sandbox)
    store.save(key, token(expires_at=now + 20, issued_at=now - 20))
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/x") is not None


@pytest.mark.parametrize(
    ("variable", "value", "used"),
    [
        ("AUTH_PLUGINS_TOKEN_STORE", "file", True),
        ("AUTH_PLUGINS_TOKEN_STORE", " FILE ", True),
        ("AUTH_PLUGINS_TOKEN_STORE", "memory", False),
        ("AUTH_PLUGINS_TOKEN_STORE", "redis://127.0.0.1:1/0", False),
        ("AUTH_PLUGINS_TOKEN_STORE", "nonsense", False),
        ("AUTH_PLUGINS_TOKEN_CACHE", "off", False),
        ("AUTH_PLUGINS_TOKEN_CACHE", "on", True),
        ("TEAMUP_AUTH_SCHEME", "Basic", False),
        ("TEAMUP_PROVIDER_ID", "abc", False),
        ("TEAMUP_PROVIDER_ID", " 7\n", True),  # the auth reads it without the spaces too
        ("TEAMUP_REQUEST_MODE", "manager", False),
        ("TEAMUP_PROVIDER_ID", "7", True),
    ],
)
def test_only_the_file_store_and_settings_the_auth_accepts_use_the_cached_path(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, used: bool
) -> None:
    store, key = stored(sandbox)
    store.save(key, token())
    monkeypatch.setenv(variable, value)
    found = cached_headers("teamup", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/x")
    assert (found is not None) is used


def test_another_keys_file_a_shared_file_and_no_file_are_left_to_the_auth(
    sandbox: Sandbox,
) -> None:
    url = f"{sandbox.teamup_url}/x"
    store, key = stored(sandbox)
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is None  # no file yet
    store.save(key, token())
    path = next(Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).glob("teamup-*.json"))
    path.chmod(0o640)
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is None
    path.chmod(0o600)
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is not None
    other = TokenKey("teamup", sandbox.teamup_url, "bob@example.com")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "key": list(other)}))
    assert cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is None


@pytest.mark.parametrize(
    ("where", "ours"),
    [
        ("{base}", True),
        ("{base}/customers?page=2", True),
        ("{base}?x=1", True),
        # The token goes to the API's origin, as the auth sends it (a path is no boundary).
        ("{base}x", True),
        ("{origin}/other", True),
        ("{base}/a\\b", False),  # read two ways by URL parsers: no token
        ("{base}/\x7f", False),
        ("http://localhost:{port}/teamup/api/v2/x", False),  # another origin
    ],
)
def test_the_cached_token_goes_where_the_auth_sends_its_token(
    sandbox: Sandbox, where: str, ours: bool
) -> None:
    store, key = stored(sandbox)
    store.save(key, token())
    base = sandbox.teamup_url
    port = urlsplit(base).port
    url = where.format(base=base, origin=base.split("/teamup")[0], port=port)
    assert TeamUpAuth(DEMO_TEAMUP_USERNAME, token_store=store).applies_to(url) is ours
    assert (cached_headers("teamup", DEMO_TEAMUP_USERNAME, url) is not None) is ours


@pytest.mark.parametrize(
    ("vendor", "user"),
    [("up2money", DEMO_TEAMUP_USERNAME), ("acme", DEMO_TEAMUP_USERNAME), ("teamup", " ")],
)
def test_other_vendors_and_no_user_are_left_to_the_auth(
    sandbox: Sandbox, vendor: str, user: Optional[str]
) -> None:
    store, key = stored(sandbox)
    store.save(key, token())
    assert cached_headers(vendor, user, f"{sandbox.teamup_url}/x") is None
