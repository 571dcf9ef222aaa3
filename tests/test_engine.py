"""The foundation: lazy login, token reuse, one re-login on 401/410, the public contract."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
import requests
from helpers import VendorAuth, run_threads, session_with, vendor_url

import auth_plugins
from auth_plugins import (
    AuthPluginError,
    ConfigError,
    InvalidCredentials,
    LoginError,
    MemoryTokenStore,
    TeamUpAuth,
    Up2MoneyAuth,
    get_auth,
)
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)


def test_error_hierarchy_is_the_documented_one() -> None:
    # The errors belong to no HTTP client: the same ones come from requests and httpx.
    assert not any(cls.__module__.startswith("requests") for cls in AuthPluginError.__mro__)
    for error in (ConfigError, LoginError):
        assert issubclass(error, AuthPluginError)
    assert issubclass(InvalidCredentials, LoginError)


def test_construction_does_no_network_io(sandbox: Sandbox) -> None:
    TeamUpAuth("a@example.com", "pw", direct_auth_key="k", base_url=sandbox.teamup_url)
    Up2MoneyAuth("a@example.com", "pw", secret="s", base_url=sandbox.up2money_url)
    assert sandbox.login_attempts("teamup") == 0
    assert sandbox.login_attempts("up2money") == 0


def test_default_base_urls_are_the_vendors() -> None:
    assert TeamUpAuth("a", "b", direct_auth_key="k").base_url == "https://goteamup.com/api/v2"
    assert Up2MoneyAuth("a", "b", secret="s").base_url == "https://api.up2.money"


@pytest.mark.parametrize(
    ("make", "missing", "env"),
    [
        (lambda: TeamUpAuth("a", "b"), "direct_auth_key=", "TEAMUP_DIRECT_AUTH_KEY"),
        (
            lambda: TeamUpAuth("a", "b", direct_auth_key=""),
            "direct_auth_key=",
            "TEAMUP_DIRECT_AUTH_KEY",
        ),
        (lambda: TeamUpAuth(password="b", direct_auth_key="k"), "username=", "TEAMUP_USERNAME"),
        (lambda: Up2MoneyAuth("a", "b"), "secret=", "UP2MONEY_SECRET"),
        (lambda: Up2MoneyAuth("a", secret="s"), "password=", "UP2MONEY_PASSWORD"),
    ],
)
def test_missing_setting_names_argument_and_variable(
    make: Callable[[], Any], missing: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a keyring the secret may still come from it, at the first login (see
    # test_secret_sources.py); without one, construction says what is missing.
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    with pytest.raises(ConfigError) as caught:
        make()
    assert missing in str(caught.value)
    assert env in str(caught.value)


def test_environment_fallbacks(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMUP_DIRECT_AUTH_KEY", DEMO_TEAMUP_DIRECT_AUTH_KEY)
    monkeypatch.setenv("TEAMUP_BASE_URL", sandbox.teamup_url)
    monkeypatch.setenv("UP2MONEY_SECRET", DEMO_UP2MONEY_SECRET)
    monkeypatch.setenv("UP2MONEY_BASE_URL", sandbox.up2money_url)
    teamup = TeamUpAuth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    up2money = Up2MoneyAuth(DEMO_UP2MONEY_EMAIL, DEMO_UP2MONEY_PASSWORD)
    assert requests.get(sandbox.teamup_url + "/customers", auth=teamup).status_code == 200
    assert (
        requests.get(sandbox.up2money_url + "/managed_accounts", auth=up2money).status_code == 200
    )
    # An argument wins over its variable.
    assert (
        TeamUpAuth("a", "b", base_url="https://example.com/api").base_url
        == "https://example.com/api"
    )


def test_lazy_login_then_reuse_for_many_requests(sandbox: Sandbox, teamup_auth: Any) -> None:
    session = session_with(teamup_auth())
    for _ in range(25):
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    assert sandbox.logins("teamup") == 1
    assert sandbox.api_calls("teamup") == 25


def test_teamup_attaches_bearer_token(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    echoed = requests.get(sandbox.teamup_url + "/echo", auth=auth).json()
    token = auth.token.access_token
    assert echoed["headers"]["Authorization"] == f"Bearer {token}"


def test_up2money_attaches_secret_and_bare_token(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    echoed = requests.get(sandbox.up2money_url + "/echo", auth=auth).json()
    assert echoed["headers"]["x-secret"] == DEMO_UP2MONEY_SECRET
    assert echoed["headers"]["Authorization-key"] == auth.token.access_token
    assert "Authorization" not in echoed["headers"]


@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_revoked_token_relogs_in_once_and_resends(
    sandbox: Sandbox, vendor_auth: VendorAuth, vendor: str
) -> None:
    auth: Any = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + "/echo"
    session = session_with(auth)
    assert session.get(url).status_code == 200
    old_token = auth.token.access_token
    sandbox.revoke_tokens(vendor)

    response = session.post(url, data=b"payload", headers={"X-Custom": "kept"})

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert auth.token.access_token != old_token
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["headers"]["X-Custom"] == "kept"
    assert echoed["body_b64"] == "cGF5bG9hZA=="  # b"payload"
    assert sandbox.logins(vendor) == 2


def test_expired_up2money_token_answers_410_and_is_renewed(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    session = session_with(up2money_auth())
    session.get(sandbox.up2money_url + "/managed_accounts")
    sandbox.expire_tokens("up2money")
    response = session.get(sandbox.up2money_url + "/managed_accounts")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [410]
    assert sandbox.logins("up2money") == 2


def test_at_most_one_relogin_per_request(sandbox: Sandbox, teamup_auth: Any) -> None:
    """A token the API keeps refusing yields the second 401, not a loop."""
    auth = teamup_auth()
    session = session_with(auth)
    session.get(sandbox.teamup_url + "/customers")
    # Every token, including the next one, is refused: revoke right after each login.
    renewal = auth._renewal
    original = renewal._password_login

    def login_then_revoke(deadline: Any) -> Any:
        token = yield from original(deadline)
        sandbox.revoke_tokens("teamup")
        return token

    renewal._password_login = login_then_revoke
    sandbox.revoke_tokens("teamup")
    before = len(sandbox.received)
    response = session.get(sandbox.teamup_url + "/customers")
    assert response.status_code == 401
    assert len(response.history) == 1
    assert sandbox.logins("teamup") == 2
    # What the API received, not only what the client kept: sent once, resent once.
    sent = [r for r in sandbox.received[before:] if r.path.endswith("/customers")]
    assert len(sent) == 2


def test_login_call_is_not_wrapped_by_the_auth(sandbox: Sandbox, teamup_auth: Any) -> None:
    """The login request carries no token and no auth hook (it uses its own session)."""
    auth = teamup_auth()
    requests.get(sandbox.teamup_url + "/customers", auth=auth)
    logins = [r for r in sandbox.received if "/auth/password_login" in r.path]
    assert len(logins) == 1
    assert "Authorization" not in logins[0].headers


def test_threads_share_one_login(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def work() -> None:
        session = session_with(auth)
        barrier.wait(timeout=30)
        for _ in range(5):
            statuses.append(session.get(sandbox.teamup_url + "/customers").status_code)

    run_threads(8, work)
    assert statuses == [200] * 40
    assert sandbox.logins("teamup") == 1


def test_wrong_password_raises_invalid_credentials_after_one_attempt(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    session = session_with(teamup_auth(password="not-the-password"))
    for _ in range(3):
        with pytest.raises(InvalidCredentials) as caught:
            session.get(sandbox.teamup_url + "/customers")
        assert caught.value.status == 401
        assert "not-the-password" not in str(caught.value)
    assert sandbox.login_attempts("teamup") == 1


def test_reset_takes_a_corrected_password(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(password="wrong")
    with pytest.raises(InvalidCredentials):
        requests.get(sandbox.teamup_url + "/customers", auth=auth)
    auth.reset(password=DEMO_TEAMUP_PASSWORD)
    assert requests.get(sandbox.teamup_url + "/customers", auth=auth).status_code == 200
    assert sandbox.login_attempts("teamup") == 2


def test_other_login_failures_raise_login_error_with_status_and_vendor_message(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    sandbox.script_login(
        "teamup",
        500,
        b'{"code": "server_error", "message": "Boom."}',
        {"Content-Type": "application/json"},
    )
    with pytest.raises(LoginError) as caught:
        requests.get(sandbox.teamup_url + "/customers", auth=teamup_auth())
    assert type(caught.value) is LoginError
    assert caught.value.status == 500
    assert "HTTP 500" in str(caught.value)
    assert "server_error" in str(caught.value)
    assert "Boom" in str(caught.value)


def test_repr_hides_secrets() -> None:
    auth = TeamUpAuth("alice@example.com", "hunter2-password", direct_auth_key="key-s3cret")
    text = repr(auth)
    assert "alice@example.com" in text
    assert "hunter2-password" not in text
    assert "key-s3cret" not in text


def test_get_auth_by_vendor_name(sandbox: Sandbox) -> None:
    auth = get_auth(
        "teamup",
        username=DEMO_TEAMUP_USERNAME,
        password=DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    assert isinstance(auth, TeamUpAuth)
    assert requests.get(sandbox.teamup_url + "/customers", auth=auth).status_code == 200
    with pytest.raises(ConfigError, match=r"installed vendors: .*teamup"):
        get_auth("nope")


def test_shared_memory_store_shares_one_login(sandbox: Sandbox, teamup_auth: Any) -> None:
    store = MemoryTokenStore()
    first, second = teamup_auth(token_store=store), teamup_auth(token_store=store)
    requests.get(sandbox.teamup_url + "/customers", auth=first)
    requests.get(sandbox.teamup_url + "/customers", auth=second)
    assert sandbox.logins("teamup") == 1


def test_unknown_argument_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown argument"):
        TeamUpAuth("a", "b", direct_auth_key="k", direct_auth_kye="typo")


def test_package_import_is_lazy() -> None:
    # Names resolve on first use, and unknown ones fail like any module attribute.
    assert auth_plugins.TeamUpAuth is TeamUpAuth
    with pytest.raises(AttributeError):
        _ = auth_plugins.NoSuchName


# -- auth objects made per call share one login ----------------------------------------------


def test_auth_objects_with_the_same_credentials_share_one_login(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    for _ in range(5):
        response = requests.get(sandbox.teamup_url + "/customers", auth=teamup_auth())
        assert response.status_code == 200
    assert sandbox.logins("teamup") == 1


def test_a_different_password_never_shares_a_token(sandbox: Sandbox, teamup_auth: Any) -> None:
    good = teamup_auth()
    assert requests.get(sandbox.teamup_url + "/customers", auth=good).status_code == 200
    wrong = teamup_auth(password="not-the-password")
    assert wrong.token is None
    with pytest.raises(InvalidCredentials):
        requests.get(sandbox.teamup_url + "/customers", auth=wrong)
    # The wrong password's refusal is its own too: the right one still works.
    assert requests.get(sandbox.teamup_url + "/customers", auth=teamup_auth()).status_code == 200
    assert sandbox.logins("teamup") == 1


def test_reset_with_a_new_password_leaves_the_old_passwords_tokens(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    old = teamup_auth(password="old-password-wrong")
    with pytest.raises(InvalidCredentials):
        old.get_token()
    old.reset(password=DEMO_TEAMUP_PASSWORD)
    assert old.get_token().access_token
    assert old.token_store is teamup_auth().token_store
    assert teamup_auth(password="old-password-wrong").token_store is not old.token_store
