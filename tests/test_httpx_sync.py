"""httpx.Client with the same auth objects: login through the client, resend, history, errors."""

from __future__ import annotations

import copy
import importlib.abc
import importlib.util
import pickle
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Optional

import httpx
import pytest
import requests
from httpx_helpers import TIMEOUT, assert_nothing_secret, texts_of_exception, texts_of_response
from netservers import BombServer, ForwardProxy

from auth_plugins import (
    BodyNotReplayable,
    InvalidCredentials,
    LoginError,
    StepUpRequired,
    TeamUpAuth,
    Token,
    TwoFactorRequired,
)
from auth_plugins.adapters import httpx_view
from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_STEPUP_CODE,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_PASSWORD,
    Sandbox,
)
from auth_plugins.stores.base import TokenKey


def vendor_url(sandbox: Sandbox, vendor: str) -> str:
    return sandbox.teamup_url if vendor == "teamup" else sandbox.up2money_url


def echoed_bodies(sandbox: Sandbox) -> list[bytes]:
    return [r.body for r in sandbox.received if r.path.endswith("/echo")]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as made:
        yield made


# -- the basics --------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_logs_in_before_the_first_request_and_reuses_the_token(
    sandbox: Sandbox, vendor_auth: Any, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    assert sandbox.logins(vendor) == 0  # constructing the auth does no I/O
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        responses = [client.get(vendor_url(sandbox, vendor) + "/echo") for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert responses[0].history == []  # no tokenless first round trip, no login answer
    assert sandbox.logins(vendor) == 1
    assert sandbox.api_calls(vendor) == 5


@pytest.mark.parametrize(
    ("vendor", "status"), [("teamup", 401), ("up2money", 401), ("up2money", 410)]
)
def test_refused_token_relogs_in_once_and_resends_the_body_byte_exact(
    sandbox: Sandbox, vendor_auth: Any, vendor: str, status: int
) -> None:
    auth = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + "/echo"
    payload = bytes(range(256)) * 3
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        old = auth.token.access_token
        if status == 410:
            sandbox.expire_tokens(vendor)
        else:
            sandbox.revoke_tokens(vendor)
        response = client.post(url, content=payload, headers={"X-Custom": "kept"})
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [status]
    assert auth.token.access_token != old
    assert echoed_bodies(sandbox)[-2:] == [payload, payload]
    assert response.json()["headers"]["X-Custom"] == "kept"
    assert sandbox.logins(vendor) == 2


def test_teamup_refreshes_an_expired_token(sandbox: Sandbox, teamup_auth: Any) -> None:
    with httpx.Client(auth=teamup_auth(), timeout=TIMEOUT) as client:
        client.get(sandbox.teamup_url + "/customers")
        sandbox.expire_tokens("teamup")
        response = client.get(sandbox.teamup_url + "/customers")
    assert response.status_code == 200
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (1, 1)


def test_two_factor_through_the_client(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME, password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD
    )
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        with pytest.raises(TwoFactorRequired) as caught:
            client.get(sandbox.teamup_url + "/customers")
        pending = caught.value
        auth.start_two_factor(
            DEMO_TEAMUP_TWO_FACTOR_PHONE,
            pending.providers[0],
            pending.pending_login_id,
            client=client,
        )
        auth.verify_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE, client=client)
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    assert sandbox.logins("teamup") == 1


def test_step_up_through_the_client(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        with pytest.raises(StepUpRequired) as caught:
            client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
        assert isinstance(caught.value.response, httpx.Response)
        assert caught.value.response.status_code == 403
        auth.send_step_up_otp(client=client)
        auth.verify_step_up(DEMO_STEPUP_CODE, client=client)
        response = client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
    assert response.status_code == 200
    assert sandbox.logins("up2money") == 1


def test_wrong_password_costs_one_login_attempt(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth(password="wrong")
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        for _ in range(3):
            with pytest.raises(InvalidCredentials) as caught:
                client.get(sandbox.up2money_url + "/managed_accounts")
            assert_nothing_secret(texts_of_exception(caught.value), "wrong")
    assert sandbox.login_attempts("up2money") == 1


def test_one_auth_serves_requests_and_httpx_with_one_token(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    assert requests.get(sandbox.teamup_url + "/customers", auth=auth).status_code == 200
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    assert requests.get(sandbox.teamup_url + "/customers", auth=auth).status_code == 200
    assert sandbox.logins("teamup") == 1


def test_other_hosts_get_no_token(sandbox: Sandbox, teamup_auth: Any) -> None:
    with httpx.Client(auth=teamup_auth(), timeout=TIMEOUT) as client:
        # Same server, another origin (host name): not the API's.
        response = client.get(sandbox.url.replace("127.0.0.1", "localhost") + "/elsewhere")
    assert "Authorization" not in response.request.headers
    assert sandbox.logins("teamup") == 0


# -- bodies --------------------------------------------------------------------------------


def test_a_generator_body_is_not_resent_empty(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    url = sandbox.teamup_url + "/echo"
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        client.get(url)
        sandbox.revoke_tokens("teamup")
        with pytest.raises(BodyNotReplayable) as caught:
            client.post(url, content=(part for part in [b"one-", b"shot"]))
    assert caught.value.response.status_code == 401
    assert sandbox.logins("teamup") == 2  # renewed: sending again works at once
    assert echoed_bodies(sandbox)[-1] == b"one-shot"  # the refused send; no empty second one


# -- what a user's logging can see ---------------------------------------------------------


@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_no_login_answer_in_history(sandbox: Sandbox, vendor_auth: Any, vendor: str) -> None:
    auth = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + "/echo"
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        first = client.get(url)
        sandbox.revoke_tokens(vendor)
        second = client.get(url)
    new_token = auth.token.access_token
    assert first.history == []
    assert [r.status_code for r in second.history] == [401]
    assert not any("/auth/" in str(r.url) for r in second.history)
    for earlier in second.history:
        assert earlier.history == []
        # The refused request as it was sent: the old token, never the new one or a password.
        shown = "\n".join(texts_of_response(earlier))
        for secret in (new_token, DEMO_TEAMUP_PASSWORD, DEMO_UP2MONEY_PASSWORD):
            assert secret not in shown
        assert DEMO_TEAMUP_DIRECT_AUTH_KEY not in shown


# -- the client's own settings: TLS, proxy, timeouts ---------------------------------------


def test_https_login_uses_the_clients_verify(auth_plugins_sandbox_tls: Sandbox) -> None:
    sandbox = auth_plugins_sandbox_tls
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    with httpx.Client(auth=auth, verify=context, timeout=TIMEOUT) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    assert sandbox.logins("teamup") == 1


def test_https_without_the_ca_says_the_certificate_was_not_verified(
    auth_plugins_sandbox_tls: Sandbox,
) -> None:
    sandbox = auth_plugins_sandbox_tls
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
        client.get(sandbox.teamup_url + "/customers")
    assert "could not be verified" in str(caught.value)
    assert "verify=" in str(caught.value)
    assert_nothing_secret(texts_of_exception(caught.value))


def test_login_goes_through_the_clients_proxy(
    sandbox: Sandbox, teamup_auth: Any, forward_proxy: ForwardProxy
) -> None:
    with httpx.Client(auth=teamup_auth(), proxy=forward_proxy.url, timeout=TIMEOUT) as client:
        assert client.get(sandbox.teamup_url + "/customers").status_code == 200
    methods_paths = [(m, t.split("?")[0]) for m, t in forward_proxy.seen]
    assert methods_paths[0] == ("POST", sandbox.teamup_url + "/auth/password_login")
    assert sandbox.logins("teamup") == 1


def test_unreachable_login_is_a_login_error_with_no_secret(up2money_auth: Any) -> None:
    with socket_that_refuses() as url:
        auth = up2money_auth(base_url=url)
        client = httpx.Client(auth=auth, timeout=TIMEOUT)
        with client, pytest.raises(LoginError, match="could not reach") as caught:
            client.get(url + "/managed_accounts")
    assert_nothing_secret(texts_of_exception(caught.value))


def test_a_gzip_bomb_login_answer_is_refused(bomb_server: BombServer, teamup_auth: Any) -> None:
    auth = teamup_auth(base_url=bomb_server.gzip_url)
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client, pytest.raises(LoginError) as caught:
        client.get(bomb_server.gzip_url + "/customers")
    assert "more than" in str(caught.value)


def socket_that_refuses() -> Any:
    """A loopback URL nothing listens on (a port taken, then freed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return nullcontext(f"http://127.0.0.1:{port}")


# -- the class trick: isinstance, pickle, copy, import cost --------------------------------


class PlainStore:
    """A token store that pickles (the default one holds thread locks)."""

    persistent = False

    def __init__(self) -> None:
        self.tokens: dict[TokenKey, Token] = {}

    def load(self, key: TokenKey) -> Optional[Token]:
        return self.tokens.get(key)

    def save(self, key: TokenKey, token: Token) -> None:
        self.tokens[key] = token

    def delete(self, key: TokenKey) -> None:
        self.tokens.pop(key, None)

    def lock(self, key: TokenKey) -> Any:
        return nullcontext()


def test_auth_is_an_httpx_auth_and_still_pickles_and_copies(teamup_auth: Any) -> None:
    auth = teamup_auth(token_store=PlainStore())
    assert isinstance(auth, httpx.Auth)
    assert isinstance(auth, TeamUpAuth)
    assert type(auth) is TeamUpAuth
    for twin in (pickle.loads(pickle.dumps(auth)), copy.copy(auth), copy.deepcopy(auth)):
        assert type(twin) is TeamUpAuth
        assert isinstance(twin, httpx.Auth)
        assert twin.username == auth.username


def test_the_class_httpx_sees_reads_as_the_auths_own_class(teamup_auth: Any) -> None:
    """``auth.__class__`` (the httpx view, made once httpx is imported) names the auth's
    own class, module and qualified name: what a repr, a log line or a library's
    message shows is the class the user wrote, also for one defined in a function."""

    class ClinicAuth(TeamUpAuth):
        """A user's own auth class, made in a function (``<locals>`` in its name)."""

    with ClinicAuth(DEMO_TEAMUP_USERNAME, "pw", direct_auth_key="KEY") as clinic:
        for auth in (teamup_auth(token_store=PlainStore()), clinic):
            view = auth.__class__
            assert view is not type(auth)  # the view, a subclass of both
            assert isinstance(auth, httpx.Auth)
            assert repr(view) == repr(type(auth))
            assert (view.__module__, view.__qualname__, view.__name__) == (
                type(auth).__module__,
                type(auth).__qualname__,
                type(auth).__name__,
            )
    assert ClinicAuth.__qualname__.endswith("<locals>.ClinicAuth")


def test_without_httpx_an_auth_is_its_own_class_to_every_check(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, teamup_auth: Any
) -> None:
    """With httpx not there (not installed; blocked here as a test blocks a module),
    ``auth.__class__`` is the auth's own class. Checks that read it work: requests
    merges a session's auth with a call's through an ABC check (``Mapping``), which
    reads ``__class__`` and would fail the request if that raised."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.setattr(httpx_view, "_CLASSES", {})  # no view made yet, as in such a process
    default, other = teamup_auth(), teamup_auth(token_store=PlainStore())
    assert default.__class__ is TeamUpAuth
    with requests.Session() as session:
        session.auth = default
        answer = session.get(f"{sandbox.teamup_url}/customers", auth=other, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.json()["count"] == 2
    assert sandbox.logins("teamup") == 1  # the call's own auth logged in


def test_importing_the_package_does_not_import_httpx() -> None:
    code = (
        "import sys, auth_plugins, auth_plugins.vendors.teamup\n"
        "from auth_plugins import TeamUpAuth, Up2MoneyAuth\n"
        "auth = TeamUpAuth('u', 'p', direct_auth_key='k')\n"
        "assert type(auth).__mro__[1].__name__ == 'PasswordAuth'\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


@pytest.mark.parametrize("missing", ["httpx", "httpcore"])
def test_without_httpx_the_error_names_the_extra(missing: str) -> None:
    """httpx not installed, or installed without httpcore (its transport): the
    same error, naming the extra to install."""
    code = (
        "import sys\n"
        f"sys.modules[{missing!r}] = None  # as if it were not installed\n"
        "from auth_plugins import ConfigError, TeamUpAuth\n"
        "auth = TeamUpAuth('u', 'p', direct_auth_key='k')\n"
        "try:\n"
        "    auth.sync_auth_flow(object())\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    )
    assert done.stdout == (
        "auth-plugins needs httpx to serve httpx clients: pip install 'auth-plugins[httpx]'\n"
    )


def test_an_adapter_module_another_thread_is_importing_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``adapter()`` skips the import machinery for a module already in
    ``sys.modules``, but not for one another thread is still running: that
    module is there, half made, from the start of its import."""
    name = f"{httpx_view.__package__}.slow_to_import"
    started, release = threading.Event(), threading.Event()

    class SlowLoader(importlib.abc.Loader):
        def create_module(self, spec: ModuleSpec) -> None:
            return None

        def exec_module(self, module: ModuleType) -> None:
            started.set()
            release.wait(TIMEOUT)
            module.ready = True  # type: ignore[attr-defined]

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: Any, target: Any = None) -> Optional[ModuleSpec]:
            return (
                importlib.util.spec_from_loader(fullname, SlowLoader())
                if fullname == name
                else None
            )

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, name, raising=False)
    seen: list[bool] = []
    importer = threading.Thread(target=importlib.import_module, args=(name,))
    importer.start()
    assert started.wait(TIMEOUT)
    asker = threading.Thread(
        target=lambda: seen.append(getattr(httpx_view.adapter("slow_to_import"), "ready", False))
    )
    asker.start()
    asker.join(0.5)  # time for a wrong answer to come; the right one waits for the release
    release.set()
    importer.join(TIMEOUT)
    asker.join(TIMEOUT)
    assert not importer.is_alive()
    assert not asker.is_alive()
    assert seen == [True]


# -- the README's respx example --------------------------------------------------------------


def test_respx_mocks_the_login_path_and_the_api_path() -> None:
    import respx

    base = "https://goteamup.com/api/v2"
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{base}/auth/password_login").respond(
            json={"access_token": "t0k", "expires_in": 3600, "refresh_token": "r"}
        )
        api = mock.get(f"{base}/customers").respond(json=[])
        auth = TeamUpAuth("alice@example.com", "pw", direct_auth_key="KEY")
        with httpx.Client(auth=auth) as client:
            assert client.get(f"{base}/customers").json() == []
        assert api.calls.last.request.headers["Authorization"] == "Bearer t0k"
