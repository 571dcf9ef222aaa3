"""TeamUp, complete: refresh, expiry, two-factor, provider headers, vendor errors."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from helpers import age_token, session_with

from auth_plugins import (
    ConfigError,
    InvalidCredentials,
    LoginError,
    RateLimited,
    TeamUpAuth,
    TwoFactorRequired,
)
from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_TEAMUP_MULTI_PASSWORD,
    DEMO_TEAMUP_MULTI_USERNAME,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    Sandbox,
)
from auth_plugins.tokens import MAX_LEEWAY_SHARE

JSON = {"Content-Type": "application/json"}


def customers(sandbox: Sandbox, auth: TeamUpAuth) -> requests.Response:
    return requests.get(sandbox.teamup_url + "/customers", auth=auth)


# -- expiry and refresh ---------------------------------------------------------------
#
# One test here waits for real time (the end-to-end run of renewal before expiry); the
# others age the token through the auth's store (helpers.age_token) and do not sleep.
# The expiry and leeway rules themselves are unit-tested with ``now=`` in test_core.py
# (test_the_leeway_is_clamped_to_a_share_of_the_life).

#: Seconds of life an aged token has left: inside the default 30 s leeway, far from its end.
LEFT = 10.0


def age_to_renewal(sandbox: Sandbox, auth: TeamUpAuth) -> None:
    """Age the auth's token to ``LEFT`` seconds before its end: due, still good on the server."""
    life = sandbox.teamup.config.expires_in
    assert life is not None
    assert LEFT < auth.leeway < life * MAX_LEEWAY_SHARE  # due by the leeway, not by the clamp
    age_token(auth, life - LEFT)


def test_token_is_refreshed_before_it_expires(sandbox: Sandbox, teamup_auth: Any) -> None:
    # THE end-to-end test of renewal by the clock: it sleeps. The rule is unit-tested with
    # now= in test_core.py; the tests below reach a due token without waiting.
    sandbox.teamup.config.expires_in = 1
    auth = teamup_auth()
    assert customers(sandbox, auth).status_code == 200
    first = auth.token
    # The leeway is clamped to a quarter of a 1 s life: renewal starts at 0.75 s. Sleeping
    # longer is harmless (the renewal is due either way), so the machine's load cannot fail it.
    time.sleep(0.8)
    response = customers(sandbox, auth)
    assert response.status_code == 200
    assert response.history == []  # no 401 round trip
    assert sandbox.refreshes("teamup") == 1
    assert sandbox.logins("teamup") == 1
    assert auth.token.refresh_token != first.refresh_token  # the rotated one is kept


def test_a_token_within_the_leeway_is_refreshed_before_sending(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    assert customers(sandbox, auth).status_code == 200
    first = auth.token
    age_to_renewal(sandbox, auth)  # still good on the server: only a renewal by the clock shows
    response = customers(sandbox, auth)
    assert response.status_code == 200
    assert response.history == []  # renewed before sending, not after a 401
    assert sandbox.refreshes("teamup") == 1
    assert sandbox.logins("teamup") == 1
    assert auth.token.access_token != first.access_token
    assert auth.token.refresh_token != first.refresh_token  # the rotated one is kept
    assert not auth.token.is_expired(auth.leeway)


def test_one_password_login_for_a_long_run_of_refreshes(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()
    auth.get_token()  # logged in before: every call below carries a token
    session = session_with(auth)
    refresh_tokens = [auth.token.refresh_token]
    for done in range(6):
        response = session.get(sandbox.teamup_url + "/customers")
        assert response.status_code == 200
        assert response.history == []
        assert sandbox.refreshes("teamup") == done  # one refresh per due token, none more
        if done:
            refresh_tokens.append(auth.token.refresh_token)
        age_to_renewal(sandbox, auth)
    assert sandbox.logins("teamup") == 1
    assert sandbox.refreshes("teamup") == 5
    assert len(set(refresh_tokens)) == 6  # each refresh used the newest refresh token


def test_rotated_refresh_token_is_stored_and_the_old_one_is_dead(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    customers(sandbox, auth)
    old_refresh = auth.token.refresh_token
    age_to_renewal(sandbox, auth)
    assert customers(sandbox, auth).status_code == 200
    assert sandbox.refreshes("teamup") == 1
    assert auth.token.refresh_token not in (None, old_refresh)
    stored = auth.token_store.load(auth.key)
    assert stored is not None
    assert stored.refresh_token == auth.token.refresh_token
    replay = requests.post(
        sandbox.teamup_url + "/auth/refresh_access_token", json={"refresh_token": old_refresh}
    )
    assert replay.status_code == 401


def test_failed_refresh_falls_back_to_one_password_login(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    customers(sandbox, auth)
    sandbox.revoke_tokens("teamup")  # kills the refresh token too
    age_to_renewal(sandbox, auth)
    response = customers(sandbox, auth)
    assert response.status_code == 200
    assert response.history == []  # the refresh, then the login, before sending
    refresh_calls = [r for r in sandbox.received if "/auth/refresh_access_token" in r.path]
    assert len(refresh_calls) == 1  # the refresh token was tried once, and refused
    assert sandbox.refreshes("teamup") == 0
    assert sandbox.logins("teamup") == 2


def test_rejected_token_tries_the_refresh_token_before_the_password(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    auth = teamup_auth()
    customers(sandbox, auth)
    sandbox.expire_tokens("teamup")  # access tokens only; the refresh token still works
    response = customers(sandbox, auth)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert sandbox.refreshes("teamup") == 1
    assert sandbox.logins("teamup") == 1


def test_null_expires_in_means_no_known_expiry(sandbox: Sandbox, teamup_auth: Any) -> None:
    sandbox.teamup.config.expires_in = None
    auth = teamup_auth()
    customers(sandbox, auth)
    assert auth.token.expires_at is None
    assert not auth.token.is_expired(leeway=10**9)
    sandbox.revoke_tokens("teamup")
    response = customers(sandbox, auth)  # relies on the 401
    assert response.status_code == 200
    assert sandbox.logins("teamup") == 2


# -- two-factor ----------------------------------------------------------------------


def two_factor_auth(teamup_auth: Any, **kwargs: Any) -> TeamUpAuth:
    auth: TeamUpAuth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME, password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD, **kwargs
    )
    return auth


def test_two_factor_flow_from_a_program(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = two_factor_auth(teamup_auth)
    with pytest.raises(TwoFactorRequired) as caught:
        customers(sandbox, auth)
    pending = caught.value
    assert pending.pending_login_id
    assert pending.providers == [7]
    assert "verify_two_factor" in str(pending)
    assert "TEAMUP_VERIFICATION_KEY" in str(pending)

    auth.start_two_factor(
        DEMO_TEAMUP_TWO_FACTOR_PHONE, pending.providers[0], pending.pending_login_id
    )
    key = auth.verify_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)
    assert 0 < len(key) <= 32

    assert customers(sandbox, auth).status_code == 200
    assert sandbox.logins("teamup") == 1


def test_verification_key_argument_finishes_a_login(sandbox: Sandbox, teamup_auth: Any) -> None:
    helper = two_factor_auth(teamup_auth)
    with pytest.raises(TwoFactorRequired) as caught:
        helper.get_token()
    helper.start_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, 7, caught.value.pending_login_id)
    key = helper.verify_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)

    auth = two_factor_auth(teamup_auth, verification_key=key)
    assert customers(sandbox, auth).status_code == 200


def test_two_factor_handler_runs_the_steps(sandbox: Sandbox, teamup_auth: Any) -> None:
    seen: list[TwoFactorRequired] = []

    def handler(auth: TeamUpAuth, error: TwoFactorRequired) -> bool:
        seen.append(error)
        auth.start_two_factor(
            DEMO_TEAMUP_TWO_FACTOR_PHONE, error.providers[0], error.pending_login_id
        )
        auth.verify_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)
        return True

    auth = two_factor_auth(teamup_auth, two_factor_handler=handler)
    assert customers(sandbox, auth).status_code == 200
    assert len(seen) == 1


def test_wrong_sms_code_is_a_clear_error(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = two_factor_auth(teamup_auth)
    with pytest.raises(TwoFactorRequired) as caught:
        auth.get_token()
    auth.start_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, 7, caught.value.pending_login_id)
    with pytest.raises(LoginError, match="verification_code"):
        auth.verify_two_factor(DEMO_TEAMUP_TWO_FACTOR_PHONE, "000000")


# -- headers ---------------------------------------------------------------------------


def test_headers_exactly_as_documented(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_MULTI_USERNAME,
        password=DEMO_TEAMUP_MULTI_PASSWORD,
        provider_id=2,
        request_mode="Provider",
        scheme="token",
    )
    headers = requests.get(sandbox.teamup_url + "/echo", auth=auth).json()["headers"]
    assert headers["Authorization"] == f"Token {auth.token.access_token}"
    assert headers["TeamUp-Provider-ID"] == "2"
    assert headers["TeamUp-Request-Mode"] == "provider"


def test_default_headers_are_bearer_only(sandbox: Sandbox, teamup_auth: Any) -> None:
    headers = requests.get(sandbox.teamup_url + "/echo", auth=teamup_auth()).json()["headers"]
    assert headers["Authorization"].startswith("Bearer ")
    assert "TeamUp-Provider-ID" not in headers
    assert "TeamUp-Request-Mode" not in headers


def test_provider_header_is_what_a_multi_provider_user_needs(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    settings = {"username": DEMO_TEAMUP_MULTI_USERNAME, "password": DEMO_TEAMUP_MULTI_PASSWORD}
    assert customers(sandbox, teamup_auth(**settings)).status_code == 400
    assert customers(sandbox, teamup_auth(**settings, provider_id="1")).status_code == 200


def test_request_mode_asks_refresh_for_that_token_type(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(request_mode="customer")
    customers(sandbox, auth)
    sandbox.expire_tokens("teamup")
    echoed = requests.get(sandbox.teamup_url + "/echo", auth=auth).json()
    assert sandbox.refreshes("teamup") == 1
    assert echoed["token_type"] == "customer"


def test_header_settings_from_the_environment(
    sandbox: Sandbox, teamup_auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_PROVIDER_ID", "1")
    monkeypatch.setenv("TEAMUP_REQUEST_MODE", "customer")
    monkeypatch.setenv("TEAMUP_AUTH_SCHEME", "Token")
    headers = requests.get(sandbox.teamup_url + "/echo", auth=teamup_auth()).json()["headers"]
    assert headers["Authorization"].startswith("Token ")
    assert headers["TeamUp-Provider-ID"] == "1"
    assert headers["TeamUp-Request-Mode"] == "customer"


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("request_mode", "admin", "customer, provider"),
        ("scheme", "Basic", "Bearer, Token"),
        ("provider_id", "acme", "provider_id"),
    ],
)
def test_unknown_header_values_are_config_errors(setting: str, value: str, named: str) -> None:
    settings: dict[str, Any] = {setting: value}
    with pytest.raises(ConfigError, match=named):
        TeamUpAuth("a", "b", direct_auth_key="k", **settings)


def test_unknown_value_from_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMUP_REQUEST_MODE", "admin")
    with pytest.raises(ConfigError, match="TEAMUP_REQUEST_MODE"):
        TeamUpAuth("a", "b", direct_auth_key="k")


# -- errors ----------------------------------------------------------------------------


def test_field_errors_become_the_message(sandbox: Sandbox, teamup_auth: Any) -> None:
    body = (
        b'{"code": "invalid", "message": "Invalid input.", "type": "invalid_request_error", '
        b'"field_errors": {"username": ["Enter a valid email address."], '
        b'"non_field_errors": ["Try again."]}}'
    )
    sandbox.script_login("teamup", 400, body, JSON)
    with pytest.raises(LoginError) as caught:
        customers(sandbox, teamup_auth())
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "[invalid]" in message
    assert "username: Enter a valid email address." in message
    assert "non_field_errors: Try again." in message


def test_wrong_direct_auth_key_is_invalid_credentials(sandbox: Sandbox, teamup_auth: Any) -> None:
    with pytest.raises(InvalidCredentials) as caught:
        customers(sandbox, teamup_auth(direct_auth_key="not-the-key"))
    assert caught.value.status == 403
    assert "not-the-key" not in str(caught.value)


def test_wrong_password_is_invalid_credentials(sandbox: Sandbox, teamup_auth: Any) -> None:
    with pytest.raises(InvalidCredentials) as caught:
        customers(sandbox, teamup_auth(password="nope-nope"))
    assert caught.value.code == "authentication_failed"
    assert "nope-nope" not in str(caught.value)


def test_rate_limited_login_says_when_to_retry(sandbox: Sandbox, teamup_auth: Any) -> None:
    # The first call goes out without a token, then the login: two calls from this client.
    sandbox.teamup.config.rate_limit_per_minute = 2
    customers(sandbox, teamup_auth())
    with pytest.raises(RateLimited) as caught:
        teamup_auth(username="bob@example.com", password="bob-password").get_token()
    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 60
    assert "Retry after" in str(caught.value)


def test_server_error_names_the_status(sandbox: Sandbox, teamup_auth: Any) -> None:
    sandbox.script_login("teamup", 503, b"", {"Content-Type": "text/plain"})
    with pytest.raises(LoginError, match="HTTP 503"):
        teamup_auth().get_token()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (502, "text/html", b"<html><body>Bad gateway</body></html>", "text/html"),
        (200, "application/xml", b"<root><access_token>x</access_token></root>", "application/xml"),
        (200, "application/json", b"", "empty body"),
        (200, "application/json", b'{"expires_in": 3600}', "access_token"),
        (200, "application/json", b'{"access_token": 12}', "access_token"),
    ],
)
def test_undocumented_answers_are_login_errors(
    sandbox: Sandbox, teamup_auth: Any, status: int, content_type: str, body: bytes, expected: str
) -> None:
    sandbox.script_login("teamup", status, body, {"Content-Type": content_type})
    with pytest.raises(LoginError) as caught:
        teamup_auth().get_token()
    assert f"HTTP {status}" in str(caught.value)
    assert expected in str(caught.value)
