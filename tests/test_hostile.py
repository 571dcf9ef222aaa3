"""Hostile servers, URLs, files and numbers: no secret leaves, nothing hangs, nothing crashes.

One property test per class of attack, with the named examples as regressions:

1. where a secret may go: the host the auth judges is the host the connection library
   connects to, or the URL gets no token at all;
2. secrets inside exceptions: message, ``args``, attributes, ``__cause__`` and
   ``__context__`` (suppressed or not), ``repr`` and pickle;
3. terminal control: server text reaches messages with control characters neutralised;
4. the token cache: any file content is a token fit for a header or nothing;
5. numbers from servers: bounded.
"""

from __future__ import annotations

import json
import math
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from auth_plugins import (
    AuthPluginError,
    ConfigError,
    FileTokenStore,
    LoginError,
    TeamUpAuth,
    Up2MoneyAuth,
)
from auth_plugins.core.answers import MAX_RETRY_AFTER, bounded_seconds, retry_after
from auth_plugins.core.messages import Answer, Headers
from auth_plugins.core.scope import is_loopback, origin
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.stores import TokenKey

SECRETS = (DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_DIRECT_AUTH_KEY, DEMO_UP2MONEY_PASSWORD)


# -- 1. where a secret may go -------------------------------------------------------------

HOSTS = [
    "127.0.0.1",
    "localhost",
    "LocalHost.",
    "api.example.com",
    "api.example.com.",
    "bücher.example",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "127.0.0.1%2e",
    "evil.example",
]
USERINFO = ["", "vm@", "vm\\@", "a:b@", "x%40y@", "@", "a@b@"]
PORTS = ["", ":80", ":443", ":8080", ":0", ":99999", ":x"]
TAILS = ["/api", "\\@evil.example/api", "/api?x=@evil.example", "#@evil.example", "/a\\b"]


def connects_to(url: str) -> tuple[str, str]:
    """(scheme, host) requests will connect to for ``url``, as urllib3 parses the prepared URL."""
    prepared = requests.Request("GET", url).prepare()
    assert prepared.url is not None
    parsed = urllib3.util.parse_url(prepared.url)
    return (parsed.scheme or "").lower(), (parsed.host or "").strip("[]").rstrip(".").lower()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    st.sampled_from(USERINFO),
    st.sampled_from(HOSTS),
    st.sampled_from(PORTS),
    st.sampled_from(TAILS),
)
@example("http", "vm\\@", "127.0.0.1", ":8080", "/api")
def test_the_host_judged_is_the_host_connected_to(
    scheme: str, userinfo: str, host: str, port: str, tail: str
) -> None:
    url = f"{scheme}://{userinfo}{host}{port}{tail}"
    try:
        actual = connects_to(url)
    except (requests.RequestException, ValueError, urllib3.exceptions.HTTPError):
        assume(False)
        return
    judged = origin(url)
    if judged == ("", "", None):
        return  # read two ways: no token goes there
    assert (judged[0], judged[1].strip("[]")) == actual, url


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.sampled_from(["http", "https"]),
    st.sampled_from(USERINFO),
    st.sampled_from(HOSTS),
    st.sampled_from(PORTS),
    st.sampled_from(TAILS),
)
def test_a_password_goes_over_plain_http_only_to_loopback(
    scheme: str, userinfo: str, host: str, port: str, tail: str
) -> None:
    base_url = f"{scheme}://{userinfo}{host}{port}{tail}"
    refused = raised(lambda: TeamUpAuth("u", "p", direct_auth_key="k", base_url=base_url))
    if refused is not None:
        assert isinstance(refused, ConfigError)
        assert "vm\\" not in str(refused)
        return
    auth = TeamUpAuth("u", "p", direct_auth_key="k", base_url=base_url)
    login_url = auth.base_url + "/auth/password_login"
    connected_scheme, connected_host = connects_to(login_url)
    assert origin(login_url)[1].strip("[]") == connected_host
    if connected_scheme == "http":
        assert is_loopback(connected_host), base_url


def test_a_user_name_in_the_base_url_is_refused_without_being_quoted() -> None:
    for url in ("http://vm\\@127.0.0.1:8080/api", "https://bob:hunter2-pw@api.example.com/v1"):
        with pytest.raises(ConfigError) as caught:
            TeamUpAuth("u", "p", direct_auth_key="k", base_url=url)
        assert "hunter2" not in str(caught.value)
        assert "vm\\" not in str(caught.value)


# -- 2. secrets inside exceptions ------------------------------------------------------------


def raised(call: Callable[[], object]) -> BaseException | None:
    """The exception ``call`` raised, or None."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def everything_in(error: BaseException) -> Iterator[str]:
    """Every text an exception carries, its whole chain (suppressed context too), and its pickle."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (repr(arg) for arg in current.args)
        for value in vars(current).values():
            yield repr(value)
            if isinstance(value, requests.Response) and value.request is not None:
                yield repr(value.request.body)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    yield pickle.dumps(error).decode("latin-1")


def assert_holds_no_secret(error: BaseException, secrets: tuple[str, ...] = SECRETS) -> None:
    for text in everything_in(error):
        for secret in secrets:
            assert secret not in text, f"{type(error).__name__} holds a secret in {text[:200]!r}"


echoes = st.sampled_from(
    [
        "{password}",
        "bad {password} and {key}",
        "\x1b[31m{password}\x1b]0;title\x07",
        "{key}{password}",
        "x" * 190 + "{password}",
    ]
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    status=st.sampled_from([200, 400, 401, 403, 423, 429, 500, 503]),
    template=echoes,
    where=st.sampled_from(["message", "content-type", "reason", "code", "pending", "html"]),
)
def test_no_error_from_a_hostile_login_answer_holds_a_secret(
    sandbox: Sandbox, status: int, template: str, where: str
) -> None:
    text = template.format(password=DEMO_TEAMUP_PASSWORD, key=DEMO_TEAMUP_DIRECT_AUTH_KEY)
    body: dict[str, Any] = {"message": text} if where == "message" else {}
    headers = {"Content-Type": "application/json"}
    if where == "code":
        body = {"code": text, "message": "no"}
    if where == "pending":
        body = {"object": "pending_login", "id": text, "two_factor_required_providers": [1]}
    if where == "content-type":
        headers = {"Content-Type": text.replace("\x1b", "").replace("\x07", "")}
    raw = json.dumps(body).encode()
    if where == "content-type":
        raw = b"<html>"
    if where == "html":  # a login page that echoes what it was sent: not JSON
        headers = {"Content-Type": "text/html"}
        raw = f"<html>you sent {text}</html>".encode()
    sandbox.script_login("teamup", status, raw, headers)
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    error = raised(lambda: requests.get(sandbox.teamup_url + "/customers", auth=auth))
    sandbox.reset()
    if error is None:
        return
    assert isinstance(error, AuthPluginError)
    assert_holds_no_secret(error)
    assert str(error).isprintable()
    # The error comes back whole from a pickle (multiprocessing, Celery).
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)


def test_a_transport_failure_during_login_keeps_no_request(sandbox: Sandbox) -> None:
    auth = Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url="http://127.0.0.1:9",  # nothing listens on the discard port
    )
    with pytest.raises(LoginError, match="could not reach") as caught:
        auth.get_token()
    assert_holds_no_secret(caught.value, (DEMO_UP2MONEY_PASSWORD, DEMO_UP2MONEY_SECRET))
    assert caught.value.__context__ is None


def test_a_secret_with_a_line_break_is_a_clear_error_not_a_raw_one() -> None:
    secret = DEMO_UP2MONEY_SECRET + "\n"
    with pytest.raises(ConfigError, match="line break") as caught:
        Up2MoneyAuth(DEMO_UP2MONEY_EMAIL, DEMO_UP2MONEY_PASSWORD, secret=secret)
    assert_holds_no_secret(caught.value, (DEMO_UP2MONEY_SECRET,))


# -- 3. terminal control ------------------------------------------------------------------


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=300))
def test_server_text_in_a_message_is_printable_and_short(text: str) -> None:
    from auth_plugins.core.answers import login_error
    from auth_plugins.vendors.up2money import UP2MONEY

    answer = Answer(
        400,
        Headers({"Content-Type": "application/json"}),
        json.dumps({"message": text}).encode(),
        reason=text[:50],
    )
    message = str(login_error(UP2MONEY, answer))
    assert message.isprintable()
    assert "\x1b" not in message
    assert len(message) < 600


# -- 4. the token cache -----------------------------------------------------------------------

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")

token_files = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    ).map(lambda data: json.dumps({"key": list(KEY), "token": data}).encode()),
    st.fixed_dictionaries(
        {
            "access_token": st.text(max_size=30),
            "refresh_token": st.none() | st.text(max_size=10),
            "expires_at": st.none() | st.floats(),
            "issued_at": st.none() | st.floats(),
            "last_used": st.none() | st.floats(),
            "idle_timeout": st.none() | st.floats(),
        }
    ).map(lambda data: json.dumps({"key": list(KEY), "token": data}).encode()),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(token_files)
@example(b"[" * 100_000 + b"]" * 100_000)
@example(json.dumps({"key": list(KEY), "token": {"access_token": "a\r\nX-Evil: 1"}}).encode())
def test_any_token_file_is_a_usable_token_or_nothing(tmp_path_factory: Any, content: bytes) -> None:
    store = FileTokenStore(tmp_path_factory.mktemp("cache"))
    store.save(KEY, __import__("auth_plugins").Token("good-token"))
    path = next(Path(store.directory).glob("*.json"))
    path.write_bytes(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = store.load(KEY)
    # An unusable file is one warning naming it (it is replaced at the next login).
    assert len(caught) <= 1
    assert all(str(path) in str(w.message) for w in caught)
    if token is None:
        assert caught or not content
    else:
        assert token.access_token.isascii()
        assert token.access_token.isprintable()
        assert " " not in token.access_token
        for value in (token.expires_at, token.issued_at, token.last_used, token.idle_timeout):
            assert value is None or math.isfinite(value)
        token.is_expired(30.0)  # never raises


# -- 5. numbers from servers -----------------------------------------------------------------


@given(st.one_of(st.floats(), st.integers(), st.booleans(), st.none(), st.text(max_size=5)))
@example(float("nan"))
@example(float("inf"))
@example(1e-9)
@example(1e308)
def test_a_stated_life_is_bounded(value: Any) -> None:
    seconds = bounded_seconds(value, 1.0, 3600.0)
    assert seconds is None or 1.0 <= seconds <= 3600.0


@given(st.text(max_size=40))
@example("nan")
@example("inf")
@example("1e308")
@example("-5")
@example("Wed, 21 Oct 2015 07:28:00 GMT")
@example("Wed, 21 Oct 9999 07:28:00 GMT")
def test_retry_after_is_bounded(header: str) -> None:
    for name in ("Retry-After", "x-ratelimit-reset"):
        try:
            answer = Answer(429, Headers({name: header}))
        except ValueError:
            continue
        wait = retry_after(answer)
        assert wait is None or 0.0 <= wait <= MAX_RETRY_AFTER


# -- regressions found by an attack from outside ---------------------------------------------


def test_numbers_too_large_for_a_float_are_bounded_not_raised(tmp_path: Path) -> None:
    from auth_plugins.core.answers import MAX_LIFETIME, read_token
    from auth_plugins.vendors.teamup import TEAMUP

    body = b'{"access_token": "tok", "expires_in": ' + b"9" * 400 + b"}"
    token = read_token(TEAMUP, Answer(200, Headers(), body), [], idle_timeout=None, now=0.0)
    assert token.expires_at == MAX_LIFETIME
    store = FileTokenStore(tmp_path)
    store.save(KEY, __import__("auth_plugins").Token("t"))
    path = next(tmp_path.glob("*.json"))
    path.write_text(
        json.dumps({"key": list(KEY), "token": {"access_token": "t", "expires_at": int("9" * 400)}})
    )
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.expires_at is None


def test_a_refresh_token_too_long_to_store_is_not_kept() -> None:
    from auth_plugins.core.answers import MAX_TOKEN_LENGTH, read_token
    from auth_plugins.vendors.teamup import TEAMUP

    body = json.dumps({"access_token": "tok", "refresh_token": "r" * (MAX_TOKEN_LENGTH + 1)})
    token = read_token(TEAMUP, Answer(200, Headers(), body.encode()), [], idle_timeout=None)
    assert token.refresh_token is None  # else every later process would refuse the cache


def test_a_bare_allowed_host_gets_the_token_over_https_only() -> None:
    auth = Up2MoneyAuth("a@b.c", "pw", secret="XSECRET-1", allowed_hosts=["files.example"])
    assert auth.applies_to("https://files.example/doc")
    assert not auth.applies_to("http://files.example/doc")
    with pytest.raises(ConfigError, match="plain http"):
        Up2MoneyAuth("a@b.c", "pw", secret="XSECRET-1", allowed_hosts=["http://files.example"])


def test_threads_racing_the_first_request_all_get_an_answer(sandbox: Sandbox) -> None:
    # A cold process: the adapter module is imported by the first thread while the others
    # already ask for it.
    script = f"""
import threading, requests
from auth_plugins import TeamUpAuth
auth = TeamUpAuth({DEMO_TEAMUP_USERNAME!r}, {DEMO_TEAMUP_PASSWORD!r},
                  direct_auth_key={DEMO_TEAMUP_DIRECT_AUTH_KEY!r}, base_url={sandbox.teamup_url!r})
barrier, out = threading.Barrier(16), []
def go():
    barrier.wait()
    try:
        answer = requests.get({sandbox.teamup_url!r} + "/customers", auth=auth, timeout=30)
        out.append(answer.status_code)
    except Exception as exc:
        out.append(type(exc).__name__)
threads = [threading.Thread(target=go, daemon=True) for _ in range(16)]
[t.start() for t in threads]
[t.join(60) for t in threads]
print(sorted(map(str, out)), sum(t.is_alive() for t in threads))
"""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    # Every thread answered, and none is left running after its join.
    assert result.stdout.strip() == f"{['200'] * 16} 0", result.stdout + result.stderr
    assert sandbox.logins("teamup") == 1
